"""The engine against a fake transport that scripts failures per step and host.

Batches run in order; a failure stops further batches and puts every switched host back, so the
fleet ends on one release; exit 1 when all is back and healthy, 4 when a rollback failed, 130
when interrupted.
"""

from __future__ import annotations

import json

import pytest

from cookcam_ops import ui
from cookcam_ops.deploy import engine
from cookcam_ops.deploy.result import RunResult, StepResult, StepStatus, run_outcome
from cookcam_ops.errors import ExitCode
from cookcam_ops.pm2.apply import Apply, ApplyPlan, Change
from cookcam_ops.render.deploy import render_result
from cookcam_ops.report import document
from tests.documents import valid_document
from tests.unit.deploy_fakes import NEW, OLD, World, plan


@pytest.fixture
def world() -> World:
    return World(["web1", "web2", "web3"])


def run(world: World, batch: int = 1, auto: bool = True, cancel_first: bool = False) -> RunResult:
    plans = [plan(h) for h in world.hosts]
    sessions = {h: world.session(h) for h in world.hosts}
    ctx = world.context(batch_size=batch, auto_rollback=auto)
    if cancel_first:
        ctx.cancel.set()
    hosts = engine.execute(plans, sessions, ctx, {})
    return RunResult(
        "deploy", "prod", run_outcome("deploy", hosts), NEW, hosts, interrupted=ctx.cancel.is_set()
    )


def outcomes(result: RunResult) -> dict[str, str]:
    return {h.name: h.outcome for h in result.hosts}


def test_all_hosts_deploy_batch_by_batch(world: World) -> None:
    result = run(world)
    assert outcomes(result) == {"web1": "deployed", "web2": "deployed", "web3": "deployed"}
    assert result.exit_code == ExitCode.OK and result.ok
    order = [h for h, step in world.calls if step == "switch"]
    assert order == ["web1", "web2", "web3"]
    assert world.head == {"web1": NEW, "web2": NEW, "web3": NEW}


def test_a_build_failure_stops_and_puts_back_what_was_switched(world: World) -> None:
    world.script[("web2", "build")] = "fail"
    result = run(world)
    assert outcomes(result) == {"web1": "rolled_back", "web2": "failed", "web3": "skipped"}
    assert result.outcome == "rolled_back" and result.exit_code == ExitCode.CHECKS_FAILED
    assert world.head == {"web1": OLD, "web2": OLD, "web3": OLD}
    assert not [c for c in world.calls if c[0] == "web3"]
    assert ("web2", "switch") not in world.calls
    assert world.commands("web2", "rm -rf /srv/web2/api.ops/build")  # the build aside removed
    assert any('"outcome":"failed"' in c for c in world.commands("web2", "history.jsonl"))
    assert any('"action":"rollback"' in c for c in world.commands("web1", "history.jsonl"))


def test_a_failure_after_the_switch_rolls_that_host_back(world: World) -> None:
    world.script[("web1", "health")] = "fail"
    result = run(world)
    assert outcomes(result) == {"web1": "rolled_back", "web2": "skipped", "web3": "skipped"}
    assert result.exit_code == ExitCode.CHECKS_FAILED
    assert world.head["web1"] == OLD
    steps = [s.name for s in result.hosts[0].steps]
    assert "rollback:switch" in steps and "rollback:health" in steps
    assert "rollback:build" in steps  # listed as skipped: the old release was kept in prev/
    skipped = {s.name: s.status for s in result.hosts[0].steps}
    assert skipped["rollback:build"] == "skipped"


def test_a_failed_rollback_exits_4(world: World) -> None:
    world.script[("web1", "health")] = "fail"
    world.script[("web1", "health#2")] = "fail"
    result = run(world)
    assert outcomes(result)["web1"] == "rollback_failed"
    assert result.outcome == "rollback_failed" and result.exit_code == ExitCode.ROLLBACK_FAILED


def test_parallel_batch_puts_back_the_host_that_succeeded(world: World) -> None:
    world.script[("web2", "smoke")] = "fail"
    result = run(world, batch=2)
    assert outcomes(result) == {"web1": "rolled_back", "web2": "rolled_back", "web3": "skipped"}
    assert set(world.head.values()) == {OLD}


def test_no_auto_rollback_leaves_hosts_as_they_are(world: World) -> None:
    world.script[("web2", "health")] = "fail"
    result = run(world, auto=False)
    assert outcomes(result) == {"web1": "deployed", "web2": "failed", "web3": "skipped"}
    assert result.exit_code == ExitCode.CHECKS_FAILED
    assert world.head == {"web1": NEW, "web2": NEW, "web3": OLD}


def test_ctrl_c_stops_at_a_safe_point_and_puts_back(world: World) -> None:
    world.script[("web2", "build")] = "cancel"
    result = run(world)
    assert result.interrupted and result.exit_code == ExitCode.INTERRUPTED
    assert outcomes(result) == {"web1": "rolled_back", "web2": "failed", "web3": "skipped"}
    assert ("web2", "test-build") not in world.calls
    assert set(world.head.values()) == {OLD}


def test_a_second_ctrl_c_cuts_a_step_before_the_switch(world: World) -> None:
    world.script[("web2", "build")] = "cancel-twice"
    result = run(world)
    assert world.cut == ["web2"]
    assert result.exit_code == ExitCode.INTERRUPTED
    assert outcomes(result) == {"web1": "rolled_back", "web2": "failed", "web3": "skipped"}
    assert any("reap" in c or "step.pid" in c for c in world.commands("web2", "step.pid"))
    assert set(world.head.values()) == {OLD}


def test_a_second_ctrl_c_never_cuts_a_step_after_the_switch(world: World) -> None:
    world.script[("web1", "health")] = "cancel-twice"
    result = run(world)
    assert world.cut == []  # health runs past the switch: it finishes, then web1 is put back
    assert outcomes(result)["web1"] == "rolled_back"
    assert set(world.head.values()) == {OLD}


def test_interrupted_before_anything_runs_nothing(world: World) -> None:
    result = run(world, cancel_first=True)
    assert world.calls == []
    assert result.exit_code == ExitCode.INTERRUPTED


def test_a_lost_connection_reconnects_reaps_and_rolls_back(world: World) -> None:
    world.script[("web2", "reload")] = "lost"
    result = run(world)
    assert outcomes(result) == {"web1": "rolled_back", "web2": "rolled_back", "web3": "skipped"}
    assert result.exit_code == ExitCode.CHECKS_FAILED
    reap = world.commands("web2", "step.pid")
    assert any("kill -s TERM" in c and "run-1" in c for c in reap)
    assert set(world.head.values()) == {OLD}


def test_a_host_that_stays_unreachable_after_its_switch_is_rollback_failed(world: World) -> None:
    world.script[("web2", "health")] = "lost-down"
    result = run(world)
    assert outcomes(result)["web2"] == "unreachable"
    assert outcomes(result)["web1"] == "rolled_back"
    assert result.exit_code == ExitCode.ROLLBACK_FAILED


def test_a_host_lost_before_its_switch_is_exit_3(world: World) -> None:
    world.script[("web1", "build")] = "lost-down"
    result = run(world)
    assert outcomes(result) == {"web1": "unreachable", "web2": "skipped", "web3": "skipped"}
    assert result.outcome == "failed" and result.exit_code == ExitCode.UNREACHABLE


def test_json_shape(world: World) -> None:
    doc = run(world).to_dict()
    assert list(doc) == [
        "ok",
        "environment",
        "action",
        "outcome",
        "target_sha",
        "hosts",
        "duration_s",
        "checks",
        "warnings",
        "interrupted",
        "unreachable",
        "answered",
    ]
    host = doc["hosts"][0]
    assert list(host) == ["name", "from_sha", "to_sha", "outcome", "steps", "pm2"]
    assert list(host["steps"][0]) == ["name", "status", "duration_s", "detail"]
    assert doc["warnings"] == [] and host["pm2"] is None


def test_a_warned_step_is_in_the_json_and_the_report_never_a_silent_success(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(world)
    killed = "PM2 SIGKILLed 1 worker(s) mid-drain (worker 0 after 1000 ms)"
    web1 = result.hosts[0]
    web1.steps = [
        StepResult(s.name, StepStatus.WARN, s.duration_s, killed) if s.name == "reload" else s
        for s in web1.steps
    ]
    web1.pm2 = ApplyPlan(Apply.SCALE, (Change("instances", 2, 3),))
    assert result.ok and result.exit_code == 0 and result.outcome == "deployed"
    doc = result.to_dict()
    valid_document(json.dumps(document("deploy", doc)), "deploy")  # the shipped JSON Schema
    assert doc["warnings"] == [{"host": "web1", "step": "reload", "detail": killed}]
    assert doc["hosts"][0]["pm2"]["changes"] == [{"setting": "instances", "from": 2, "to": 3}]
    monkeypatch.setenv("COLUMNS", "200")
    ui.reset()
    render_result(result)
    text = " ".join(capsys.readouterr().out.split())
    assert "reload: PM2 SIGKILLed 1 worker(s)" in text
    assert "PM2 settings: instances 2 -> 3 (pm2 scale)" in text
    assert "DEPLOYED" in text and "1 warning(s)" in text


def _records(world: World, host: str) -> list[list[str]]:
    """The actions of each audit write sent to host, in order (one list per round trip)."""
    writes = world.commands(host, "history.jsonl")
    return [[a for a in ("deploy", "rollback") if f'"action":"{a}"' in w] for w in writes]


def test_the_last_batchs_records_wait_for_the_release_and_keep_their_order(world: World) -> None:
    from cookcam_ops.deploy.audit import Pending
    from cookcam_ops.deploy.playbook import StepKind
    from cookcam_ops.deploy.steps import STEP_KINDS

    plans = [plan(h) for h in world.hosts]
    sessions = {h: world.session(h) for h in world.hosts}
    pending = Pending()
    kinds = {**dict.fromkeys(StepKind, world.step), StepKind.RECORD: STEP_KINDS[StepKind.RECORD]}
    ctx = world.context(batch_size=2, kinds=kinds, pending=pending)
    hosts = engine.execute(plans, sessions, ctx, {})
    assert [h.outcome for h in hosts] == ["deployed"] * 3
    # web1 and web2 (the first batch) wrote at once; web3's record waits for its release
    assert _records(world, "web1") == [["deploy"]] and _records(world, "web3") == []
    assert [r["action"] for r in pending.take("web3")] == ["deploy"]

    world.log.clear()
    world.script[("web3", "smoke")] = "fail"  # after web2 recorded, in the same last batch
    world.calls.clear()
    pending = Pending()
    ctx = world.context(batch_size=3, kinds=kinds, pending=pending)
    hosts = engine.execute([plan(h) for h in world.hosts], sessions, ctx, {})
    assert [h.outcome for h in hosts] == ["rolled_back", "rolled_back", "rolled_back"]
    # web1's deploy record was pending when it was put back: one write, deploy then rollback
    assert _records(world, "web1") == [["deploy", "rollback"]]
    assert pending.take("web1") == []


def test_an_audit_record_that_cannot_be_written_is_a_warning_and_stays_pending(
    world: World,
) -> None:
    """A full disk under the state dir: the release served stays (a record never rolls a host
    back), the step says the record was NOT written and why, and the release tries again."""
    from cookcam_ops.deploy.audit import Pending
    from cookcam_ops.deploy.playbook import StepKind
    from cookcam_ops.deploy.result import StepStatus
    from cookcam_ops.deploy.steps import STEP_KINDS

    world.disk_full = {"web1"}
    sessions = {h: world.session(h) for h in world.hosts}
    pending = Pending()
    kinds = {**dict.fromkeys(StepKind, world.step), StepKind.RECORD: STEP_KINDS[StepKind.RECORD]}
    ctx = world.context(batch_size=1, kinds=kinds, pending=pending)
    hosts = engine.execute([plan(h) for h in world.hosts], sessions, ctx, {})
    assert [h.outcome for h in hosts] == ["deployed"] * 3
    web1 = next(s for s in hosts[0].steps if s.name == "record")
    assert web1.status is StepStatus.WARN
    assert "NOT written" in web1.detail and "No space left on device" in web1.detail
    assert [r["action"] for r in pending.take("web1")] == ["deploy"]  # for the release
    web2 = next(s for s in hosts[1].steps if s.name == "record")
    assert web2.status is StepStatus.OK and pending.take("web2") == []
