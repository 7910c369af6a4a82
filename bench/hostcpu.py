"""CPU seconds a sandbox host's processes have used, read from /proc: its sshd (with every SSH
session it served, once reaped) and its PM2 daemon (with the app's workers).

A process tree's CPU is the sum, over its live processes, of their own time and the time of
the children each has reaped: an exited child's time moves into its parent's, so two readings
of the same tree differ by exactly what it used in between.
"""

from __future__ import annotations

import os
from pathlib import Path

from cookcam_ops.sandbox.layout import HostState

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def _table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, own + reaped children's CPU seconds), for every process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(errors="replace").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
        ticks = sum(int(v) for v in fields[11:15])
        out[int(entry.name)] = (int(fields[1]), ticks * TICK_S)
    return out


def tree_cpu_s(table: dict[int, tuple[int, float]], root: int) -> float:
    """CPU seconds of root and every live descendant (0 when root is gone)."""
    if root not in table:
        return 0.0
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += table[pid][1]
        todo.extend(children.get(pid, []))
    return total


def pm2_daemon(host: HostState) -> int | None:
    """The host's PM2 daemon pid (its pm2.pid file), if any."""
    try:
        return int((Path(host.pm2_home) / "pm2.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def hosts_cpu_s(hosts: list[HostState]) -> dict[str, float]:
    """Each host's CPU seconds so far: its sshd tree plus its PM2 daemon tree."""
    table = _table()
    out = {}
    for h in hosts:
        roots = [pid for pid in (h.sshd_pid, pm2_daemon(h)) if pid is not None]
        out[h.name] = sum(tree_cpu_s(table, pid) for pid in roots)
    return out
