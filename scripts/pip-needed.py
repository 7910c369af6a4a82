"""Exit 0 when `pip install -e '.[dev]'` is needed, 1 when it would change nothing.

Needed when cookcam-ops is not installed from this tree at the version in
cookcam_ops/__init__.py, or one of its requirements (the dev extra's included) is missing or at a
version its specifier refuses. The Makefile asks this first, so a `make test` with everything
in place runs no pip at all.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parents[1]


def source_version() -> str:
    text = (ROOT / "cookcam_ops" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    return found.group(1) if found else ""


def installed_from(dist: md.Distribution) -> Path | None:
    """The directory an editable install points at (PEP 610's direct_url.json), if any."""
    try:
        url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    except ValueError:
        return None
    parts = urlparse(url)
    return Path(unquote(parts.path)).resolve() if parts.scheme == "file" else None


def why_needed() -> str | None:
    try:
        from packaging.requirements import Requirement

        dist = md.distribution("cookcam-ops")
    except (ImportError, md.PackageNotFoundError):
        return "cookcam-ops is not installed"
    if dist.version != source_version():
        return f"cookcam-ops {dist.version} is installed, the tree is {source_version()}"
    if installed_from(dist) != ROOT:
        return "cookcam-ops is not installed (editable) from this tree"
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": "dev"}):
            continue
        try:
            have = md.version(req.name)
        except md.PackageNotFoundError:
            return f"{req.name} is missing"
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            return f"{req.name} {have} does not satisfy {req.specifier}"
    return None


if __name__ == "__main__":
    reason = why_needed()
    if reason:
        print(f"pip-needed: {reason}", file=sys.stderr)
    sys.exit(0 if reason else 1)
