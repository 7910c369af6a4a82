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
    from cookcam_ops.deploy.session import Connector
    from cookcam_ops.remote.fanout import Target
    from cookcam_ops.remote.protocol import Transport


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


def _look(connector: Connector, t: Target) -> tuple[HostLock, Transport | None, Target]:
    from cookcam_ops.remote.fanout import open_host

    try:
        transport, t = open_host(connector, t)
    except HostError as e:
        return HostLock(t.label, None, str(e)), None, t
    try:
        out = transport.run(lock_read_command(t.lock_dir), timeout=30).stdout
    except HostError as e:
        transport.close()
        return HostLock(t.label, None, str(e)), None, t
    return HostLock(t.label, parse_lock_read(out)), transport, t


def _break(found: list[tuple[HostLock, Transport | None, Target]]) -> list[HostLock]:
    out = []
    for h, transport, t in found:
        if h.holder is None or transport is None:
            out.append(h)
            continue
        try:
            transport.run(lock.break_command(t.ops_dir), timeout=30)
            out.append(HostLock(h.host, h.holder, None, broken=True))
        except HostError as e:
            out.append(HostLock(h.host, h.holder, str(e)))
    return out


def unlock_environment(
    loaded: LoadedConfig,
    environment: str,
    *,
    confirm: Callable[[list[HostLock]], bool],
    accept_new_host_keys: bool = False,
    connector: Connector | None = None,
) -> UnlockResult:
    """Read every host's lock; if any is held and confirm() agrees, remove them."""
    from cookcam_ops.common import parallel_map
    from cookcam_ops.remote.fanout import ssh_connector, targets_for

    env = loaded.environment(environment)
    conn = connector or ssh_connector(loaded, env, accept_new_host_keys)
    targets = targets_for(loaded, env)
    found = parallel_map(targets, lambda t: _look(conn, t))
    try:
        held = [h for h, _, _ in found if h.holder is not None]
        if not held:
            return UnlockResult(environment, [h for h, _, _ in found])
        if not confirm(held):
            return UnlockResult(environment, [h for h, _, _ in found], declined=True)
        return UnlockResult(environment, _break(found))
    finally:
        for _, transport, _ in found:
            if transport is not None:
                transport.close()
