"""PM2 processes as `pm2 jlist` describes them, reduced to fields that hold no secret.

The host-side filter (composite.PM2_FILTER_JS) already drops `pm2_env.env`; the parser here
takes only the fields it knows as well, so nothing else can slip into a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_KILL_TIMEOUT_MS = 1600  # PM2's default when the ecosystem file sets none
DEFAULT_LISTEN_TIMEOUT_MS = 3000  # PM2's wait for `ready` (wait_ready) when none is set


@dataclass(frozen=True)
class Pm2Process:
    """One PM2 process (a cluster worker or a fork-mode process)."""

    name: str
    pm_id: int | None
    pid: int | None
    status: str
    exec_mode: str
    instances: int | str | None
    restarts: int
    unstable_restarts: int
    uptime_s: float | None
    memory_bytes: int | None
    cpu: float | None
    pm_cwd: str | None
    kill_timeout_ms: int
    wait_ready: bool
    out_log: str | None
    err_log: str | None
    cwd: str | None = None  # /proc/PID/cwd resolved: the directory the worker really runs in
    release: str | None = None  # strategy: releases: the release that directory belongs to
    listen_timeout_ms: int = DEFAULT_LISTEN_TIMEOUT_MS
    exec_path: str | None = None  # pm_exec_path: the script PM2 starts

    @property
    def online(self) -> bool:
        return self.status == "online"

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields status reports (log paths and timeouts stay internal)."""
        return {
            "name": self.name,
            "pm_id": self.pm_id,
            "pid": self.pid,
            "status": self.status,
            "exec_mode": self.exec_mode,
            "instances": self.instances,
            "restarts": self.restarts,
            "unstable_restarts": self.unstable_restarts,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
            "memory_bytes": self.memory_bytes,
            "cpu": self.cpu,
            "pm_cwd": self.pm_cwd,
            "cwd": self.cwd,
            "release": self.release,
        }


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _exec_mode(value: object) -> str:
    mode = _str(value) or "unknown"
    return mode.removesuffix("_mode")  # PM2 says "cluster_mode" / "fork_mode"


def parse_process(doc: dict[str, Any], now_ms: int | None) -> Pm2Process:
    """One whitelisted jlist entry."""
    started = _int(doc.get("pm_uptime"))
    uptime = (now_ms - started) / 1000 if now_ms is not None and started else None
    instances = doc.get("instances")
    cpu = doc.get("cpu")
    return Pm2Process(
        name=_str(doc.get("name")) or "?",
        pm_id=_int(doc.get("pm_id")),
        pid=_int(doc.get("pid")) or None,
        status=_str(doc.get("status")) or "unknown",
        exec_mode=_exec_mode(doc.get("exec_mode")),
        instances=instances if isinstance(instances, int | str) else None,
        restarts=_int(doc.get("restart_time")) or 0,
        unstable_restarts=_int(doc.get("unstable_restarts")) or 0,
        uptime_s=max(0.0, uptime) if uptime is not None else None,
        memory_bytes=_int(doc.get("memory")),
        cpu=float(cpu) if isinstance(cpu, int | float) and not isinstance(cpu, bool) else None,
        pm_cwd=_str(doc.get("pm_cwd")),
        kill_timeout_ms=_int(doc.get("kill_timeout")) or DEFAULT_KILL_TIMEOUT_MS,
        wait_ready=doc.get("wait_ready") is True,
        out_log=_str(doc.get("pm_out_log_path")),
        err_log=_str(doc.get("pm_err_log_path")),
        cwd=_str(doc.get("cwd")),
        listen_timeout_ms=_int(doc.get("listen_timeout")) or DEFAULT_LISTEN_TIMEOUT_MS,
        exec_path=_str(doc.get("pm_exec_path")),
    )


def parse_jlist(doc: object) -> tuple[list[Pm2Process], str | None]:
    """The filter's document -> (processes, error). A non-dict or error doc yields the error."""
    if not isinstance(doc, dict):
        return [], "pm2 jlist gave no answer"
    if isinstance(doc.get("error"), str):
        return [], str(doc["error"])
    raw = doc.get("processes")
    if not isinstance(raw, list):
        return [], "pm2 jlist gave no process list"
    now = _int(doc.get("now"))
    return [parse_process(p, now) for p in raw if isinstance(p, dict)], None


def of_app(processes: list[Pm2Process], name: str) -> list[Pm2Process]:
    """The processes that belong to the app."""
    return [p for p in processes if p.name == name]
