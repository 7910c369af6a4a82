"""Code that runs on the hosts, kept as readable files beside this module (package data).

Every JavaScript program cookcam-ops sends to a host, and every shell program with a loop or
more logic than one command line, lives here as `NAME.js` or `NAME.sh`; Python only composes
single command lines around them. A program is read once per process by `script(NAME)` and sent
as the argument of `node -e` or `sh -c` (`node_program(NAME)`, `sh_program(NAME)` in
remote/protocol.py, through `q()`); values reach it only as quoted arguments after that (argv)
or through the environment, never by substitution into its text. Each file says at its top how
it is called and what it prints. tests/unit/test_hostside.py checks every file (`node --check`;
`sh -n` and shellcheck) and runs each program, the JavaScript against a stand-in `pm2`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

HOSTSIDE_DIR = Path(__file__).resolve().parent


@cache
def script(name: str) -> str:
    """The text of a host-side file, e.g. script("error_log_lines.sh")."""
    return (HOSTSIDE_DIR / name).read_text(encoding="utf-8")
