"""The one SSH round trip a sample makes to each host: the app's PM2 workers and the lines PM2's
error logs gained since the last look.

The workers come through the whitelisted `pm2 jlist` filter (`remote.composite.pm2_jlist`), so
`pm2_env.env` (the app's secrets) never leaves the host; the log lines are counted on the host
by `hostside/error_log_lines.sh`, the only other host-side script of a sample. `Pm2Sample` is a
command() and a process(output): testable without a host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cookcam_ops.hostside import script
from cookcam_ops.limits import ERROR_LOG_READ_CAP, ERROR_LOGS_CAP
from cookcam_ops.remote import composite
from cookcam_ops.remote.protocol import q

SIZE_ONLY = -1


@dataclass(frozen=True)
class Worker:
    """One PM2 process of the app, as the filter lets it out."""

    pm_id: str
    pid: int | None
    status: str
    restarts: int | None
    memory: int | None  # bytes (PM2's monit.memory, the RSS)
    err_log: str | None


@dataclass(frozen=True)
class Pm2Look:
    """The app's workers at one look, and each error log's (size, lines gained)."""

    workers: tuple[Worker, ...] = ()
    logs: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    error: str | None = None  # PM2 could not be asked (its daemon is down, say)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _log_path(value: Any) -> str | None:
    ok = (
        isinstance(value, str)
        and value.startswith("/")
        and value.isprintable()
        and len(value) < 1024
    )
    return value if ok else None


def workers_of(doc: Any, app_name: str) -> tuple[Worker, ...]:
    """The app's workers from the filter's JSON (other apps and odd entries left out)."""
    procs = doc.get("processes") if isinstance(doc, dict) else None
    out = []
    for p in procs if isinstance(procs, list) else []:
        if not isinstance(p, dict) or p.get("name") != app_name:
            continue
        out.append(
            Worker(
                pm_id=str(p.get("pm_id")),
                pid=_int(p.get("pid")),
                status=str(p.get("status") or "unknown"),
                restarts=_int(p.get("restart_time")),
                memory=_int(p.get("memory")),
                err_log=_log_path(p.get("pm_err_log_path")),
            )
        )
    return tuple(out)


def parse_logs(text: str) -> dict[str, tuple[int, int]]:
    """error_log_lines.sh's `SIZE LINES PATH` lines."""
    out: dict[str, tuple[int, int]] = {}
    for line in text.splitlines():
        size, _, rest = line.partition(" ")
        lines, _, path = rest.partition(" ")
        if size.isdigit() and lines.isdigit() and path:
            out[path] = (int(size), int(lines))
    return out


@dataclass(frozen=True)
class Pm2Sample:
    """One look: `pm2 jlist` (unless `jlist` is False) and the given logs from their offsets."""

    app_name: str
    offsets: Mapping[str, int] = field(default_factory=dict)  # SIZE_ONLY: measure, count none
    jlist: bool = True

    def command(self) -> str:
        pairs = [
            str(v) for path, off in list(self.offsets.items())[:ERROR_LOGS_CAP] for v in (path, off)
        ]
        counter = q(script("error_log_lines.sh"))
        logs = f"sh -c {counter} sh {ERROR_LOG_READ_CAP} {q(*pairs)}" if pairs else "true"
        sections = [("pm2", composite.pm2_jlist())] if self.jlist else []
        return composite.script([*sections, ("logs", logs)])

    def process(self, stdout: str) -> Pm2Look:
        sections = composite.parse(stdout)
        logs = sections.get("logs")
        counted = parse_logs(logs.text) if logs is not None else {}
        if not self.jlist:
            return Pm2Look(logs=counted)
        doc = composite.json_section(sections, "pm2")
        if not isinstance(doc, dict) or "error" in doc:
            why = doc.get("error") if isinstance(doc, dict) else "pm2 jlist: no answer"
            return Pm2Look(logs=counted, error=str(why)[:200])
        return Pm2Look(workers_of(doc, self.app_name), counted)
