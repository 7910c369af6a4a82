"""PM2's own log ($PM2_HOME/pm2.log): the lines that say it SIGKILLed a process, and how to
read the part of the log a command wrote.

PM2 stops a process with its kill signal and, when the process is still alive after
kill_timeout, writes `Process with pid N still alive after Mms, sending SIGKILL ...` and then
`App [NAME:ID] exited with code [C] via signal [SIGKILL]` (ID is `_old_N` for a worker a reload
replaced). Only such lines leave the host: names, pids and numbers, never app output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cookcam_ops.remote.composite import PM2_HOME

EXIT_RE = re.compile(
    r"App \[(?P<name>[^\]]*?):(?:_old_)?(?P<pm_id>\d+)\] exited with code "
    r"\[(?P<code>[^\]]*)\] via signal \[(?P<signal>[^\]]*)\]"
)
STILL_ALIVE_RE = re.compile(r"pid (?P<pid>\d+) still alive after (?P<ms>\d+)ms, sending SIGKILL")
KEPT_LINES = 50
READ_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Sigkill:
    """One process of the app PM2 SIGKILLed because it outlived kill_timeout."""

    pm_id: int
    after_ms: int | None  # the kill_timeout it outlived, when the log says

    def describe(self) -> str:
        after = f" after {self.after_ms} ms" if self.after_ms is not None else ""
        return f"worker {self.pm_id}{after}"


def sigkills(text: str, app_name: str) -> list[Sigkill]:
    """The app's processes PM2 SIGKILLed, from lines of its log, in order.

    A `still alive` line names a pid, not the app; PM2 writes one before each SIGKILL exit, so
    they pair in order (the first wait with the first SIGKILL exit after it).
    """
    out = []
    waits: list[int] = []
    for line in text.splitlines():
        if alive := STILL_ALIVE_RE.search(line):
            waits.append(int(alive.group("ms")))
        elif (m := EXIT_RE.search(line)) and m.group("signal") == "SIGKILL":
            waited = waits.pop(0) if waits else None
            if m.group("name") == app_name:
                out.append(Sigkill(int(m.group("pm_id")), waited))
    return out


def log_size_command() -> str:
    """Print `@@pm2log=BYTES`: where the daemon's log ends now (0 when it has none)."""
    return f'echo "@@pm2log=$(stat -c %s {PM2_HOME}/pm2.log 2>/dev/null || echo 0)"'


def sigkill_lines_command(offset: int) -> str:
    """The SIGKILL lines PM2 wrote to its log after byte offset (the whole log if it rotated)."""
    log = f"{PM2_HOME}/pm2.log"
    return (
        f'f={log}; [ -f "$f" ] || exit 0; o={max(0, int(offset))}; '
        '[ "$(stat -c %s "$f")" -ge "$o" ] || o=0; '
        f'tail -c +$((o + 1)) "$f" | head -c {READ_BYTES} | '
        "grep -E 'still alive after [0-9]+ms, sending SIGKILL|via signal \\[SIGKILL\\]' | "
        f"tail -n {KEPT_LINES}; exit 0"
    )
