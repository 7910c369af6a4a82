"""The drain's remote half: one node process on the host that triggers the stop and watches it.

In one SSH round trip it reads the app's workers from `pm2 jlist` (whitelisted fields), the
signal PM2 sends (the daemon's PM2_KILL_SIGNAL) and the signal handlers in the built code; notes
the sizes of the workers' log files and PM2's daemon log; runs `pm2 reload|restart NAME` or
sends each worker that signal, one at a time; and, every 25 ms, stamps new log lines and notes
when each old pid is gone. Only lines that are shutdown markers (or PM2's exit and SIGKILL
notices) leave the host, so app logs, which may hold personal data, stay there. The program is
hostside/drain_watcher.js; this module builds its command and reads its JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cookcam_ops.remote.composite import last_json
from cookcam_ops.remote.protocol import node_program, q


@dataclass(frozen=True)
class Worker:
    """An app worker as the watcher saw it."""

    pm_id: int | None
    pid: int
    status: str
    kill_timeout_ms: int
    out_log: str | None
    err_log: str | None


@dataclass(frozen=True)
class LogLine:
    """A marker line, stamped with ms since the watcher started.

    source: "bus" (PM2's log bus, with the worker's pm_id), "file" (a worker's log file) or
    "daemon" (PM2's own log).
    """

    t_ms: int
    source: str
    text: str
    pm_id: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class WatchResult:
    """Everything the watcher reported."""

    error: str | None = None
    kill_signal: str = ""
    handler_lines: list[str] | None = None
    before: list[Worker] = field(default_factory=list)
    after: list[Worker] | None = None
    trigger_code: int | None = None
    trigger_output: str = ""
    trigger_start_ms: int = 0
    trigger_end_ms: int = 0
    sent: dict[int, int] = field(default_factory=dict)  # pid -> ms the signal was sent
    exits: dict[int, int] = field(default_factory=dict)  # pid -> ms it was seen gone
    lines: list[LogLine] = field(default_factory=list)


def watcher_command(
    app_name: str, app_path: str, via: str, deadline_ms: int, bus_wait_ms: int = 1200
) -> str:
    """The one remote command of a drain."""
    cfg = json.dumps(
        {
            "name": app_name,
            "app_path": app_path,
            "via": via,
            "deadline_ms": deadline_ms,
            "bus_wait_ms": bus_wait_ms,
        }
    )
    return f"cd {q(app_path)} && {node_program('drain_watcher.js')} {q(cfg)}"


def _worker(doc: dict[str, Any]) -> Worker | None:
    pid = doc.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return None
    kt = doc.get("kill_timeout")
    return Worker(
        pm_id=doc.get("pm_id") if isinstance(doc.get("pm_id"), int) else None,
        pid=pid,
        status=str(doc.get("status") or "unknown"),
        kill_timeout_ms=kt if isinstance(kt, int) and kt > 0 else 1600,
        out_log=doc.get("out") if isinstance(doc.get("out"), str) else None,
        err_log=doc.get("err") if isinstance(doc.get("err"), str) else None,
    )


def _workers(raw: object) -> list[Worker]:
    if not isinstance(raw, list):
        return []
    return [w for w in (_worker(d) for d in raw if isinstance(d, dict)) if w is not None]


def _pid_map(raw: object) -> dict[int, int]:
    if isinstance(raw, dict):
        return {int(k): int(v) for k, v in raw.items() if str(k).isdigit() and isinstance(v, int)}
    if isinstance(raw, list):
        return {
            int(d["pid"]): int(d["t"])
            for d in raw
            if isinstance(d, dict) and isinstance(d.get("pid"), int) and isinstance(d.get("t"), int)
        }
    return {}


def parse_watch(stdout: str) -> WatchResult:
    """The watcher's JSON (its last line)."""
    doc = last_json(stdout)
    if doc is None:
        return WatchResult(error="the watcher on the host printed no result")
    if isinstance(doc.get("error"), str):
        return WatchResult(error=doc["error"])
    raw_trig = doc.get("trigger")
    trig: dict[str, Any] = raw_trig if isinstance(raw_trig, dict) else {}
    handlers = doc.get("handlers")
    return WatchResult(
        kill_signal=str(doc.get("kill_signal") or ""),
        handler_lines=[str(h) for h in handlers] if isinstance(handlers, list) else None,
        before=_workers(doc.get("before")),
        after=_workers(doc.get("after")) if isinstance(doc.get("after"), list) else None,
        trigger_code=trig.get("code") if isinstance(trig.get("code"), int) else None,
        trigger_output=str(trig.get("out") or "")[-1000:],
        trigger_start_ms=int(trig.get("start_ms") or 0),
        trigger_end_ms=int(trig.get("end_ms") or 0),
        sent=_pid_map(doc.get("sent")),
        exits=_pid_map(doc.get("exits")),
        lines=[_line(d) for d in doc.get("lines") or [] if isinstance(d, dict)],
    )


def _line(d: dict[str, Any]) -> LogLine:
    t = d.get("t")
    return LogLine(
        t_ms=int(t) if isinstance(t, int | float) else 0,
        source=str(d.get("src") or "file"),
        text=str(d.get("text") or ""),
        pm_id=str(d["pm_id"]) if d.get("pm_id") is not None else None,
        file=str(d["file"]) if isinstance(d.get("file"), str) else None,
    )
