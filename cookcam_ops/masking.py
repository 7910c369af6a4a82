"""Masking a host's .env values out of the output of the steps run there.

A step's output (npm, a build, the app starting) may print an environment value; it reaches
the run log, -v and the failure details only through a Masker built from that host's .env, so
no later code can leak it by accident. The values live in memory only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
MIN_MASKED = 6  # shorter values are too common in ordinary text to be worth hiding
# Settings that are not secret and would otherwise hide ordinary words ("production").
PUBLIC_NAMES = frozenset({"NODE_ENV", "PORT", "HOST", "LOG_LEVEL", "SENTRY_ENVIRONMENT", "TZ"})


class Masker:
    """Replaces every known secret value in a text by ***."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        kept = sorted({v for v in values if len(v) >= MIN_MASKED}, key=len, reverse=True)
        self._re = re.compile("|".join(map(re.escape, kept))) if kept else None
        self.count = len(kept)

    def __repr__(self) -> str:  # never the values
        return f"Masker({self.count} values)"

    @classmethod
    def from_dotenv(cls, data: bytes | None) -> Masker:
        """A masker for the values of a .env file, as Node's dotenv reads them."""
        if not data:
            return cls()
        from cookcam_ops.envfile.dotenv_parser import parse_dotenv

        parsed = parse_dotenv(data.decode("utf-8", errors="replace"))
        # a multi-line value (a PEM key, say) is masked line by line too: output is read so
        return cls(
            part
            for k, v in parsed.values.items()
            if k not in PUBLIC_NAMES
            for part in (v, *v.splitlines())
        )

    def mask(self, text: str) -> str:
        return self._re.sub(MASK, text) if self._re is not None and text else text
