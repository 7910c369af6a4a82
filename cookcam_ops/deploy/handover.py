"""Moving a running PM2 app to another directory with no failed request: the handover.

PM2 keeps the cwd and script path a process was started with, so `pm2 reload` cannot move an
app (a reload re-uses them). The handover starts the app again, from the new directory, under a
temporary name in the same PM2 daemon: the daemon is the cluster primary of every app it runs,
so both apps share the listening socket and the kernel keeps accepting. Once every new worker
said `ready` (wait_ready apps; else is online for a moment), the old app is deleted (PM2 stops
its workers gracefully), the app is started under its own name from the new directory, and the
temporary one is deleted. A failure before the old app is deleted changes nothing.

Used by migrate-to-releases (checkout -> APP/current), by `reload` under strategy: releases
when PM2 turns out to run workers outside the new release (an app started from a resolved path),
and by `reload` when the target's ecosystem file changes what `pm2 reload` cannot apply
(pm2/apply.py). With `replace` (fork mode on either side: a fork-mode process binds the port
itself, so old and new cannot listen together) the old app is deleted first and the new one
started after it: a gap, which the detail reports. The script prints one JSON line: {ok, detail,
stage}; names and counts only. Saving the process list is the caller's (deploy/persist.py).
The programs are hostside/handover.js and hostside/overlap.js.
"""

from __future__ import annotations

from cookcam_ops.layout.releases import HANDOVER_SUFFIX
from cookcam_ops.remote.protocol import node_program, q

STABLE_WINDOW_MS = 1000  # overlap: the new workers must look the same for this long

# The pm2 package directory from the pm2 on PATH (bin/pm2 -> <pkg>/bin/pm2).
PM2_PACKAGE = (
    'p=$(command -v pm2) && p=$(readlink -f "$p") && '
    'pkg=$(dirname "$(dirname "$p")") && [ -f "$pkg/package.json" ]'
)


def overlap(app_name: str, timeout: float) -> str:
    """Shell: replace every worker at once (new ones beside the old, then the old retired)."""
    ms = max(5000, round((timeout - 5) * 1000))
    return (
        f"{{ {PM2_PACKAGE} || {{ echo 'pm2 package not found from PATH'; false; }}; }} && "
        f'{node_program("overlap.js")} "$pkg" {q(app_name, ms, STABLE_WINDOW_MS)}'
    )


def handover(app_name: str, directory: str, timeout: float, *, replace: bool = False) -> str:
    """The shell command that starts app_name again from directory's ecosystem file (prints
    one JSON line): beside the old app first, or after it (replace: fork mode)."""
    ms = max(5000, round((timeout - 5) * 1000))
    mode = "replace" if replace else "overlap"
    return (
        f'{PM2_PACKAGE} || {{ echo \'{{"ok":false,"stage":"load","detail":'
        f'"pm2 package not found from PATH"}}\'; exit 0; }}; '
        f'{node_program("handover.js")} "$pkg" '
        f"{q(app_name, directory, ms, mode, HANDOVER_SUFFIX)}"
    )
