"""The deploy lock's shell scripts run for real in a local sh: races, full disks, stale holders."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from cookcam_ops.common import parallel_map
from cookcam_ops.config import HostConfig
from cookcam_ops.deploy import lock
from cookcam_ops.deploy.fleet import Fleet
from cookcam_ops.deploy.observer import NullObserver
from cookcam_ops.errors import ChecksFailed, ExitCode, LockHeld
from cookcam_ops.layout.lock import LOCK_HELD
from cookcam_ops.remote.fanout import Target, target
from cookcam_ops.remote.protocol import LineSink, RunResult
from tests.unit.deploy_fakes import APP
from tests.unit.local_host import LocalHost


def targets(tmp: Path, names: list[str]) -> list[Target]:
    return [
        target(HostConfig(ssh=f"deploy@{n}.example", name=n, app_path=str(tmp / n / "api")), APP)
        for n in names
    ]


def connect(host: HostConfig) -> LocalHost:
    return LocalHost(host.name or host.ssh)


def leftovers(ops: Path) -> list[str]:
    return sorted(p.name for p in ops.iterdir()) if ops.exists() else []


def test_exactly_one_of_many_racing_claims_takes_the_lock(tmp_path: Path) -> None:
    ops = tmp_path / "api.ops"
    for _ in range(10):
        claims = [lock.new_claim(f"deploy {i}") for i in range(6)]
        barrier = threading.Barrier(len(claims))

        def race(claim: lock.LockClaim, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait()
            return lock.attempt(LocalHost(), str(ops), claim).acquired

        won = [c for c, ok in zip(claims, parallel_map(claims, race), strict=True) if ok]
        assert len(won) == 1
        info = json.loads((ops / "lock" / "info.json").read_text())
        assert info["id"] == won[0].run_id
        assert leftovers(ops) == ["lock"]  # no temp dir left by the losers
        lock.release(LocalHost(), str(ops), won[0].run_id)
        assert leftovers(ops) == []


def test_of_two_fleets_started_together_exactly_one_proceeds(tmp_path: Path) -> None:
    """Listed in opposite orders, two runs still agree on the leader: one wins, one gets 5."""
    hosts = targets(tmp_path, ["web1", "web2", "web3"])
    for _ in range(10):
        barrier = threading.Barrier(2)

        def run(
            order: list[Target], command: str, barrier: threading.Barrier = barrier
        ) -> Fleet[NullObserver] | LockHeld:
            fleet = Fleet(order, connect, NullObserver())
            fleet.connect_all()
            barrier.wait()
            try:
                fleet.lock_all(lock.new_claim(command), "production")
            except LockHeld as e:
                return e
            return fleet

        a, b = parallel_map(
            [(hosts, "deploy A"), (hosts[::-1], "deploy B")], lambda args: run(*args)
        )
        fleets = [x for x in (a, b) if isinstance(x, Fleet)]
        refused = [x for x in (a, b) if isinstance(x, LockHeld)]
        assert len(fleets) == 1 and len(refused) == 1
        winner = "deploy A" if fleets[0] is a else "deploy B"
        assert refused[0].exit_code == ExitCode.LOCKED
        assert winner in str(refused[0]) and "stale" not in str(refused[0])
        assert sorted(fleets[0].locked) == ["web1", "web2", "web3"]
        fleets[0].release_all()
        assert not any((Path(t.ops_dir) / "lock").exists() for t in hosts)


def test_the_leader_holder_waits_for_a_lock_a_finishing_run_still_holds(tmp_path: Path) -> None:
    web1, web2 = targets(tmp_path, ["web1", "web2"])
    finishing = lock.new_claim("deploy that is finishing")
    assert lock.attempt(LocalHost(), web2.ops_dir, finishing).acquired
    timer = threading.Timer(0.6, lock.release, (LocalHost(), web2.ops_dir, finishing.run_id))
    timer.start()
    with Fleet([web1, web2], connect, NullObserver()) as fleet:
        fleet.connect_all()
        fleet.lock_all(lock.new_claim("next deploy"), "production")
        assert sorted(fleet.locked) == ["web1", "web2"]
    timer.join()
    assert not (Path(web1.ops_dir) / "lock").exists()


class VanishingHolder:
    """A host whose lock is held by a run of this machine that has just ended, then free."""

    def __init__(self, dead_pid: int) -> None:
        self.calls = 0
        self.info = json.dumps(
            {
                "owner": "ann",
                "host": os.uname().nodename,
                "pid": dead_pid,
                "command": "deploy",
                "time": "t",
                "id": "finished-run",
            }
        )

    def run(
        self, command: str, *, timeout: float | None = None, on_line: LineSink | None = None
    ) -> RunResult:
        self.calls += 1
        out = f"{LOCK_HELD}\n{self.info}\n" if self.calls == 1 else f"{lock.ACQUIRED}\n"
        return RunResult(command, 0, out, "", 0.0)


def test_a_finished_run_is_looked_at_again_and_never_called_stale() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = VanishingHolder(dead.pid)
    assert lock.acquire(host, "web1", "/srv/api.ops", lock.new_claim("deploy")).acquired
    assert host.calls == 2


def test_a_lock_that_cannot_be_written_names_the_path_and_leaves_nothing(tmp_path: Path) -> None:
    ops = tmp_path / "api.ops"
    ops.write_text("a file where the state directory should be")
    with pytest.raises(ChecksFailed) as e:
        lock.acquire(LocalHost(), "web1", str(ops), lock.new_claim("deploy"))
    assert f"web1: cannot take the deploy lock in {ops}" in str(e.value)
    assert "nothing was left behind" in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.ops"]


def test_a_full_disk_is_named_from_df() -> None:
    failure = (
        "tmpfs 64 64 0 100% /srv/api.ops\ntmpfs 100 10 90 10% /srv/api.ops"
        "\n@@stderr\nsh: 1: printf: printf: I/O error"
    )
    err = lock.failure_error("web1", "/srv/api.ops", failure)
    assert str(err).startswith(
        "web1: cannot take the deploy lock: no space left on the disk "
        "mounted at /srv/api.ops (tmpfs) (0 KB, 90 inodes free), which "
        "holds /srv/api.ops"
    )
    assert err.exit_code == ExitCode.CHECKS_FAILED


@contextmanager
def full_tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], check=True)
    with suppress(OSError):  # fills it: the last bytes do not fit
        (where / "fill").write_bytes(b"x" * 65536)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")
def test_a_full_tmpfs_under_the_state_dir_leaves_no_lock(tmp_path: Path) -> None:
    with full_tmpfs(tmp_path / "api.ops") as ops:
        with pytest.raises(ChecksFailed) as e:
            lock.acquire(LocalHost(), "web1", str(ops), lock.new_claim("deploy"))
        assert "no space left on the disk mounted at" in str(e.value)
        assert str(ops) in str(e.value)
        assert leftovers(ops) == ["fill"]


def test_what_runs_in_the_locks_round_trip_runs_only_under_the_lock(tmp_path: Path) -> None:
    ops = tmp_path / "api.ops"
    marker = tmp_path / "ran"
    then = lock.Then(f"echo facts; touch {marker}", 10)
    first = lock.new_claim("deploy A")
    taken = lock.attempt(LocalHost(), str(ops), first, then)
    assert taken.acquired and taken.output.split() == [lock.ACQUIRED, "facts"]
    assert marker.exists()
    marker.unlink()
    held = lock.attempt(LocalHost(), str(ops), lock.new_claim("deploy B"), then)
    assert not held.acquired and held.holder is not None and held.holder.id == first.run_id
    assert not marker.exists()  # the loser ran nothing
    lock.release(LocalHost(), str(ops), first.run_id)


def test_a_fleet_gets_each_hosts_answer_from_the_locks_round_trip(tmp_path: Path) -> None:
    """The followers answer in their lock's request; the leader, whose lock must be held before
    any other host is tried, takes it alone and answers beside them; a lone host in one."""
    hosts = targets(tmp_path, ["web1", "web2", "web3"])
    with Fleet(hosts, connect, NullObserver()) as fleet:
        fleet.connect_all()
        answered = fleet.lock_all(
            lock.new_claim("deploy"), "production", lambda t: lock.Then(f"echo {t.label}", 10)
        )
        assert {k: v.split() for k, v in answered.items()} == {
            "web1": ["web1"],
            "web2": [lock.ACQUIRED, "web2"],
            "web3": [lock.ACQUIRED, "web3"],
        }
        log = {s.label: s.transport.log for s in fleet.sessions.values()}  # type: ignore[attr-defined]
        mine = {h: [c for _, c in log[h] if "lock_acquire" in c or "echo web" in c] for h in log}
        assert [("lock_acquire" in c, "echo web1" in c) for c in mine["web1"]] == [
            (True, False),
            (False, True),
        ]
        assert [("lock_acquire" in c, "echo web2" in c) for c in mine["web2"]] == [(True, True)]
    assert not any((Path(t.ops_dir) / "lock").exists() for t in hosts)
    with Fleet(hosts[:1], connect, NullObserver()) as fleet:
        fleet.connect_all()
        alone = fleet.lock_all(
            lock.new_claim("deploy"), "production", lambda t: lock.Then("echo x", 10)
        )
        assert alone["web1"].split() == [lock.ACQUIRED, "x"]


class Said:
    """An observer keeping the phases it was told."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def phase(self, text: str) -> None:
        self.lines.append(text)


def test_a_release_writes_the_pending_records_first_and_frees_the_lock_even_if_they_fail(
    tmp_path: Path,
) -> None:
    from cookcam_ops.deploy import audit

    web1, web2 = targets(tmp_path, ["web1", "web2"])
    rec = audit.new_record(
        run_id="r", action="deploy", user="u", host="web1", from_sha=None, to_sha=None,
        outcome="deployed", duration_s=1.0, ref=None,
    )  # fmt: skip
    said = Said()
    with Fleet([web1, web2], connect, said) as fleet:
        fleet.connect_all()
        fleet.lock_all(lock.new_claim("deploy"), "production")
        fleet.pending.add("web1", rec)
        fleet.pending.add("web1", {**rec, "outcome": "second"})
        fleet.pending.add("web2", rec)
        (Path(web2.ops_dir) / "history.jsonl").mkdir()  # web2's record cannot be written
    lines = (Path(web1.ops_dir) / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["outcome"] for line in lines] == ["deployed", "second"]
    assert not any((Path(t.ops_dir) / "lock").exists() for t in (web1, web2))
    assert [line for line in said.lines if "audit record" in line] == [
        f"web2: could not write this run's audit record to {web2.ops_dir}/history.jsonl; "
        "the lock was released"
    ]
