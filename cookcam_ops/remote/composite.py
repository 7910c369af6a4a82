"""Composite remote scripts: many read-only probes in one SSH round trip, as delimited sections.

Each section runs in its own subshell; its stdout lands between a begin and an end marker, and
the end marker carries its exit code. Values reach the script only through `q()`.

PM2's process lists go through hostside/pm2_jlist_filter.js on the host, which prints only
whitelisted fields: `pm2 jlist` carries the app's environment (secrets) in `pm2_env`, so that
object never leaves the host.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cookcam_ops.limits import HISTORY_CAP
from cookcam_ops.remote.protocol import node_program, q

_MARK = "@@cookcam-ops"
_END_RE = re.compile(rf"^{_MARK} end (?P<name>[\w.-]+) (?P<rc>-?\d+)@@$")
_BEGIN_RE = re.compile(rf"^{_MARK} begin (?P<name>[\w.-]+)@@$")

# The PM2 daemon's home, as pm2 itself resolves it.
PM2_HOME = '"${PM2_HOME:-$HOME/.pm2}"'


@dataclass(frozen=True)
class Section:
    """One section's output and exit code (None when its end marker never came)."""

    name: str
    text: str
    exit_code: int | None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def section(name: str, command: str) -> str:
    """A shell fragment that runs command in a subshell between markers."""
    begin = f"{_MARK} begin {name}@@"
    return (
        f"printf '\\n%s\\n' {q(begin)}; ( {command} ); "
        f"printf '\\n{_MARK} end %s %s@@\\n' {q(name)} \"$?\""
    )


def script(sections: list[tuple[str, str]]) -> str:
    """The whole composite script: each (name, command) as one section, in order."""
    return "; ".join(section(name, command) for name, command in sections)


def merged(*parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Several scripts' sections as one script's, in order: a section they share (the same
    name and command) runs once. One name for two different commands is a bug: ValueError."""
    seen: dict[str, str] = {}
    for part in parts:
        for name, command in part:
            if seen.setdefault(name, command) != command:
                raise ValueError(f"two different sections named {name}")
    return list(seen.items())


def parse(stdout: str) -> dict[str, Section]:
    """Split a composite script's stdout into its sections."""
    found: dict[str, Section] = {}
    current: str | None = None
    lines: list[str] = []
    for line in stdout.split("\n"):
        begin = _BEGIN_RE.match(line)
        end = _END_RE.match(line)
        if begin:
            current, lines = begin.group("name"), []
        elif end and current is not None and current == end.group("name"):
            found[current] = Section(current, _body(lines), int(end.group("rc")))
            current = None
        elif current is not None:
            lines.append(line)
    if current is not None:
        found[current] = Section(current, _body(lines), None)
    return found


def _body(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def json_section(sections: dict[str, Section], name: str) -> Any:
    """The last JSON object or array a section printed, or None."""
    sec = sections.get(name)
    return None if sec is None else _last_json(sec.text, (dict, list))


def last_json(text: str) -> dict[str, Any] | None:
    """The last line of text that parses as a JSON object (what a host-side script printed)."""
    doc: dict[str, Any] | None = _last_json(text, (dict,))
    return doc


def _last_json(text: str, kinds: tuple[type, ...]) -> Any:
    """The one last-JSON-line reader: the last line that parses as JSON of one of kinds."""
    for raw in reversed(text.strip().splitlines()):
        line = raw.strip()
        if line.startswith(("{", "[")):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, kinds):
                return doc
    return None


def if_pm2_daemon(then: str, otherwise: str) -> str:
    """Run `then` only when the PM2 daemon runs: any pm2 command would start one otherwise."""
    alive = (
        f'H={PM2_HOME}; P=$(cat "$H/pm2.pid" 2>/dev/null); [ -n "$P" ] && kill -0 "$P" 2>/dev/null'
    )
    return f"if {{ {alive}; }}; then {then}; else {otherwise}; fi"


def pm2_jlist() -> str:
    """Whitelisted `pm2 jlist`, without starting a daemon where none runs: asked of the daemon
    directly (hostside/pm2_list.js), else through the pm2 CLI."""
    listed = f"{{ {node_program('pm2_list.js')} || pm2 jlist; }} 2>/dev/null"
    return if_pm2_daemon(
        f"{listed} | {node_program('pm2_jlist_filter.js')}",
        'echo \'{"error":"the PM2 daemon is not running"}\'',
    )


def pm2_saved() -> str:
    """PM2's saved process list ($PM2_HOME/dump.pm2), whitelisted like `pm2 jlist`."""
    whitelist = node_program("pm2_jlist_filter.js")
    return (
        f'f={PM2_HOME}/dump.pm2; if [ -f "$f" ]; then {whitelist} saved < "$f"; '
        'else printf \'{"error":"no saved process list (%s)"}\\n\' "$f"; fi'
    )


def health(url: str) -> str:
    """GET url from the host with node (hostside/health_get.js: nothing but node is needed)."""
    return f"{node_program('health_get.js')} {q(url)}"


def tail_if_exists(path: str, lines: int) -> str:
    """Print a file's last lines if it exists, at most limits.HISTORY_CAP bytes of them."""
    return f"if [ -f {q(path)} ]; then tail -n {int(lines)} {q(path)} | tail -c {HISTORY_CAP}; fi"
