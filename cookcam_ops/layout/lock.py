"""The deploy lock as it stands on a host, and the one way to read it.

The lock is a directory, `Layout.lock_dir` (`<state dir>/lock`), holding info.json: {owner,
host, pid, command, time, id}. deploy/lock.py takes and releases it; `status`, `checklist`,
`unlock` and the deploy facts read it here, so every command agrees on who holds a lock and on
what an unreadable or empty info.json means (held, by someone unknown). The reader is tolerant:
only the known fields are kept, and a malformed file still counts as a held lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cookcam_ops.common import text_field
from cookcam_ops.remote.protocol import q

LOCK_HELD = "@@held"  # what a read (and hostside/lock_acquire.sh) prints when the lock exists
LOCK_INFO_CAP = 4096  # bytes of info.json read; the claim itself is under 600


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


def _unknown(why: str) -> LockInfo:
    return LockInfo("unknown", "unknown", None, why, "unknown")


def _parse_info(text: str | None) -> LockInfo | None:
    """The lock file's content, or None when there is no lock (an unreadable one still counts)."""
    if text is None or not text.strip():
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return _unknown("(unreadable lock file)")
    if not isinstance(doc, dict):
        return _unknown("(unreadable lock file)")
    pid = doc.get("pid")
    return LockInfo(
        owner=text_field(doc, "owner") or "unknown",
        host=text_field(doc, "host") or "unknown",
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        command=text_field(doc, "command"),
        time=text_field(doc, "time") or "unknown",
        id=text_field(doc, "id"),
    )


def lock_read_command(lock_dir: str) -> str:
    """Print a marker and info.json when the lock directory exists; nothing when it is free."""
    return (
        f"if [ -e {q(lock_dir)} ]; then echo {LOCK_HELD}; "
        f"head -c {LOCK_INFO_CAP} {q(lock_dir + '/info.json')} 2>/dev/null; fi"
    )


def parse_lock_read(text: str | None) -> LockInfo | None:
    """lock_read_command's output: None when free; a holder (maybe unknown) when held."""
    if text is None or LOCK_HELD not in text:
        return _parse_info(text) if text and text.strip().startswith("{") else None
    rest = text.split(LOCK_HELD, 1)[1]
    return _parse_info(rest) or _unknown("(no info.json)")
