"""deploy, rollback and unlock end to end on the 2-host sandbox (real sshd, git, npm, PM2).

The tests share the sandbox (the `fleet` fixture) and run in any order (`--order`): each one
states the fleet it starts from with `ready` (healthy on one release, no lock held, ...), which
deploys a fresh release only when the hosts are not so already. The CLI runs as a subprocess,
as a user or CI runs it (tests/e2e/helpers.py).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from cookcam_ops.sandbox.procs import children_of
from tests.e2e.helpers import (
    FAST_HEALTH_PLAYBOOK_RETRIES,
    ROOT,
    LiveCli,
    Load,
    assert_fleet_on,
    assert_no_secrets,
    change,
    deploy,
    history,
    locks,
    ops_copy,
    ready,
    run_cli,
    served,
)

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e


def test_injected_ref_is_refused_before_any_connection(fleet: Sandbox) -> None:
    marker = Path(f"/tmp/cookcam-ops-injected-{uuid.uuid4().hex}")
    x_existed = Path("/tmp/x").exists()
    before = {h.name: len(history(fleet, h.name)) for h in fleet.state.hosts}
    for ref in ("main;touch /tmp/x", f"main;touch {marker}", f"$(touch {marker})", "-bad"):
        done = deploy(fleet, "--ref", ref)
        assert done.code == 2, done.stderr
        assert "not a valid git ref name" in done.stderr
        assert done.doc["error"]["kind"] == "usage"
        assert "connecting" not in done.stderr
    assert not marker.exists()
    assert Path("/tmp/x").exists() == x_existed
    assert {h.name: len(history(fleet, h.name)) for h in fleet.state.hosts} == before


def test_deploy_release_to_both_hosts(fleet: Sandbox) -> None:
    ready(fleet)
    old = set(served(fleet).values())
    sha = change(fleet, "release")
    started = time.monotonic()
    done = deploy(fleet, "-v")
    took = time.monotonic() - started
    assert done.code == 0, done.stderr[-3000:]
    # -v: each step's output live on stderr, prefixed by its host; all of it in the run log
    assert "[host1] > tsc" in done.stderr and "[host2] > tsc" in done.stderr
    run_log = Path(done.doc["run_log"])
    build = (run_log / "host1.log").read_text()
    assert "== build\n" in build and "out | > tsc" in build and "== build ok" in build
    logged = "".join(p.read_text() for p in run_log.iterdir())
    doc = done.doc
    assert set(doc) >= {
        "schema_version",
        "command",
        "ok",
        "environment",
        "action",
        "outcome",
        "target_sha",
        "hosts",
        "duration_s",
        "checks",
        "unreachable",
        "answered",
        "run_log",
        "warnings",
    }
    assert doc["answered"] == ["host1", "host2"] and doc["unreachable"] == []
    assert doc["ok"] is True and doc["outcome"] == "deployed" and doc["target_sha"] == sha
    assert doc["warnings"] == []
    for h in doc["hosts"]:
        assert set(h) == {"name", "from_sha", "to_sha", "outcome", "steps", "pm2"}
        assert h["pm2"] == {"apply": "none", "changes": [], "unknown": None}
        assert h["outcome"] == "deployed" and h["to_sha"] == sha and h["from_sha"] in old
        names = [s["name"] for s in h["steps"]]
        assert names[:2] == ["lock", "checklist"] and "switch" in names
        assert {s["status"] for s in h["steps"]} <= {"ok", "skipped"}
    assert_fleet_on(fleet, sha)
    for h in fleet.state.hosts:
        last = history(fleet, h.name)[-1]
        assert {
            "id",
            "time",
            "action",
            "user",
            "host",
            "from_sha",
            "to_sha",
            "outcome",
            "duration_s",
            "ref",
        } <= set(last)
        assert (last["action"], last["outcome"], last["to_sha"]) == ("deploy", "deployed", sha)
        assert last["ref"] == "main"  # the ref asked for: app.branch when no --ref
    assert_no_secrets(fleet, done.stdout, done.stderr, logged)
    print(f"\ndeploy of a release to 2 hosts: {took:.1f}s (CLI wall time)")


def test_rollback_returns_to_the_previous_release(fleet: Sandbox) -> None:
    current = ready(fleet, rollback=True)
    # the release before the newest one: where the deploy that brought the current one came from
    previous = next(
        r["from_sha"]
        for r in reversed(history(fleet, "host1"))
        if r["action"] == "deploy" and r["to_sha"] == current and r["from_sha"] != current
    )
    started = time.monotonic()
    done = run_cli(fleet.dir / "ops.yaml", "rollback", "sandbox", "--yes", "--json")
    took = time.monotonic() - started
    assert done.code == 0, done.stderr[-3000:]
    assert done.doc["outcome"] == "rolled_back" and done.doc["target_sha"] == previous
    assert "deployed by" in done.stderr
    assert_fleet_on(fleet, previous)
    for h in fleet.state.hosts:
        assert history(fleet, h.name)[-1]["action"] == "rollback"
    print(f"\nrollback of 2 hosts: {took:.1f}s (CLI wall time)")


@pytest.mark.parametrize(
    ("kind", "failed_step"),
    [("broken-build", "build"), ("crash-on-start", "test-build"), ("broken-health", "test-build")],
)
def test_broken_release_stops_before_the_switch(
    fleet: Sandbox, kind: str, failed_step: str
) -> None:
    ready(fleet)
    before = served(fleet)
    change(fleet, kind)
    done = deploy(fleet)
    assert done.code == 1, done.stderr[-3000:]
    doc = done.doc
    assert doc["outcome"] == "failed" and doc["ok"] is False
    failed = [s for h in doc["hosts"] for s in h["steps"] if s["status"] == "failed"]
    assert [s["name"] for s in failed] == [failed_step]
    assert all(
        s["name"] != "switch" or s["status"] == "skipped" for h in doc["hosts"] for s in h["steps"]
    )
    assert served(fleet) == before
    assert locks(fleet) == []


def test_failure_after_the_switch_rolls_the_fleet_back(fleet: Sandbox, tmp_path: Path) -> None:
    """broken-health past a playbook without test-build: health fails, every host goes back."""
    ready(fleet)
    book = yaml.safe_load((ROOT / "playbooks" / "deploy.yaml").read_text())
    book["steps"] = [s for s in book["steps"] if s["name"] != "test-build"]
    for s in book["steps"]:
        if s["name"] == "health":
            s["retries"] = FAST_HEALTH_PLAYBOOK_RETRIES
    (tmp_path / "deploy.yaml").write_text(yaml.safe_dump(book, sort_keys=False))

    def edit(doc: dict[str, Any]) -> None:
        doc["playbooks"] = {"deploy": str(tmp_path / "deploy.yaml")}

    config = ops_copy(fleet, tmp_path, edit)
    before = served(fleet)
    (old,) = set(before.values())
    change(fleet, "broken-health")
    done = deploy(fleet, "--batch", "2", config=config)
    assert done.code == 1, done.stderr[-3000:]
    assert done.doc["outcome"] == "rolled_back"
    for h in done.doc["hosts"]:
        assert h["outcome"] == "rolled_back"
        assert any(s["name"] == "health" and s["status"] == "failed" for s in h["steps"])
        assert any(s["name"] == "rollback:health" and s["status"] == "ok" for s in h["steps"])
    assert_fleet_on(fleet, old)
    assert all(history(fleet, h.name)[-1]["outcome"] == "rolled_back" for h in fleet.state.hosts)


def test_crash_on_start_past_the_switch_is_rolled_back(fleet: Sandbox, tmp_path: Path) -> None:
    """crash-on-start with --no-auto-rollback off and test-build removed: PM2 check fails."""
    ready(fleet)
    book = yaml.safe_load((ROOT / "playbooks" / "deploy.yaml").read_text())
    book["steps"] = [s for s in book["steps"] if s["name"] != "test-build"]
    (tmp_path / "deploy.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    config = ops_copy(
        fleet, tmp_path, lambda d: d.update(playbooks={"deploy": str(tmp_path / "deploy.yaml")})
    )
    (old,) = set(served(fleet).values())
    change(fleet, "crash-on-start")
    done = deploy(fleet, config=config)
    assert done.code == 1, done.stderr[-3000:]
    assert done.doc["outcome"] == "rolled_back"
    assert_fleet_on(fleet, old)


def test_a_concurrent_deploy_is_refused_with_5(fleet: Sandbox) -> None:
    ready(fleet)
    sha = change(fleet, "release")
    first = LiveCli.start(fleet.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json")
    first.wait_line("host1: prepare")
    second = deploy(fleet)
    assert second.code == 5, second.stderr
    assert "deploy lock is held by" in second.stderr and "since" in second.stderr
    assert second.doc["error"]["kind"] == "locked" and second.doc["lock"]["holder"]["pid"]
    assert "unlock" in second.stderr
    done = first.finish()
    assert done.code == 0, done.stderr[-3000:]
    assert_fleet_on(fleet, sha)


def test_unlock_breaks_a_stale_lock(fleet: Sandbox) -> None:
    ready(fleet, on_head=True)  # a dry run with nothing to deploy: the lock is all it sees
    lock = fleet.ops_dir("host2") / "lock"
    lock.mkdir(parents=True)
    (lock / "info.json").write_text(
        json.dumps(
            {"owner": "ghost", "host": "gone-box", "pid": 1, "command": "deploy", "time": "earlier"}
        )
    )
    refused = deploy(fleet, "--dry-run")
    assert refused.code == 0, refused.stdout[-3000:]  # a dry run takes no lock, reports it
    assert "ghost@gone-box" in json.dumps(refused.doc["checks"])
    done = run_cli(fleet.dir / "ops.yaml", "unlock", "sandbox", "--yes")
    assert done.code == 0, done.stderr
    assert "ghost@gone-box" in done.stderr + done.stdout
    assert locks(fleet) == []


def test_a_changed_host_key_is_refused_with_3(fleet: Sandbox, tmp_path: Path) -> None:
    ready(fleet)
    lines = fleet.layout.known_hosts.read_text().splitlines()
    keys = [line.split(" ", 1) for line in lines]
    swapped = [f"{keys[0][0]} {keys[1][1]}", *lines[1:]]  # host1's entry holds host2's key
    known = tmp_path / "known_hosts"
    known.write_text("\n".join(swapped) + "\n")
    config = ops_copy(
        fleet,
        tmp_path,
        lambda d: d["environments"]["sandbox"]["ssh"].update(known_hosts=str(known)),
    )
    before = {h.name: len(history(fleet, h.name)) for h in fleet.state.hosts}
    done = deploy(fleet, config=config)
    assert done.code == 3, done.stderr
    assert "HOST KEY CHANGED" in done.stderr and "SHA256:" in done.stderr
    assert "host1" in done.stderr
    assert {h.name: len(history(fleet, h.name)) for h in fleet.state.hosts} == before
    assert locks(fleet) == []


def test_an_unreachable_host_changes_nothing_anywhere(fleet: Sandbox, tmp_path: Path) -> None:
    import socket

    ready(fleet)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]

    def edit(doc: dict[str, Any]) -> None:
        host = doc["environments"]["sandbox"]["hosts"][1]
        host["ssh"] = host["ssh"].rsplit(":", 1)[0] + f":{closed}"
        doc["environments"]["sandbox"]["ssh"]["connect_timeout"] = 3

    config = ops_copy(fleet, tmp_path, edit)
    before = served(fleet)
    count = len(history(fleet, "host1"))
    change(fleet, "release")
    done = deploy(fleet, config=config)
    assert done.code == 3, done.stderr
    assert "host2" in done.stderr and "nothing was changed" in done.stderr
    assert [u["host"] for u in done.doc["unreachable"]] == ["host2"]
    assert done.doc["answered"] == ["host1"]
    assert served(fleet) == before
    assert len(history(fleet, "host1")) == count
    assert locks(fleet) == []


def _kill_sessions(sshd_pid: int) -> list[int]:
    """SIGKILL the sshd processes serving host sessions (children of the host's listener)."""
    killed = []
    for pid in children_of(sshd_pid):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    return killed


def test_ssh_connection_killed_mid_deploy(fleet: Sandbox) -> None:
    ready(fleet)
    (old,) = set(served(fleet).values())
    change(fleet, "release")
    run = LiveCli.start(
        fleet.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json", "--batch", "1"
    )
    run.wait_line("host2: build")
    sshd_pid = fleet.host("host2").sshd_pid
    assert sshd_pid is not None
    assert _kill_sessions(sshd_pid), "no ssh session to kill"
    done = run.finish()
    assert done.code == 1, done.stderr[-3000:]
    doc = done.doc
    assert doc["outcome"] == "rolled_back"
    outcomes = {h["name"]: h["outcome"] for h in doc["hosts"]}
    assert outcomes == {"host1": "rolled_back", "host2": "failed"}
    assert "connection lost" in json.dumps(doc)
    assert_fleet_on(fleet, old)


def test_ctrl_c_mid_deploy_puts_everything_back(fleet: Sandbox) -> None:
    ready(fleet)
    (old,) = set(served(fleet).values())
    change(fleet, "release")
    run = LiveCli.start(
        fleet.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json", "--batch", "1"
    )
    run.wait_line("host2: build")
    run.proc.send_signal(signal.SIGINT)
    done = run.finish()
    assert done.code == 130, done.stderr[-3000:]
    assert done.doc["outcome"] == "rolled_back"
    assert "SIGINT: stopping at the next safe point" in done.stderr
    assert_fleet_on(fleet, old)


def test_a_second_ctrl_c_cuts_a_long_step_before_the_switch(fleet: Sandbox, tmp_path: Path) -> None:
    """A slow build (say a long npm ci): the second Ctrl-C cuts it at once, nothing served
    changed, the remote process is stopped and the build dir removed."""
    ready(fleet)
    # The hosts share this machine's process table: a sleep only this test runs (never a bare
    # `sleep 300` another test or session might run too).
    nap = f"sleep 300.{os.getpid()}"
    book = yaml.safe_load((ROOT / "playbooks" / "deploy.yaml").read_text())
    for s in book["steps"]:
        if s["name"] == "build":
            s["run"] = f"cd {{build_path}} && npm run build && {nap}"
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    config = ops_copy(
        fleet, tmp_path, lambda d: d.update(playbooks={"deploy": str(tmp_path / "slow.yaml")})
    )
    before = served(fleet)
    change(fleet, "release")
    run = LiveCli.start(config, "deploy", "sandbox", "--yes", "--json", "--batch", "2")
    run.wait_line("host2: build")
    time.sleep(3)  # into the sleep
    run.proc.send_signal(signal.SIGINT)
    run.wait_line("SIGINT: stopping at the next safe point")
    cut_at = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    done = run.finish(timeout=120)
    assert done.code == 130, done.stderr[-3000:]
    assert time.monotonic() - cut_at < 60, "the second Ctrl-C did not cut the sleeping build"
    assert "SIGINT again: cutting" in done.stderr
    assert {h["outcome"] for h in done.doc["hosts"]} == {"failed"}
    assert served(fleet) == before and locks(fleet) == []
    for h in fleet.state.hosts:
        ops = fleet.ops_dir(h.name)
        assert not (ops / "build").exists() and not (ops / "step.pid").exists()
        left = fleet.ssh(h.name, f"ps -eo args | grep -cxF '{nap}' || true")
        assert left.stdout.strip() == "0", f"{h.name}: the cut step still runs"


def test_steady_load_sees_no_failed_request_during_a_deploy(fleet: Sandbox) -> None:
    ready(fleet)
    sha = change(fleet, "release")
    load = Load([f"{h.base_url}/health" for h in fleet.state.hosts])
    threads = [
        threading.Thread(target=load.worker, args=(url,), daemon=True)
        for url in load.urls
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    try:
        done = deploy(fleet)
    finally:
        load.stop.set()
        for t in threads:
            t.join(timeout=15)
    assert done.code == 0, done.stderr[-3000:]
    assert_fleet_on(fleet, sha)
    assert load.ok > 100
    assert load.failures == []
