"""Reading what deploy leaves beside the app: the lock and the audit log (JSON lines).

The layout is deploy's: `<app_path>.ops/lock/info.json` {owner, host, pid, command, time} and
`<app_path>.ops/history.jsonl`, one record per line {id, time, action, user, host, from_sha,
to_sha, outcome, duration_s, ref[, detail]}. Readers here are tolerant: an unreadable line is
skipped and counted, never fatal, and only the known fields are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cookcam_ops.errors import ExitCode, Unreachable
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import Connector, Target, reach, run_on_hosts
from cookcam_ops.remote.protocol import Transport, q
from cookcam_ops.report import Check, Status, checks_ok, hosts_exit_code, reachability

# Outcomes that leave a host serving the record's to_sha.
SUCCESS_OUTCOMES = frozenset({"deployed", "ok", "success", "succeeded"})
ROLLBACK_ACTIONS = frozenset({"rollback"})
HISTORY_TAIL_LINES = 2000


@dataclass(frozen=True)
class LockInfo:
    """Who holds the deploy lock on a host."""

    owner: str
    host: str
    pid: int | None
    command: str
    time: str
    id: str = ""  # the holding run's id (info.json's "id"), to tell two holders apart

    def describe(self) -> str:
        return f"{self.owner}@{self.host} (pid {self.pid}) since {self.time}: {self.command}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "host": self.host,
            "pid": self.pid,
            "command": self.command,
            "time": self.time,
        }


@dataclass(frozen=True)
class HistoryRecord:
    """One deploy or rollback as one host's audit log records it."""

    id: str
    time: str
    action: str
    user: str
    host: str
    from_sha: str | None
    to_sha: str | None
    outcome: str
    duration_s: float | None
    ref: str | None
    server: str = ""  # the host label whose log holds the record
    detail: str | None = None  # a canary's verdict: the metrics that failed, side by side

    @property
    def succeeded(self) -> bool:
        if self.outcome in SUCCESS_OUTCOMES:
            return True
        # A rollback's success is the rolled-back state itself.
        return self.action in ROLLBACK_ACTIONS and self.outcome == "rolled_back"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "action": self.action,
            "user": self.user,
            "host": self.host,
            "server": self.server,
            "from_sha": self.from_sha,
            "to_sha": self.to_sha,
            "outcome": self.outcome,
            "duration_s": self.duration_s,
            "ref": self.ref,
            "detail": self.detail,
        }


def _s(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    return str(value) if isinstance(value, str | int | float) and value is not None else ""


def _opt(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) and value else None


def parse_lock(text: str | None) -> LockInfo | None:
    """The lock file's content, or None when there is no lock (an unreadable one still counts)."""
    if text is None or not text.strip():
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return LockInfo("unknown", "unknown", None, "(unreadable lock file)", "unknown")
    if not isinstance(doc, dict):
        return LockInfo("unknown", "unknown", None, "(unreadable lock file)", "unknown")
    pid = doc.get("pid")
    return LockInfo(
        owner=_s(doc, "owner") or "unknown",
        host=_s(doc, "host") or "unknown",
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        command=_s(doc, "command"),
        time=_s(doc, "time") or "unknown",
        id=_s(doc, "id"),
    )


LOCK_HELD = "@@held"
LOCK_INFO_CAP = 4096  # bytes of info.json read; the claim itself is under 600


def lock_read_command(lock_dir: str) -> str:
    """Print a marker and info.json when the lock directory exists; nothing when it is free."""
    return (
        f"if [ -e {q(lock_dir)} ]; then echo {LOCK_HELD}; "
        f"head -c {LOCK_INFO_CAP} {q(lock_dir + '/info.json')} 2>/dev/null; fi"
    )


def parse_lock_read(text: str | None) -> LockInfo | None:
    """lock_read_command's output: None when free; a holder (maybe unknown) when held."""
    if text is None or LOCK_HELD not in text:
        return parse_lock(text) if text and text.strip().startswith("{") else None
    rest = text.split(LOCK_HELD, 1)[1]
    return parse_lock(rest) or LockInfo("unknown", "unknown", None, "(no info.json)", "unknown")


def parse_history(text: str, server: str = "") -> tuple[list[HistoryRecord], int]:
    """Records in file order, and how many lines could not be read."""
    records: list[HistoryRecord] = []
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if not isinstance(doc, dict) or not _s(doc, "time"):
            bad += 1
            continue
        duration = doc.get("duration_s")
        records.append(
            HistoryRecord(
                id=_s(doc, "id"),
                time=_s(doc, "time"),
                action=_s(doc, "action") or "?",
                user=_s(doc, "user") or "?",
                host=_s(doc, "host") or server,
                from_sha=_opt(doc, "from_sha"),
                to_sha=_opt(doc, "to_sha"),
                outcome=_s(doc, "outcome") or "?",
                duration_s=float(duration)
                if isinstance(duration, int | float) and not isinstance(duration, bool)
                else None,
                ref=_opt(doc, "ref"),
                server=server,
                detail=_opt(doc, "detail"),
            )
        )
    return records, bad


def _sort_key(record: HistoryRecord) -> float:
    try:
        return datetime.fromisoformat(record.time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def newest_first(records: list[HistoryRecord]) -> list[HistoryRecord]:
    """Records sorted newest first (unparseable times last), stable for equal times."""
    return sorted(records, key=_sort_key, reverse=True)


def serving_since(records: list[HistoryRecord], sha: str | None) -> HistoryRecord | None:
    """The newest successful record that put sha in place: when the host began serving it."""
    if not sha:
        return None
    for record in newest_first(records):
        to = record.to_sha
        if record.succeeded and to and len(to) >= 7 and (sha.startswith(to) or to.startswith(sha)):
            return record
    return None


@dataclass(frozen=True)
class HistoryReport:
    """The audit log merged across hosts, newest first."""

    environment: str
    records: list[HistoryRecord]
    checks: list[Check]
    unreachable: list[Unreachable] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return checks_ok(self.checks)

    @property
    def exit_code(self) -> ExitCode:
        """3 when a host's log could not be read because it was unreachable, else 0 or 1."""
        return hosts_exit_code(self.checks, self.unreachable)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "environment": self.environment,
            "records": [r.to_dict() for r in self.records],
            "checks": [c.to_dict() for c in self.checks],
            **reachability(self.unreachable, self.answered),
        }


def _read(transport: Transport, target: Target) -> tuple[list[HistoryRecord], int]:
    result = transport.run(
        composite.tail_if_exists(target.history_file, HISTORY_TAIL_LINES), timeout=30
    )
    return parse_history(result.stdout, server=target.label)


def read_history(
    environment: str,
    targets: list[Target],
    connector: Connector,
    limit: int,
    progress: Callable[[str], None] | None = None,
) -> HistoryReport:
    """Every host's audit log, merged newest first; unreachable hosts become failed checks."""
    outcomes = run_on_hosts(targets, connector, _read)
    records: list[HistoryRecord] = []
    checks: list[Check] = []
    for outcome in outcomes:
        label = outcome.target.label
        if outcome.value is None:
            checks.append(Check("history", Status.FAIL, outcome.error or "unreachable", label))
            continue
        found, bad = outcome.value
        records.extend(found)
        detail = f"{len(found)} records" + (f"; {bad} unreadable lines skipped" if bad else "")
        checks.append(Check("history", Status.WARN if bad else Status.PASS, detail, label))
        if progress:
            progress(f"{label}: {len(found)} history records")
    unreachable, answered = reach(outcomes)
    return HistoryReport(
        environment, _dedupe(newest_first(records))[:limit], checks, unreachable, answered
    )


def merge_key(record: HistoryRecord) -> tuple[str, str, str]:
    """The identity of a record across reads: the same run on the same host at the same time."""
    return (record.id, record.server, record.time)


def _dedupe(records: list[HistoryRecord]) -> list[HistoryRecord]:
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for r in records:
        key = merge_key(r)
        if r.id and key in seen:
            continue
        seen.add(key)
        kept.append(r)
    return kept
