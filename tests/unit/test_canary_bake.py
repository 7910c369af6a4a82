"""The bake against scripted samples, and its place in the engine (fake hosts): the canary
first, the rest only after a promote; a verdict against it puts back the canary alone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from cookcam_ops.canary.bake import Bake, BakeVerdict, CanaryReport, CanaryRun, Verdict
from cookcam_ops.canary.hostside import Pm2Look, Worker
from cookcam_ops.canary.settings import CanaryConfig, Metric
from cookcam_ops.canary.tally import HostSample
from cookcam_ops.canary.view import SampleView
from cookcam_ops.common import Secret
from cookcam_ops.deploy import engine
from cookcam_ops.deploy.bake import batches
from cookcam_ops.deploy.result import Outcome, RunResult, run_outcome
from cookcam_ops.errors import ChecksFailed, ExitCode
from tests.unit.deploy_fakes import NEW, OLD, World, plan

Script = Callable[[int], HostSample]


def healthy(k: int, restarts: int = 0, auth_ok: bool = True) -> HostSample:
    workers = (
        Worker("0", 100, "online", restarts, 50 << 20, "/l/e0"),
        Worker("1", 101, "online", 0, 50 << 20, "/l/e1"),
    )
    return HostSample(
        float(k),
        (True, 0.01),
        (5, 0),
        ((auth_ok, 0.05),) * 5,
        Pm2Look(workers, {"/l/e0": (0, 0), "/l/e1": (0, 0)}),
    )


@dataclass
class FakeSampler:
    """Samples from a script: round number -> sample."""

    script: Script
    label: str = "web"
    rounds: int = 0
    tokens: list[str] = field(default_factory=list)

    def sample(self, token: Secret) -> HostSample:
        self.tokens.append(token.reveal())
        self.rounds += 1
        return self.script(self.rounds - 1)


class Views:
    """A SamplingObserver that keeps what it was shown."""

    def __init__(self, on_view: Callable[[SampleView], None] | None = None) -> None:
        self.views: list[SampleView] = []
        self.phases: list[str] = []
        self.on_view = on_view

    def phase(self, message: str) -> None:
        self.phases.append(message)

    def sampled(self, view: SampleView) -> None:
        self.views.append(view)
        if self.on_view:
            self.on_view(view)


# model_construct: intervals far below what ops.yaml allows, so a bake takes milliseconds
FAST = CanaryConfig.model_construct(
    interval_s=0.01,
    bake_s=0.1,
    baseline_s=0.05,
    hosts=1,
    handshakes=5,
    probe_requests=5,
    probe_path=None,
    rules={},
)


def bake_of(
    samplers: dict[str, FakeSampler],
    observer: Views | None = None,
    sign_in: Callable[[], Secret] = lambda: Secret("tok-1"),
    cancel: threading.Event | None = None,
    auto_rollback: bool = True,
) -> Bake:
    return Bake(
        FAST,
        samplers,
        bake_s=FAST.bake_s,
        sign_in=sign_in,
        observer=observer or Views(),
        cancel=cancel or threading.Event(),
        auto_rollback=auto_rollback,
    )


def test_a_clean_canary_is_promoted_after_the_whole_bake() -> None:
    samplers = {"web1": FakeSampler(healthy), "web2": FakeSampler(healthy)}
    views = Views()
    bake = bake_of(samplers, views)
    verdict = bake.after_switch(["web1"], ["web2"])
    assert verdict.promote and verdict.outcome == "promoted"
    assert samplers["web1"].rounds == 11  # 0, 0.01, ... 0.1: the whole window
    assert samplers["web1"].tokens == ["tok-1"] * 11  # one sign-in for the run
    report = bake.report
    assert report.verdict is Verdict.PROMOTED and report.baseline_hosts == ["web2"]
    assert {m.status.value for m in report.metrics} == {"pass"}
    assert views.views[-1].columns == ("canary", "baseline")
    assert report.checks()[0].name == "canary:socket-auth-success"


def test_a_restart_ends_the_bake_at_once_and_names_its_metric() -> None:
    samplers = {
        "web1": FakeSampler(lambda k: healthy(k, restarts=0 if k < 3 else 1)),
        "web2": FakeSampler(healthy),
    }
    verdict = bake_of(samplers).after_switch(["web1"], ["web2"])
    assert not verdict.promote and verdict.outcome == "rolled_back"
    assert samplers["web1"].rounds == 4  # stopped at the round that saw it
    assert verdict.detail == "pm2-restarts: canary 1, baseline 0 (rule <= 0)"


def test_refused_handshakes_fail_once_the_rate_cannot_recover() -> None:
    samplers = {
        "web1": FakeSampler(lambda k: healthy(k, auth_ok=k < 2)),
        "web2": FakeSampler(healthy),
    }
    bake = bake_of(samplers)
    verdict = bake.after_switch(["web1"], ["web2"])
    assert not verdict.promote
    # 55 handshakes planned: none may fail at >= 99%, so the first refusals end it
    assert verdict.detail.startswith("socket-auth-success: canary 66.7%, baseline 100%")
    assert samplers["web1"].rounds == 3


def test_one_host_is_judged_against_its_own_figures_before_the_switch() -> None:
    before = FakeSampler(healthy)
    views = Views()
    bake = bake_of({"web1": before}, views)
    bake.before_switch(["web1"], [])
    sampled_before = before.rounds
    assert sampled_before == 6  # baseline_s 0.05 every 0.01 s
    verdict = bake.after_switch(["web1"], [])
    assert verdict.promote and bake.report.baseline_hosts == []
    assert any("before the switch" in p for p in views.phases)
    rows = {r.metric: r for r in bake.report.metrics}
    assert rows[Metric.SOCKET_AUTH_P95].baseline == pytest.approx(50.0)


def test_with_hosts_left_on_the_old_release_nothing_is_sampled_before() -> None:
    sampler = FakeSampler(healthy)
    bake_of({"web1": sampler, "web2": FakeSampler(healthy)}).before_switch(["web1"], ["web2"])
    assert sampler.rounds == 0


def test_ctrl_c_during_the_bake_is_interrupted_not_judged() -> None:
    cancel = threading.Event()
    views = Views(lambda view: cancel.set())
    bake = bake_of(
        {"web1": FakeSampler(healthy), "web2": FakeSampler(healthy)}, views, cancel=cancel
    )
    verdict = bake.after_switch(["web1"], ["web2"])
    assert not verdict.promote and verdict.outcome == "interrupted"
    assert bake.report.verdict is Verdict.INTERRUPTED and len(views.views) == 1


def test_no_sign_in_means_no_promotion() -> None:
    def refuse() -> Secret:
        raise ChecksFailed("sign-in failed: http://auth/auth/v1/token answered 503")

    bake = bake_of({"web1": FakeSampler(healthy), "web2": FakeSampler(healthy)}, sign_in=refuse)
    verdict = bake.after_switch(["web1"], ["web2"])
    assert not verdict.promote and "could not sample: sign-in failed" in verdict.detail


def test_without_auto_rollback_a_failed_canary_is_reported_failed() -> None:
    samplers = {"web1": FakeSampler(lambda k: healthy(k, restarts=k)), "web2": FakeSampler(healthy)}
    verdict = bake_of(samplers, auto_rollback=False).after_switch(["web1"], ["web2"])
    assert verdict.outcome == "failed"


def test_a_run_without_a_bake_says_why() -> None:
    run = CanaryRun(CanaryConfig(hosts=2, bake_s=0))
    assert run.report(["a", "b", "c"], "deployed").detail == "bake 0: deployed as without --canary"
    assert run.report(["a", "b", "c"], "deployed").hosts == ["a", "b"]
    assert CanaryRun(CanaryConfig()).report(["a"], "dry_run").verdict is Verdict.PLANNED
    assert CanaryRun(CanaryConfig()).report(["a"], "failed").verdict is Verdict.NOT_BAKED


# --- the engine -------------------------------------------------------------------------------


@dataclass
class Hook:
    """A BakeHook that records its calls and answers a fixed verdict."""

    promote: bool
    hosts: int = 1
    calls: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    cancel: threading.Event | None = None

    def before_switch(self, canary: list[str], rest: list[str]) -> None:
        self.calls.append(("before", canary, rest))

    def after_switch(self, canary: list[str], rest: list[str]) -> BakeVerdict:
        self.calls.append(("after", canary, rest))
        if self.cancel is not None:
            self.cancel.set()
            return BakeVerdict(False, "interrupted", "interrupted after 1s", 1.0)
        return BakeVerdict(
            self.promote,
            "promoted" if self.promote else "rolled_back",
            "pm2-restarts: canary 1, baseline 0 (rule <= 0)",
            2.0,
        )


@pytest.fixture
def world() -> World:
    return World(["web1", "web2", "web3"])


def run(world: World, hook: Hook, batch: int = 1) -> RunResult:
    plans = [plan(h) for h in world.hosts]
    ctx = world.context(batch_size=batch, bake=hook)
    if hook.cancel is not None:
        ctx.cancel = hook.cancel
    hosts = engine.execute(plans, {h: world.session(h) for h in world.hosts}, ctx, {})
    return RunResult(
        "deploy", "prod", run_outcome("deploy", hosts), NEW, hosts, interrupted=ctx.cancel.is_set()
    )


def test_batches_put_the_canary_first() -> None:
    assert batches([1, 2, 3, 4, 5], 2, 1) == [[1], [2, 3], [4, 5]]
    assert batches([1, 2, 3], 2, None) == [[1, 2], [3]]
    assert batches([1, 2], 1, 5) == [[1, 2]]
    assert batches([], 1, 1) == []


def test_a_promoted_canary_lets_the_rest_deploy_in_batches(world: World) -> None:
    hook = Hook(promote=True)
    result = run(world, hook, batch=2)
    assert {h.name: h.outcome for h in result.hosts} == dict.fromkeys(world.hosts, "deployed")
    assert hook.calls == [
        ("before", ["web1"], ["web2", "web3"]),
        ("after", ["web1"], ["web2", "web3"]),
    ]
    records = world.commands("web1", '"action":"canary"')
    assert len(records) == 1 and '"outcome":"promoted"' in records[0]
    assert not world.commands("web2", '"action":"canary"')


def test_a_failed_bake_puts_back_the_canary_and_never_touches_the_rest(world: World) -> None:
    result = run(world, Hook(promote=False))
    assert {h.name: h.outcome for h in result.hosts} == {
        "web1": "rolled_back",
        "web2": "skipped",
        "web3": "skipped",
    }
    assert result.outcome == "rolled_back" and result.exit_code == ExitCode.CHECKS_FAILED
    assert world.head == dict.fromkeys(world.hosts, OLD)
    assert not [c for c in world.calls if c[0] != "web1"]
    assert not [c for h, c in world.log if h != "web1" and "history.jsonl" in c]
    record = world.commands("web1", '"action":"canary"')[0]
    assert '"outcome":"rolled_back"' in record and "pm2-restarts: canary 1" in record


def test_ctrl_c_during_the_bake_puts_back_the_canary_exit_130(world: World) -> None:
    result = run(world, Hook(promote=False, cancel=threading.Event()))
    assert result.exit_code == ExitCode.INTERRUPTED
    assert {h.name: h.outcome for h in result.hosts}["web1"] == "rolled_back"
    assert world.head["web1"] == OLD


def test_a_canary_that_fails_its_gates_is_never_baked(world: World) -> None:
    world.script[("web1", "health")] = "fail"
    hook = Hook(promote=True)
    result = run(world, hook)
    assert [c[0] for c in hook.calls] == ["before"]
    assert result.outcome == "rolled_back"


def test_the_report_shape_is_the_documented_one() -> None:
    report = CanaryReport(["web1"], 60.0, Verdict.ROLLED_BACK, "x", ["web2"])
    doc = report.to_dict()
    assert {"hosts", "bake_s", "verdict", "metrics"} <= set(doc)
    assert doc["verdict"] == "rolled_back" and doc["baseline"] == "hosts"


def test_a_canary_left_in_place_fails_the_run() -> None:
    from cookcam_ops.deploy.result import HostResult
    from cookcam_ops.deploy.run import RunMeta

    samplers = {"web1": FakeSampler(lambda k: healthy(k, restarts=k)), "web2": FakeSampler(healthy)}
    bake = bake_of(samplers, auto_rollback=False)
    bake.after_switch(["web1"], ["web2"])
    meta = RunMeta("deploy", "prod", canary=CanaryRun(FAST, bake))
    hosts = [
        HostResult("web1", OLD, NEW, Outcome.DEPLOYED),
        HostResult("web2", OLD, NEW, Outcome.SKIPPED),
    ]
    result = meta.finish([plan("web1"), plan("web2")], hosts, [])
    assert result.outcome == "failed" and result.exit_code == ExitCode.CHECKS_FAILED
    assert result.to_dict()["canary"]["verdict"] == "failed"
    assert any(c.name == "canary:pm2-restarts" and c.status.value == "fail" for c in result.checks)
