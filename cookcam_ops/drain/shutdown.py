"""Did every old worker drain? The seed's four shutdown lines, per worker, in order, in time.

Lines come from PM2's log bus, attributed by pm_id (a reload's outgoing worker is `_old_N`).
PM2 also writes them to the worker's log file, but asynchronously from inside the worker, so
a worker that calls process.exit() right after logging loses its last lines from the file; the
bus gets them over IPC. Files are the fallback when the bus gave nothing, and a line the file
lacks is counted (`file_lost`) so the report can say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cookcam_ops.drain.watcher import LogLine, WatchResult, Worker
from cookcam_ops.pm2.daemonlog import EXIT_RE, STILL_ALIVE_RE

STEPS = (
    "received, starting graceful shutdown",
    "HTTP server closed - no longer accepting connections",
    "Closing WebSocket connections...",
    "Graceful shutdown complete",
)
STEP_LABELS = (
    "<SIG> received, starting graceful shutdown...",
    "HTTP server closed - no longer accepting connections",
    "Closing WebSocket connections...",
    "✅ Graceful shutdown complete",
)
_RECEIVED_RE = re.compile(r"\b(SIG[A-Z0-9]+) received, starting graceful shutdown")
EARLY_SLACK_MS = 50


def step_of(text: str) -> int | None:
    """Which of the four shutdown lines this is (0-3), or None."""
    for i, marker in enumerate(STEPS):
        if marker in text:
            return i
    return None


@dataclass(frozen=True)
class WorkerShutdown:
    """One old worker's shutdown as the logs show it."""

    pid: int
    pm_id: int | None
    kill_timeout_ms: int
    steps: list[int] = field(default_factory=list)
    signal_seen: str | None = None
    completed_ms: int | None = None
    exited: bool = False
    sigkilled: bool = False
    exit_code: str | None = None
    exit_signal: str | None = None
    source: str = "none"
    file_lost: int = 0

    @property
    def missing(self) -> list[str]:
        return [STEP_LABELS[i] for i in range(len(STEPS)) if i not in self.steps]

    @property
    def in_order(self) -> bool:
        return self.steps == [0, 1, 2, 3]

    @property
    def misordered(self) -> bool:
        return not self.missing and not self.in_order

    @property
    def killed(self) -> bool:
        """Cut short: SIGKILLed, or gone without logging that the shutdown completed."""
        return self.sigkilled or (self.exited and 3 not in self.steps)

    @property
    def in_time(self) -> bool:
        return self.completed_ms is not None and self.completed_ms <= self.kill_timeout_ms

    @property
    def ok(self) -> bool:
        return self.in_order and not self.killed and self.in_time

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "pm_id": self.pm_id,
            "lines_in_order": self.in_order,
            "missing": self.missing,
            "signal": self.signal_seen,
            "completed_ms": self.completed_ms,
            "kill_timeout_ms": self.kill_timeout_ms,
            "killed": self.killed,
            "sigkilled": self.sigkilled,
            "exit_code": self.exit_code,
            "exit_signal": self.exit_signal,
            "source": self.source,
            "file_lost": self.file_lost,
        }


def _bus_key(pm_id: str | None) -> str | None:
    return None if pm_id is None else pm_id.removeprefix("_old_")


def _steps(lines: list[LogLine]) -> list[tuple[int, LogLine]]:
    ordered = sorted(lines, key=lambda ln: ln.t_ms)
    return [(s, ln) for ln in ordered if (s := step_of(ln.text)) is not None]


def _exit_info(worker: Worker, daemon: list[LogLine]) -> tuple[str | None, str | None, bool]:
    code = signal = None
    sigkilled = False
    for line in daemon:
        if (
            (m := EXIT_RE.search(line.text))
            and worker.pm_id is not None
            and int(m.group("pm_id")) == worker.pm_id
            and code is None
        ):
            code, signal = m.group("code"), m.group("signal")
        if (k := STILL_ALIVE_RE.search(line.text)) and int(k.group("pid")) == worker.pid:
            sigkilled = True
        if "SIGKILL" in line.text and str(worker.pid) in line.text:
            sigkilled = True
    return code, signal, sigkilled


def analyze_worker(worker: Worker, watch: WatchResult, use_bus: bool) -> WorkerShutdown:
    """One old worker's shutdown from the watcher's lines."""
    since = watch.trigger_start_ms - EARLY_SLACK_MS
    recent = [ln for ln in watch.lines if ln.t_ms >= since]
    key = None if worker.pm_id is None else str(worker.pm_id)
    bus = [ln for ln in recent if ln.source == "bus" and _bus_key(ln.pm_id) == key]
    files = [ln for ln in recent if ln.source == "file" and ln.file == worker.out_log]
    chosen = bus if use_bus else files
    steps = _steps(chosen)
    order = [s for s, _ in steps]
    by_step = {s: ln.t_ms for s, ln in reversed(steps)}  # first occurrence of each step
    received = next((ln for s, ln in steps if s == 0), None)
    seen = _RECEIVED_RE.search(received.text) if received else None
    done_ms = (by_step[3] - by_step[0]) if 0 in by_step and 3 in by_step else None
    code, signal, sigkilled = _exit_info(worker, [ln for ln in recent if ln.source == "daemon"])
    file_steps = {s for s, _ in _steps(files)}
    return WorkerShutdown(
        pid=worker.pid,
        pm_id=worker.pm_id,
        kill_timeout_ms=worker.kill_timeout_ms,
        steps=order,
        signal_seen=seen.group(1) if seen else None,
        completed_ms=done_ms,
        exited=worker.pid in watch.exits,
        sigkilled=sigkilled,
        exit_code=code,
        exit_signal=signal,
        source=("bus" if use_bus else "file") if chosen else "none",
        file_lost=len({s for s in order} - file_steps) if use_bus else 0,
    )


def analyze(watch: WatchResult) -> list[WorkerShutdown]:
    """Every old worker's shutdown (bus lines when the bus said anything, else the files)."""
    use_bus = any(ln.source == "bus" for ln in watch.lines)
    return [analyze_worker(w, watch, use_bus) for w in watch.before]
