"""`deploy`: validate, connect, lock, gather facts, plan, check, confirm, execute, release.

The command calls `deploy_environment` with an observer (progress) and a confirm callback (the
prompt); it gets back a RunResult. Nothing here prints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cookcam_ops.canary.bake import CanaryRun, canary_settings, new_bake
from cookcam_ops.deploy import gates
from cookcam_ops.deploy.engine import execute
from cookcam_ops.deploy.facts import FactsQuery
from cookcam_ops.deploy.fleet import Fleet, interrupts
from cookcam_ops.deploy.lock import local_user, new_claim
from cookcam_ops.deploy.plan import HostPlan, PlanInput, plan_host
from cookcam_ops.deploy.playbook import Playbook, load_playbook, playbook_path
from cookcam_ops.deploy.refs import ref_candidates, validate_ref
from cookcam_ops.deploy.result import (
    PLANNED,
    PLANNED_HOST,
    SKIPPED,
    HostResult,
    RunResult,
    StepResult,
    run_outcome,
)
from cookcam_ops.deploy.steps import RunContext
from cookcam_ops.errors import ChecksFailed, ConfigError, Interrupted
from cookcam_ops.report import Check, Status, checks_ok

if TYPE_CHECKING:
    from cookcam_ops.config import EnvironmentConfig, LoadedConfig
    from cookcam_ops.deploy.audit import Release
    from cookcam_ops.deploy.observer import DeployObserver
    from cookcam_ops.deploy.session import Connector
    from cookcam_ops.remote.fanout import Target


@dataclass(frozen=True)
class DeployRequest:
    """What the user asked for."""

    environment: str
    ref: str | None = None
    dry_run: bool = False
    batch: int | None = None
    auto_rollback: bool = True
    accept_new_host_keys: bool = False
    command_line: str = "deploy"
    canary: bool = False  # the first batch bakes before the rest (settings: ops.yaml canary:)
    canary_hosts: int | None = None
    bake_s: float | None = None


@dataclass(frozen=True)
class Preview:
    """What the user is asked to confirm: each host's from -> to, and the checks so far."""

    action: str
    environment: str
    plans: list[HostPlan]
    checks: list[Check]
    releases: dict[str, Release] = field(default_factory=dict)


Confirm = Callable[[Preview], bool]


def environment_for(loaded: LoadedConfig, name: str) -> EnvironmentConfig:
    """The environment, refusing settings its strategy cannot work with."""
    env = loaded.environment(name)
    if env.strategy == "releases" and loaded.config.app.env_file.startswith("/"):
        raise ConfigError(f"app.env_file: '{loaded.config.app.env_file}' is absolute, but "
                          f"environments.{name} uses strategy: releases",
                          hint="give a name relative to the app (each release keeps its copy; "
                               "the deployed one lives in APP/shared)")
    return env


def targets_for(loaded: LoadedConfig, env: EnvironmentConfig) -> list[Target]:
    """Each host with its app path, port and URLs resolved."""
    from cookcam_ops.remote.fanout import target

    return [target(h, loaded.config.app, env) for h in env.hosts]


def playbooks(loaded: LoadedConfig, strategy: str = "in-place") -> tuple[Playbook, Playbook]:
    """(deploy, rollback) playbooks for the strategy, loaded and validated before connecting."""
    return (load_playbook(playbook_path(loaded, "deploy", strategy)),
            load_playbook(playbook_path(loaded, "rollback", strategy)))


def planned_hosts(plans: list[HostPlan]) -> list[HostResult]:
    """Dry-run host entries: each step planned (detail = its command) or skipped."""
    out = []
    for p in plans:
        steps = [StepResult(s.name, SKIPPED if s.skip else PLANNED, 0.0, s.skip or s.display)
                 for s in p.steps]
        outcome = "nothing_to_do" if p.nothing_to_do else ("failed" if p.blocked else
                                                          PLANNED_HOST)
        out.append(HostResult(p.label, p.from_sha, p.to_sha, outcome, steps, pm2=p.pm2))
    return out


def preflight_steps(plans: list[HostPlan], checks: list[Check]) -> dict[str, list[StepResult]]:
    """The lock and checklist steps' results per host, as the JSON lists them."""
    out: dict[str, list[StepResult]] = {}
    for p in plans:
        mine = [c for c in checks if c.name.startswith("checklist:") and c.host in (p.label,
                                                                                    None)]
        bad = [c for c in mine if c.status is Status.FAIL]
        res = []
        for s in p.steps:
            if s.kind == "lock":
                res.append(StepResult(s.name, "ok", 0.0, "taken before any step"))
            elif s.kind == "checklist":
                res.append(StepResult(s.name, "failed" if bad else "ok", 0.0,
                                      f"{len(mine)} items" + (f", {len(bad)} failed" if bad
                                                              else "")))
        out[p.label] = res
    return out


def _gate_checks(loaded: LoadedConfig, req: DeployRequest, book: Playbook,
                 fleet: Fleet[DeployObserver], *, target_sha: str | None) -> list[Check]:
    kinds = {s.builtin for s in book.steps}
    checks: list[Check] = []
    if "smoke" in kinds or req.canary:  # a bake signs in and reaches the hosts as smoke does
        checks += gates.smoke_preflight(loaded, req.environment, [t.label for t in fleet.targets])
    if "checklist" in kinds and target_sha:
        fleet.observer.phase("running the checklist's server half")
        checks += gates.checklist_gate(loaded, req.environment, fleet.open_hosts(),
                                       target_sha, own_lock=not req.dry_run)
    return checks


@dataclass(frozen=True)
class RunMeta:
    """What every ending of a run shares: its action, environment and start time (and, with
    --canary, the canary's report)."""

    action: str
    environment: str
    started: float = field(default_factory=time.monotonic)
    canary: CanaryRun | None = None

    def finish(self, plans: list[HostPlan], hosts: list[HostResult], checks: list[Check], *,
               outcome: str | None = None, interrupted: bool = False) -> RunResult:
        """The RunResult of this run, its outcome from its hosts unless given."""
        shas = {p.to_sha for p in plans if p.to_sha}
        outcome = outcome or run_outcome(self.action, hosts)
        canary = None if self.canary is None else self.canary.report(
            [p.label for p in plans if not p.nothing_to_do], outcome)
        if canary is not None and canary.failed:  # kept where it is (--no-auto-rollback)
            outcome = "failed"
        return RunResult(action=self.action, environment=self.environment, outcome=outcome,
                         target_sha=shas.pop() if len(shas) == 1 else None, hosts=hosts,
                         checks=checks + (canary.checks() if canary else []),
                         duration_s=time.monotonic() - self.started,
                         interrupted=interrupted, plans=plans, canary=canary)

    def early(self, plans: list[HostPlan], checks: list[Check]) -> RunResult | None:
        """The result when the run stops before any host changes (checks failed, or no work)."""
        if checks_ok(checks) and not all(p.nothing_to_do for p in plans):
            return None
        pre = preflight_steps(plans, checks)
        hosts = [HostResult(p.label, p.from_sha, p.to_sha, "nothing_to_do" if p.nothing_to_do
                            else "failed", pre[p.label], pm2=p.pm2) for p in plans]
        return self.finish(plans, hosts, checks)


def _prepare(loaded: LoadedConfig, req: DeployRequest, book: Playbook,
             fleet: Fleet[DeployObserver], *,
             cancel: threading.Event) -> tuple[list[HostPlan], list[Check]]:
    """Connect, lock (unless a dry run), gather facts, plan and run the gates."""
    app = loaded.config.app
    ref = validate_ref(req.ref) if req.ref is not None else None
    fleet.connect_all()
    if not req.dry_run:
        fleet.lock_all(new_claim(req.command_line), req.environment)
    _check_cancel(cancel)
    facts = fleet.gather(FactsQuery(app.remote, app.name, True,
                                    tuple(ref_candidates(ref, app.remote, app.branch))),
                         book.facts_timeout)
    plans = [plan_host(PlanInput(book, app, t, "deploy", None, ref), facts[t.label])
             for t in fleet.targets]
    checks = gates.fact_checks(plans, facts, app, own_lock=not req.dry_run)
    shas = {p.to_sha for p in plans if p.to_sha}
    if checks_ok(checks) and not all(p.nothing_to_do for p in plans):
        checks += _gate_checks(loaded, req, book, fleet,
                               target_sha=next(iter(shas)) if len(shas) == 1 else None)
    _check_cancel(cancel)
    return plans, checks


def deploy_environment(loaded: LoadedConfig, req: DeployRequest, *, observer: DeployObserver,
                       confirm: Confirm, connector: Connector | None = None) -> RunResult:
    """Deploy req.ref (default: the remote's branch) to every host of the environment."""
    from cookcam_ops.remote.fanout import ssh_connector

    if req.ref is not None:
        validate_ref(req.ref)
    env = environment_for(loaded, req.environment)
    canary = CanaryRun(canary_settings(env.canary, req.canary_hosts, req.bake_s)) \
        if req.canary else None
    meta = RunMeta("deploy", req.environment, canary=canary)
    book, back_book = playbooks(loaded, env.strategy)
    connector = connector or ssh_connector(loaded, env, req.accept_new_host_keys)
    cancel = threading.Event()
    with interrupts(cancel, observer.phase) as guard, \
            Fleet(targets_for(loaded, env), connector, observer) as fleet:
        plans, checks = _prepare(loaded, req, book, fleet, cancel=cancel)
        if req.dry_run:
            return meta.finish(plans, planned_hosts(plans), checks, outcome="dry_run")
        stopped = meta.early(plans, checks)
        if stopped is not None:
            return stopped
        _confirm(guard, confirm, Preview("deploy", req.environment, plans, checks))
        if canary is not None and canary.settings.bake_s > 0:
            canary.bake = new_bake(loaded, req.environment, canary.settings, fleet.sessions,
                                   observer=observer, cancel=cancel,
                                   auto_rollback=req.auto_rollback)
        ctx = RunContext(run_id=fleet.run_id, action="deploy", user=local_user(),
                         ref=req.ref or loaded.config.app.branch,
                         app=loaded.config.app, observer=observer, rollback_playbook=back_book,
                         cancel=cancel, smoke=gates.smoke_gate(loaded, req.environment),
                         auto_rollback=req.auto_rollback, batch_size=req.batch or env.batch_size,
                         cuts=guard.cuts, bake=canary.bake if canary else None)
        hosts = execute(plans, fleet.sessions, ctx, preflight_steps(plans, checks))
        return meta.finish(plans, hosts, checks, interrupted=cancel.is_set())


def _check_cancel(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise Interrupted("interrupted before any host changed; nothing to put back, locks "
                          "released")


def _confirm(guard: object, confirm: Confirm, preview: Preview) -> None:
    """Ask; Ctrl-C at the prompt is an interrupt (exit 130), 'no' is exit 1, nothing changed."""
    from cookcam_ops.deploy.fleet import InterruptGuard

    assert isinstance(guard, InterruptGuard)
    _check_cancel(guard.cancel)
    try:
        with guard.paused():
            answer = confirm(preview)
    except KeyboardInterrupt:
        raise Interrupted("interrupted at the prompt; nothing changed, locks released") from None
    if not answer:
        raise ChecksFailed(f"{preview.action} not confirmed; nothing changed, locks released")
