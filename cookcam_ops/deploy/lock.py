"""The deploy lock: one per host, `<state dir>/lock`, a directory holding info.json.

Taking it is all or nothing: info.json is written and read back in a temporary directory beside
the lock, which is then renamed into place (`mv -T`, one rename(2): exactly one of several
callers wins, and a lock never exists without its owner). A run that cannot write it (a full
disk) leaves nothing behind and says which disk. info.json says who holds it: {owner, host, pid,
command, time} plus the run's id, which is how a run releases only its own lock. `unlock` breaks
one whatever its id, after a prompt.

Across hosts, locks are taken in one stable order (`lock_order`): the first host's lock is the
leader, so of two runs started together exactly one gets past it, and the other stops at once
naming it. The run holding the leader waits a short, bounded time (with jitter) for the other
hosts' locks, which only a run that is just finishing can still hold.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cookcam_ops.deploy.session import Runner
from cookcam_ops.errors import ChecksFailed, LockHeld
from cookcam_ops.layout.lock import LOCK_HELD, LOCK_INFO_CAP, LockInfo, parse_lock_read
from cookcam_ops.remote.protocol import q, sh_program

if TYPE_CHECKING:
    from cookcam_ops.remote.fanout import Target

ACQUIRED, FAILED = "@@acquired", "@@failed"  # and layout.lock.LOCK_HELD, as a read says it
BEFORE_FAILED = "@@before-release-failed"
FOLLOWER_WAIT_S = 10.0  # how long the leader's holder waits for another host's lock
RETRY_S = (0.15, 0.5)  # jitter between two attempts on one host
LOW_SPACE_KB = 64  # free space under which a failed write is put down to a full disk


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
        return json.dumps(
            {
                "owner": self.owner,
                "host": self.host,
                "pid": self.pid,
                "command": self.command,
                "time": self.time,
                "id": self.run_id,
            },
            separators=(",", ":"),
        )


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
    return LockClaim(
        run_id=uuid.uuid4().hex,
        owner=local_user(),
        host=socket.gethostname(),
        pid=os.getpid(),
        command=command[:200],
        time=now_iso(),
    )


def lock_order(t: Target) -> tuple[str, int, str]:
    """The order locks are taken in: by host name, SSH port and state directory, so two runs
    agree on it whatever order their ops.yaml lists the hosts in."""
    return (t.host.hostname, t.host.ssh_port, t.ops_dir)


def lock_dir(ops_path: str) -> str:
    """The lock directory in the state directory."""
    return f"{ops_path}/lock"


def acquire_command(ops_path: str, claim: LockClaim, then: str = "") -> str:
    """Write info.json in a temp dir, read it back, rename the dir into place; else say why
    (hostside/lock_acquire.sh). With then: a command run in the same round trip once the lock
    is taken, and only then (its output follows the ACQUIRED line)."""
    args = q(ops_path, claim.run_id, claim.to_json(), LOCK_INFO_CAP, ACQUIRED, LOCK_HELD, FAILED)
    take = f"{sh_program('lock_acquire.sh')} {args}"
    return f"{take} && {{ {then}\n}}" if then else take


@dataclass(frozen=True)
class Attempt:
    """One try at the lock: taken, held by someone, or not writable (and why)."""

    acquired: bool
    holder: LockInfo | None = None
    failure: str | None = None
    output: str = ""  # once acquired: the whole output, the `then` command's included


def parse_acquire(stdout: str, stderr: str = "") -> Attempt:
    """acquire_command's output."""
    first, _, rest = stdout.strip().partition("\n")
    if first.strip() == ACQUIRED:
        return Attempt(True, output=stdout)
    if first.strip() == LOCK_HELD:
        return Attempt(False, parse_lock_read(f"{LOCK_HELD}\n{rest}"))
    if first.strip() == FAILED:
        return Attempt(False, failure=rest.strip() + "\n@@stderr\n" + stderr.strip())
    return Attempt(False, failure="\n@@stderr\n" + (stderr.strip() or stdout.strip()))


def failure_error(label: str, ops_path: str, failure: str) -> ChecksFailed:
    """The one-line error of a lock that could not be written: the disk and the path."""
    report, _, stderr = failure.partition("\n@@stderr\n")
    blocks, _, inodes = report.partition("\n")
    fs = blocks.split()
    free_kb = int(fs[3]) if len(fs) >= 6 and fs[3].isdigit() else None
    free_inodes = inodes.split()[3] if len(inodes.split()) >= 6 else None
    said = " ".join(stderr.split())[:200]
    disk = f"{fs[5]} ({fs[0]})" if len(fs) >= 6 else "unknown"
    full = (
        "no space left" in said.lower()
        or free_inodes == "0"
        or (free_kb is not None and free_kb < LOW_SPACE_KB)
    )
    if full:
        return ChecksFailed(
            f"{label}: cannot take the deploy lock: no space left on the disk mounted at "
            f"{disk} ({free_kb} KB, {free_inodes} inodes free), which holds {ops_path}; "
            "nothing was left behind and nothing was changed",
            hint=f"free space on {disk}, then rerun",
        )
    return ChecksFailed(
        f"{label}: cannot take the deploy lock in {ops_path} "
        f"({said or 'no reason given'}; disk {disk}, {free_kb} KB free); "
        "nothing was left behind and nothing was changed",
        hint="check the state directory's owner and permissions",
    )


@dataclass(frozen=True)
class Then:
    """What a host runs in the lock's round trip once the lock is taken, and its time bound."""

    command: str = ""
    timeout: float = 0.0


def attempt(runner: Runner, ops_path: str, claim: LockClaim, then: Then = Then()) -> Attempt:
    """One try at the lock on one host (and, once taken, then's command)."""
    result = runner.run(acquire_command(ops_path, claim, then.command), timeout=30 + then.timeout)
    return parse_acquire(result.stdout, result.stderr)


def acquire(
    runner: Runner,
    label: str,
    ops_path: str,
    claim: LockClaim,
    *,
    wait_s: float = 0.0,
    then: Then = Then(),
) -> Attempt:
    """Take the lock on a host (the Attempt that did, with then's output), else the Attempt
    naming its live holder after up to wait_s.

    A holder that vanished between two looks, or whose process is gone from this machine, is
    looked at once more before it is reported: a run that just finished is neither a holder nor
    stale. A lock that cannot be written raises (ChecksFailed, naming the disk).
    """
    deadline = time.monotonic() + wait_s
    looked_twice: set[str] = set()
    while True:
        tried = attempt(runner, ops_path, claim, then)
        if tried.acquired:
            return tried
        if tried.failure is not None:
            raise failure_error(label, ops_path, tried.failure)
        holder = tried.holder
        key = holder.id if holder and holder.id else "(unknown)"
        if (holder is None or holder.id == "" or stale_here(holder)) and key not in looked_twice:
            looked_twice.add(key)
            time.sleep(random.uniform(*RETRY_S))
            continue
        # only a live run of this version (it writes its id) can be about to let go
        if holder is None or not holder.id or stale_here(holder) or time.monotonic() >= deadline:
            return tried
        time.sleep(random.uniform(*RETRY_S))


def release_command(ops_path: str, run_id: str, before: str = "") -> str:
    """Remove the lock only if this run holds it. With before: a command run first in the same
    round trip (the run's last audit records); the lock is released whether it fails or not,
    and its failure prints BEFORE_FAILED."""
    d = lock_dir(ops_path)
    release = f"if grep -qF {q(run_id)} {q(d + '/info.json')} 2>/dev/null; then rm -rf {q(d)}; fi"
    return f"{{ {before}\n}} || echo {q(BEFORE_FAILED)}; {release}" if before else release


def break_command(ops_path: str) -> str:
    """Remove the lock whoever holds it (`unlock`, after a prompt)."""
    return f"rm -rf {q(lock_dir(ops_path))}"


def release(transport: Runner, ops_path: str, run_id: str, before: str = "") -> bool:
    """Release this run's lock on a host (a no-op when another run holds it), running before
    first in the same round trip: False when before failed (the lock is released anyway)."""
    result = transport.run(release_command(ops_path, run_id, before), timeout=30)
    return BEFORE_FAILED not in result.stdout


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
        return LockHeld(
            f"{label}: the deploy lock is held by {holder.describe()}, a process "
            "that no longer runs on this machine: the lock is stale",
            hint=f"run `cookcam-ops unlock {environment}` to break it",
            host=label,
            holder=holder.to_dict(),
        )
    return LockHeld(
        f"{label}: the deploy lock is held by {holder.describe()}",
        hint=f"wait for that run to end; if it is gone, run `cookcam-ops unlock {environment}`",
        host=label,
        holder=holder.to_dict(),
    )
