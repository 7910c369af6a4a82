"""unlock over stand-in hosts: an unreachable host is reported while the others' locks are
still read and broken; every connection is closed; no lock is taken."""

from __future__ import annotations

import json
from pathlib import Path

from cookcam_ops.config import HostConfig, LoadedConfig, OpsConfig
from cookcam_ops.deploy.unlock import HostLock, UnlockResult, unlock_environment
from cookcam_ops.errors import ExitCode, HostError
from cookcam_ops.layout.lock import LOCK_HELD
from cookcam_ops.remote.protocol import RunResult
from tests.unit.deploy_fakes import FakeTransport

HOLDER = {"owner": "ana", "host": "laptop", "pid": 1, "command": "deploy", "time": "earlier"}


class _Host(FakeTransport):
    """A host holding a lock (or not) that records what it was sent and whether it closed."""

    def __init__(self, label: str, held: bool) -> None:
        super().__init__(label, [])
        self.held = held
        self.sent: list[str] = []
        self.closed = False

    def run(
        self, command: str, *, timeout: float | None = None, on_line: object = None
    ) -> RunResult:
        self.sent.append(command)
        out = f"{LOCK_HELD}\n{json.dumps(HOLDER)}" if self.held and LOCK_HELD in command else ""
        return RunResult(command, 0, out, "", 0.0)

    def close(self) -> None:
        self.closed = True


def _unlock(
    hosts: dict[str, _Host | None], answer: bool
) -> tuple[UnlockResult, list[list[HostLock]]]:
    config = OpsConfig.model_validate(
        {"environments": {"prod": {"hosts": [{"ssh": f"ops@{n}", "name": n} for n in hosts]}}}
    )
    asked: list[list[HostLock]] = []

    def connect(host: HostConfig) -> _Host:
        got = hosts[host.name or ""]
        if got is None:
            raise HostError(f"{host.name}: could not connect (refused)", host=host.name)
        return got

    def confirm(held: list[HostLock]) -> bool:
        asked.append(held)
        return answer

    result = unlock_environment(
        LoadedConfig(config=config, path=Path("/nowhere/ops.yaml")),
        "prod",
        confirm=confirm,
        connector=connect,
    )
    return result, asked


def test_an_unreachable_host_is_reported_and_the_others_lock_is_still_broken() -> None:
    held, free = _Host("web2", held=True), _Host("web3", held=False)
    result, asked = _unlock({"web1": None, "web2": held, "web3": free}, answer=True)
    assert [h.host for h in asked[0]] == ["web2"]
    locks = {h.host: h for h in result.locks}
    assert "refused" in (locks["web1"].error or "") and locks["web2"].broken
    assert locks["web3"].holder is None and not locks["web3"].broken
    assert result.exit_code == ExitCode.UNREACHABLE
    assert held.sent[-1].startswith("rm -rf ") and held.sent[-1].endswith("/lock")
    assert not any(c.startswith("rm -rf") for c in free.sent)  # a free lock: nothing sent
    assert held.closed and free.closed


def test_a_declined_unlock_breaks_nothing() -> None:
    held = _Host("web1", held=True)
    result, asked = _unlock({"web1": held}, answer=False)
    assert asked and result.declined and not result.broken
    assert result.exit_code == ExitCode.CHECKS_FAILED
    assert held.closed
