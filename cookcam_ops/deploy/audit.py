"""The audit log: JSON lines at `<app_path>.ops/history.jsonl`, one record per host per run.

A record is {id, time, action, user, host, from_sha, to_sha, outcome, duration_s, ref}, plus
`detail` where there is one to keep (a canary's verdict: action `canary`, outcome `promoted`,
`rolled_back`, `failed` or `interrupted`), appended with one small append write. Reading uses
cookcam_ops.history (shared with status and history). Here: building records, and finding the
release to roll back to.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from cookcam_ops.deploy.lock import now_iso
from cookcam_ops.deploy.scripts import append_line
from cookcam_ops.history import HistoryRecord, newest_first


def history_path(ops_path: str) -> str:
    """The audit log beside the app."""
    return f"{ops_path}/history.jsonl"


def record_display(history_file: str) -> str:
    """What writing a host's record does, as a plan shows it."""
    return f"append one JSON line to {history_file}"


def new_record(
    *,
    run_id: str,
    action: str,
    user: str,
    host: str,
    from_sha: str | None,
    to_sha: str | None,
    outcome: str,
    duration_s: float,
    ref: str | None,
    detail: str | None = None,
) -> dict[str, Any]:
    """One audit record (key order is the documented one)."""
    rec: dict[str, Any] = {
        "id": run_id,
        "time": now_iso(),
        "action": action,
        "user": user,
        "host": host,
        "from_sha": from_sha,
        "to_sha": to_sha,
        "outcome": outcome,
        "duration_s": round(duration_s, 3),
        "ref": ref,
    }
    if detail:
        rec["detail"] = detail[:500]
    return rec


def append_command(ops_path: str, *records: dict[str, Any]) -> str:
    """The shell command that appends records, one line each, in order."""
    return append_line(
        history_path(ops_path), *(json.dumps(r, separators=(",", ":")) for r in records)
    )


@dataclass
class Pending:
    """Records made but not written yet, by host: a host's last record of a run goes with its
    lock's release (one round trip), and any record written before that takes them along
    first, so the log keeps its order. Thread-safe."""

    _records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, host: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.setdefault(host, []).append(record)

    def take(self, host: str) -> list[dict[str, Any]]:
        """The host's records, in order, no longer pending."""
        with self._lock:
            return self._records.pop(host, [])


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b and len(a) >= 7 and len(b) >= 7 and (a.startswith(b) or b.startswith(a)))


@dataclass(frozen=True)
class Release:
    """A release as the audit log knows it: its SHA, and who deployed it when (if recorded)."""

    sha: str
    user: str | None = None
    time: str | None = None


def introduced(records: list[HistoryRecord], sha: str | None) -> HistoryRecord | None:
    """The newest record that left a host serving sha (a deploy or a rollback)."""
    for r in newest_first(records):
        if r.succeeded and _same(r.to_sha, sha):
            return r
    return None


def describe_release(records: list[HistoryRecord], sha: str) -> Release:
    """sha with who put it in place and when, from any host's records."""
    found = introduced(records, sha)
    return Release(sha, found.user, found.time) if found else Release(sha)


def rollback_target(
    current: dict[str, str | None], records: dict[str, list[HistoryRecord]]
) -> tuple[str, HistoryRecord] | None:
    """The release before the fleet's newest one: where `rollback` takes every host.

    For each host, the newest deploy (any outcome) that aimed at the SHA it serves; of those, the
    newest across hosts names the release the fleet moved away from. Hosts left on different
    releases all converge on it, and rolling back twice walks back one more release.
    """
    best: HistoryRecord | None = None
    for label, sha in current.items():
        for r in newest_first(records.get(label, [])):
            if (
                r.action == "deploy"
                and r.from_sha
                and _same(r.to_sha, sha)
                and not _same(r.from_sha, sha)
            ):
                if best is None or newest_first([best, r])[0] is r:
                    best = r
                break
    if best is None or best.from_sha is None:
        return None
    return best.from_sha, best
