"""`unlock`: show who holds the deploy lock on each host, and break it after a prompt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cookcam_ops.deploy import lock
from cookcam_ops.errors import ExitCode, HostError, Unreachable
from cookcam_ops.layout.lock import LockInfo, lock_read_command, parse_lock_read
from cookcam_ops.report import Check, Status, reachability

if TYPE_CHECKING:
    from cookcam_ops.config import LoadedConfig
    from cookcam_ops.deploy.session import Connector, HostSession


@dataclass(frozen=True)
class HostLock:
    """One host's lock: its holder (None when free), or why the host could not be asked."""

    host: str
    holder: LockInfo | None
    error: str | None = None
    broken: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "holder": self.holder.to_dict() if self.holder else None,
            "broken": self.broken,
            "error": self.error,
        }

    def check(self) -> Check:
        """The lock as a check: free or broken pass, still held warns, unreachable fails."""
        if self.error:
            return Check("lock", Status.FAIL, self.error, self.host)
        if self.holder is None:
            return Check("lock", Status.PASS, "free", self.host)
        if self.broken:
            return Check("lock", Status.PASS, f"broken: {self.holder.describe()}", self.host)
        return Check("lock", Status.WARN, f"held by {self.holder.describe()}", self.host)


@dataclass(frozen=True)
class UnlockResult:
    """What unlock found and did; `declined` when a held lock was shown and not broken."""

    environment: str
    locks: list[HostLock]
    declined: bool = False
    notified: tuple[Check, ...] = ()  # the webhooks told of a broken lock

    @property
    def ok(self) -> bool:
        return all(h.error is None for h in self.locks) and not self.declined

    @property
    def broken(self) -> list[HostLock]:
        return [h for h in self.locks if h.broken]

    @property
    def exit_code(self) -> ExitCode:
        """3 when a host could not be reached, 1 when not confirmed, else 0."""
        if any(h.error for h in self.locks):
            return ExitCode.UNREACHABLE
        return ExitCode.CHECKS_FAILED if self.declined else ExitCode.OK

    @property
    def checks(self) -> list[Check]:
        return [h.check() for h in self.locks] + list(self.notified)

    def to_dict(self) -> dict[str, Any]:
        lost = [Unreachable(h.host, h.error) for h in self.locks if h.error]
        return {
            "ok": self.ok,
            "environment": self.environment,
            "locks": [h.to_dict() for h in self.locks],
            "declined": self.declined,
            "checks": [c.to_dict() for c in self.checks],
            **reachability(lost, [h.host for h in self.locks if not h.error]),
        }


def _look(s: HostSession) -> HostLock:
    """Connect (alone: an unreachable host is its own error) and read the host's lock."""
    try:
        s.connect()
        out = s.run(lock_read_command(s.target.lock_dir), timeout=30).stdout
    except HostError as e:
        return HostLock(s.label, None, str(e))
    return HostLock(s.label, parse_lock_read(out))


def _break(s: HostSession, h: HostLock) -> HostLock:
    """Remove a held lock on a host that answered; any other host as it was found."""
    if h.holder is None or h.error is not None:
        return h
    try:
        s.run(lock.break_command(s.target.ops_dir), timeout=30)
    except HostError as e:
        return HostLock(h.host, h.holder, str(e))
    return HostLock(h.host, h.holder, None, broken=True)


def unlock_environment(
    loaded: LoadedConfig,
    environment: str,
    *,
    confirm: Callable[[list[HostLock]], bool],
    accept_new_host_keys: bool = False,
    connector: Connector | None = None,
) -> UnlockResult:
    """Read every host's lock; if any is held and confirm() agrees, remove them.

    The hosts are a Fleet (its sessions closed however this ends) connected one by one, not
    with the run skeleton's all-or-none connect: a host that cannot be reached is reported
    (exit 3) while the others' locks are still read and broken; and no lock is taken."""
    from cookcam_ops.common import parallel_map
    from cookcam_ops.deploy.fleet import Fleet
    from cookcam_ops.deploy.observer import NullObserver
    from cookcam_ops.remote.fanout import ssh_connector, targets_for

    env = loaded.environment(environment)
    conn = connector or ssh_connector(loaded, env, accept_new_host_keys)
    with Fleet(targets_for(loaded, env), conn, NullObserver()) as fleet:
        sessions = list(fleet.sessions.values())
        found = parallel_map(sessions, _look)
        held = [h for h in found if h.holder is not None]
        if not held:
            return UnlockResult(environment, found)
        if not confirm(held):
            return UnlockResult(environment, found, declined=True)
        pairs = list(zip(sessions, found, strict=True))
        return UnlockResult(environment, parallel_map(pairs, lambda pair: _break(*pair)))
