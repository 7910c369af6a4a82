"""The deploy lock: one per host, `<app_path>.ops/lock`, taken with an atomic `mkdir`.

info.json says who holds it: {owner, host, pid, command, time} plus the run's id, which is how a
run releases only its own lock. `unlock` breaks one whatever its id, after a prompt.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cookcam_ops.deploy.session import Runner
from cookcam_ops.errors import LockHeld
from cookcam_ops.history import LockInfo, parse_lock
from cookcam_ops.remote.protocol import q

ACQUIRED, HELD = "@@acquired", "@@held"


@dataclass(frozen=True)
class LockClaim:
    """This run's claim: what info.json will say."""

    run_id: str
    owner: str
    host: str
    pid: int
    command: str
    time: str

    def to_json(self) -> str:
        """info.json's one line."""
        return json.dumps({"owner": self.owner, "host": self.host, "pid": self.pid,
                           "command": self.command, "time": self.time, "id": self.run_id},
                          separators=(",", ":"))


def now_iso() -> str:
    """UTC now, to the second, ISO 8601 with Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_user() -> str:
    """Who runs cookcam-ops here (for locks and the audit log)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def new_claim(command: str) -> LockClaim:
    """A claim for this process, with a fresh run id."""
    return LockClaim(run_id=uuid.uuid4().hex, owner=local_user(), host=socket.gethostname(),
                     pid=os.getpid(), command=command[:200], time=now_iso())


def lock_dir(ops_path: str) -> str:
    """The lock directory beside the app."""
    return f"{ops_path}/lock"


def acquire_command(ops_path: str, claim: LockClaim) -> str:
    """mkdir the lock dir (atomic: exactly one caller wins) and write info.json, else show it."""
    d = lock_dir(ops_path)
    return (f"mkdir -p {q(ops_path)} && if mkdir {q(d)} 2>/dev/null; then "
            f"printf '%s\\n' {q(claim.to_json())} > {q(d + '/info.json')} && echo {ACQUIRED}; "
            f"else echo {HELD}; cat {q(d + '/info.json')} 2>/dev/null; fi")


def parse_acquire(stdout: str) -> tuple[bool, LockInfo | None]:
    """(acquired, holder) from acquire_command's output."""
    first, _, rest = stdout.strip().partition("\n")
    if first.strip() == ACQUIRED:
        return True, None
    holder = parse_lock(rest) or LockInfo("unknown", "unknown", None, "(no info.json)", "unknown")
    return False, holder


def release_command(ops_path: str, run_id: str) -> str:
    """Remove the lock only if this run holds it."""
    d = lock_dir(ops_path)
    return f"if grep -qF {q(run_id)} {q(d + '/info.json')} 2>/dev/null; then rm -rf {q(d)}; fi"


def break_command(ops_path: str) -> str:
    """Remove the lock whoever holds it (`unlock`, after a prompt)."""
    return f"rm -rf {q(lock_dir(ops_path))}"


def read_command(ops_path: str) -> str:
    """Print the lock's holder, if any (read only)."""
    d = lock_dir(ops_path)
    return f"if [ -d {q(d)} ]; then echo {HELD}; cat {q(d + '/info.json')} 2>/dev/null; fi"


def parse_read(stdout: str) -> LockInfo | None:
    """The holder from read_command's output, or None when the lock is free."""
    if not stdout.strip():
        return None
    return parse_acquire(stdout)[1]


def acquire(transport: Runner, ops_path: str, claim: LockClaim) -> LockInfo | None:
    """Take the lock on a host: None when taken, else who holds it."""
    result = transport.run(acquire_command(ops_path, claim), timeout=30)
    acquired, holder = parse_acquire(result.stdout)
    if acquired:
        return None
    if not result.ok and holder is not None and holder.owner == "unknown":
        return LockInfo("unknown", "unknown", None,
                        f"(could not take the lock: {result.tail(2)})", "unknown")
    return holder


def release(transport: Runner, ops_path: str, run_id: str) -> None:
    """Release this run's lock on a host (a no-op when another run holds it)."""
    transport.run(release_command(ops_path, run_id), timeout=30)


def stale_here(holder: LockInfo) -> bool:
    """The lock was taken on this machine by a process that no longer runs (killed -9, crash)."""
    if holder.host != socket.gethostname() or not holder.pid or holder.pid == os.getpid():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def held_error(label: str, holder: LockInfo, environment: str) -> LockHeld:
    """The exit-5 error naming who holds the lock and since when (and when it is stale)."""
    if stale_here(holder):
        return LockHeld(f"{label}: the deploy lock is held by {holder.describe()}, a process "
                        "that no longer runs on this machine: the lock is stale",
                        hint=f"run `cookcam-ops unlock {environment}` to break it",
                        host=label, holder=holder.to_dict())
    return LockHeld(f"{label}: the deploy lock is held by {holder.describe()}",
                    hint=f"wait for that run to end; if it is gone, run `cookcam-ops unlock "
                         f"{environment}`", host=label, holder=holder.to_dict())
