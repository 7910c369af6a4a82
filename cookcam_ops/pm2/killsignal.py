"""The signal PM2 sends to stop a worker, against the signals the built app handles.

PM2 stops, restarts and reloads with SIGINT unless its daemon was started with PM2_KILL_SIGNAL;
an app that handles only SIGTERM is then killed without draining. Both halves are read on the
host: the daemon's environment (/proc/PID/environ, only that one variable is printed) and the
`process.on/once('SIG...')` calls in the built JavaScript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cookcam_ops.remote import composite
from cookcam_ops.remote.protocol import q

DEFAULT_SIGNAL = "SIGINT"
_HANDLER_RE = re.compile(
    r"process\s*\.\s*(?:on|once|addListener|prependListener)\s*\(\s*"
    r"['\"`](SIG[A-Z0-9]+)['\"`]"
)
_LINE_COMMENT_RE = re.compile(r"(?:^|\s)//.*$")
_SIGNAL_RE = re.compile(r"^SIG[A-Z0-9]+$")
NO_BUILD = "cookcam-ops: no build directory"


def pm2_signal_command() -> str:
    """Print `daemon VALUE` (from the running daemon's environment) or `shell VALUE`."""
    return (
        f'H={composite.PM2_HOME}; P=$(cat "$H/pm2.pid" 2>/dev/null); '
        'if [ -n "$P" ] && [ -r "/proc/$P/environ" ]; then '
        "printf 'daemon %s\\n' \"$(tr '\\0' '\\n' < \"/proc/$P/environ\" "
        "| sed -n 's/^PM2_KILL_SIGNAL=//p' | head -n 1)\"; "
        "else printf 'shell %s\\n' \"${PM2_KILL_SIGNAL:-}\"; fi"
    )


def handlers_command(app_path: str, build_dir: str = "dist") -> str:
    """Print the lines of the built JavaScript that register signal handlers."""
    d = f"{app_path.rstrip('/')}/{build_dir}"
    pattern = q("process[.](on|once|addListener|prependListener)")
    return (
        f"if [ -d {q(d)} ]; then grep -rhE {pattern} {q(d)} "
        "--include='*.js' --include='*.cjs' --include='*.mjs' 2>/dev/null "
        f"| grep -E 'SIG(INT|TERM|HUP|QUIT|USR2)' | head -n 50; "
        f"else echo {q(NO_BUILD)}; fi"
    )


@dataclass(frozen=True)
class PM2Signal:
    """The signal PM2 sends, and where that was read."""

    signal: str
    source: str  # "PM2 daemon's environment", "shell environment" or "PM2's default"


def parse_pm2_signal(text: str) -> PM2Signal:
    """The output of pm2_signal_command."""
    where, _, value = text.strip().partition(" ")
    value = value.strip()
    if value and _SIGNAL_RE.match(value):
        source = "PM2 daemon's environment" if where == "daemon" else "shell environment"
        return PM2Signal(value, f"PM2_KILL_SIGNAL in the {source}")
    if where == "daemon":
        return PM2Signal(DEFAULT_SIGNAL, "PM2's default; its daemon sets no PM2_KILL_SIGNAL")
    return PM2Signal(DEFAULT_SIGNAL, "PM2's default")


def parse_handlers(text: str) -> set[str] | None:
    """Signals the built code registers handlers for; None when there is no build."""
    if NO_BUILD in text:
        return None
    found: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(("//", "*", "/*")):
            continue
        found.update(_HANDLER_RE.findall(_LINE_COMMENT_RE.sub("", line)))
    return found


def fix_hint(signal: str) -> str:
    """The plain-words fix for a signal the app does not handle."""
    return (
        f"fix: handle {signal} as well as SIGTERM, or set PM2_KILL_SIGNAL=SIGTERM for the "
        "PM2 daemon"
    )


def mismatch(pm2: PM2Signal, handled: set[str] | None) -> str | None:
    """A plain-words explanation when PM2's signal has no handler in the app, else None."""
    if handled is None or pm2.signal in handled:
        return None
    if not handled:
        return (
            f"the built app registers no handler for {pm2.signal} (nor SIGTERM): PM2 sends "
            f"{pm2.signal} ({pm2.source}), so workers are killed without draining; "
            + fix_hint(pm2.signal)
        )
    others = " and ".join(sorted(handled))
    return (
        f"the app handles {others} but PM2 sends {pm2.signal} ({pm2.source}): workers are "
        f"killed without draining; " + fix_hint(pm2.signal)
    )
