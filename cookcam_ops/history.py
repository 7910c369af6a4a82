"""Reading the audit log deploy leaves beside the app (JSON lines; the lock: layout/lock.py).

The layout is deploy's: `<state dir>/history.jsonl`, one record per line {id, time, action,
user, host, from_sha, to_sha, outcome, duration_s, ref[, detail]}. Readers here are tolerant:
an unreadable line is skipped and counted, never fatal, and only the known fields are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cookcam_ops.common import text_field
from cookcam_ops.errors import Unreachable
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import Connector, Target, reach, run_on_hosts
from cookcam_ops.remote.protocol import Transport
from cookcam_ops.report import Check, HostsVerdict, Status, reachability

# Outcomes that leave a host serving the record's to_sha.
SUCCESS_OUTCOMES = frozenset({"deployed", "ok", "success", "succeeded"})
ROLLBACK_ACTIONS = frozenset({"rollback"})
HISTORY_TAIL_LINES = 2000


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


def _opt(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) and value else None


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
        if not isinstance(doc, dict) or not text_field(doc, "time"):
            bad += 1
            continue
        duration = doc.get("duration_s")
        records.append(
            HistoryRecord(
                id=text_field(doc, "id"),
                time=text_field(doc, "time"),
                action=text_field(doc, "action") or "?",
                user=text_field(doc, "user") or "?",
                host=text_field(doc, "host") or server,
                from_sha=_opt(doc, "from_sha"),
                to_sha=_opt(doc, "to_sha"),
                outcome=text_field(doc, "outcome") or "?",
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
class HistoryReport(HostsVerdict):
    """The audit log merged across hosts, newest first."""

    environment: str
    records: list[HistoryRecord]
    checks: list[Check]
    unreachable: list[Unreachable] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)

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
