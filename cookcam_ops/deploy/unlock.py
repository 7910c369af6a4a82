"""`unlock`: show who holds the deploy lock on each host, and break it after a prompt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cookcam_ops.deploy import lock
from cookcam_ops.errors import HostError
from cookcam_ops.history import LockInfo

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


@dataclass(frozen=True)
class UnlockResult:
    """What unlock found and did."""

    environment: str
    locks: list[HostLock]

    @property
    def ok(self) -> bool:
        return all(h.error is None for h in self.locks)


def _look(connector: Connector, t: Target) -> tuple[HostLock, Transport | None, Target]:
    from cookcam_ops.remote.fanout import open_host

    try:
        transport, t = open_host(connector, t)
    except HostError as e:
        return HostLock(t.label, None, str(e)), None, t
    try:
        out = transport.run(lock.read_command(t.ops_dir), timeout=30).stdout
    except HostError as e:
        transport.close()
        return HostLock(t.label, None, str(e)), None, t
    return HostLock(t.label, lock.parse_read(out)), transport, t


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


def unlock_environment(loaded: LoadedConfig, environment: str, *,
                       confirm: Callable[[list[HostLock]], bool],
                       accept_new_host_keys: bool = False,
                       connector: Connector | None = None) -> UnlockResult:
    """Read every host's lock; if any is held and confirm() agrees, remove them."""
    from cookcam_ops.deploy.engine import in_parallel_map
    from cookcam_ops.deploy.service import targets_for
    from cookcam_ops.remote.fanout import ssh_connector

    env = loaded.environment(environment)
    conn = connector or ssh_connector(loaded, env, accept_new_host_keys)
    targets = targets_for(loaded, env)
    found = in_parallel_map(targets, lambda t: _look(conn, t))
    try:
        held = [h for h, _, _ in found if h.holder is not None]
        if not held or not confirm(held):
            return UnlockResult(environment, [h for h, _, _ in found])
        return UnlockResult(environment, _break(found))
    finally:
        for _, transport, _ in found:
            if transport is not None:
                transport.close()
