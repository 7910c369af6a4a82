"""Processes and ports on this machine: start detached, check and stop by pid, never by name.

A pid is only signalled when /proc says its command line still holds a marker we chose when we
started it (a config path or a PM2 home), so a recycled pid is never hit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cookcam_ops.errors import SandboxError

LOOPBACK = "127.0.0.1"


def pick_free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """`count` distinct ports that are free on host right now (bound together, then released)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ssh_banner(port: int, host: str = LOOPBACK, timeout: float = 2.0) -> bool:
    """True when host:port answers with an SSH protocol banner."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def _reap(pid: int) -> None:
    # When the process is our own child (a test runs up and down in one process), collect it
    # so it does not linger as a zombie that still "exists".
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int) -> bool:
    """True when pid is a live process (zombies count as gone)."""
    if pid <= 0:
        return False
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[:1]
    return state not in (["Z"], ["X"])


def cmdline(pid: int) -> str:
    """The command line of pid, arguments joined by spaces ('' when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\x00", b" ").decode("utf-8", errors="replace").strip()


def owned_alive(pid: int | None, marker: str) -> bool:
    """True when pid is alive and its command line contains marker (so it is still ours)."""
    return pid is not None and pid_alive(pid) and marker in cmdline(pid)


def read_pid_file(path: Path) -> int | None:
    """The pid in a pid file, or None when the file is missing or unreadable."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def children_of(pid: int) -> list[int]:
    """Pids whose parent is pid (read from /proc)."""
    kids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            kids.append(int(entry.name))
    return kids


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll condition until it holds or timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass(frozen=True)
class StopResult:
    """How one pid was stopped: `term`, `kill`, `gone` (already), or `skipped` (not ours)."""

    pid: int
    how: str


def stop_pid(pid: int, marker: str, *, grace: float = 5.0) -> StopResult:
    """SIGTERM pid if it is still ours, wait up to grace, then SIGKILL; verify it is gone."""
    if not pid_alive(pid):
        return StopResult(pid, "gone")
    if marker not in cmdline(pid):
        return StopResult(pid, "skipped")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_until(lambda: not pid_alive(pid), grace, 0.05):
        return StopResult(pid, "term")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not wait_until(lambda: not pid_alive(pid), 5.0, 0.05):
        raise SandboxError(f"pid {pid} survived SIGKILL", hint="check `ps -p {pid}` by hand")
    return StopResult(pid, "kill")


def spawn_detached(
    argv: Sequence[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> int:
    """Start argv in the background, detached from us (reparented to init), output to log.

    A short-lived `sh` starts the program with `&` and exits, so the program is nobody's
    zombie when it later stops, and Ctrl-C on our terminal does not reach it.
    """
    script = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'
    done = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(log), *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
        timeout=30,
    )
    pid = done.stdout.strip()
    if done.returncode != 0 or not pid.isdigit():
        raise SandboxError(
            f"could not start {Path(argv[0]).name}", hint=f"see {log}: {done.stderr.strip()[:200]}"
        )
    return int(pid)


def tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, joined with ' | ' for a one-line error."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())
