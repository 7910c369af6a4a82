"""Code that runs on the hosts, kept as readable files beside this module (package data).

Every JavaScript or shell program cookcam-ops sends to a host lives here as `NAME.js` or
`NAME.sh`, read once per process by `script(NAME)` and sent as an argument of `node -e` or
`sh -c` (always through `q()`); the unit suite checks each file (`node --check`, `sh -n`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

HOSTSIDE_DIR = Path(__file__).resolve().parent


@cache
def script(name: str) -> str:
    """The text of a host-side file, e.g. script("error_log_lines.sh")."""
    return (HOSTSIDE_DIR / name).read_text(encoding="utf-8")
