from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cookcam_ops.canary.bake import CanaryRun, canary_settings, new_bake
from cookcam_ops.deploy import gates
from cookcam_ops.deploy.facts import FactsQuery, facts_sections
from cookcam_ops.deploy.lock import Then, local_user
from cookcam_ops.deploy.plan import HostPlan, PlanInput, plan_host
from cookcam_ops.deploy.refs import ref_candidates, validate_ref
from cookcam_ops.deploy.result import Outcome, RunResult
from cookcam_ops.deploy.run import (
    Confirm,
    Preview,
    Run,
    RunMeta,
    check_cancel,
    environment_for,
    open_run,
    planned_hosts,
    playbooks,
)
from cookcam_ops.deploy.steps import RunContext
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import targets_for
from cookcam_ops.report import Check, checks_ok

if TYPE_CHECKING:
    from cookcam_ops.config import LoadedConfig
    from cookcam_ops.deploy.fleet import HostWork
    from cookcam_ops.deploy.observer import DeployObserver
    from cookcam_ops.deploy.playbook import Playbook
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


def _wants_checklist(book: Playbook) -> bool:
    return "checklist" in {s.builtin for s in book.steps}


def _first_trip(book: Playbook, query: FactsQuery) -> HostWork:
    """What each host runs in the lock's round trip: its facts and, when the playbook has the
    checklist step, the checklist's server half (judged once the plans say it is needed)."""
    from cookcam_ops.checklist.remote import CHECKLIST_TIMEOUT_S, checklist_sections

    def work(t: Target) -> Then:
        sections = facts_sections(t, query)
        if not (_wants_checklist(book) and t.toolchain.ok):
            return Then(composite.script(sections), book.facts_timeout)
        checklist = checklist_sections(t, query.candidates)
        return Then(
            composite.script(composite.merged(sections, checklist)),
            book.facts_timeout + CHECKLIST_TIMEOUT_S,
        )

    return work


def _gate_checks(
    loaded: LoadedConfig,
    req: DeployRequest,
    book: Playbook,
    run: Run,
    *,
    target_sha: str | None,
    answered: dict[str, str],
) -> list[Check]:
    fleet = run.fleet
    kinds = {s.builtin for s in book.steps}
    checks: list[Check] = []
    if "smoke" in kinds or req.canary:  # a bake signs in and reaches the hosts as smoke does
        checks += gates.smoke_preflight(loaded, req.environment, [t.label for t in fleet.targets])
    if "checklist" in kinds and target_sha:
        fleet.observer.phase("judging the checklist's server half")
        checks += gates.checklist_gate(
            loaded,
            req.environment,
            fleet.open_hosts(),
            target_sha,
            own_lock=not req.dry_run,
            answered=answered,
        )
    return checks


def _prepare(
    loaded: LoadedConfig, req: DeployRequest, book: Playbook, run: Run
) -> tuple[list[HostPlan], list[Check]]:
    """Connect; lock (unless a dry run), gather facts and run the checklist's server half in
    one round trip per host; plan and judge the gates."""
    app, fleet = loaded.config.app, run.fleet
    ref = validate_ref(req.ref) if req.ref is not None else None
    query = FactsQuery(
        app.remote, app.name, True, tuple(ref_candidates(ref, app.remote, app.branch))
    )
    answered = run.connect(
        req.command_line, req.environment, lock=not req.dry_run, then=_first_trip(book, query)
    )
    facts = fleet.gather(query, book.facts_timeout, answered)
    plans = [
        plan_host(PlanInput(book, app, t, "deploy", None, ref), facts[t.label])
        for t in fleet.targets
    ]
    checks = gates.fact_checks(plans, facts, app, own_lock=not req.dry_run)
    shas = {p.to_sha for p in plans if p.to_sha}
    if checks_ok(checks) and not all(p.nothing_to_do for p in plans):
        checks += _gate_checks(
            loaded,
            req,
            book,
            run,
            target_sha=next(iter(shas)) if len(shas) == 1 else None,
            answered=answered,
        )
    check_cancel(run.cancel)
    return plans, checks


def deploy_environment(
    loaded: LoadedConfig,
    req: DeployRequest,
    *,
    observer: DeployObserver,
    confirm: Confirm,
    connector: Connector | None = None,
) -> RunResult:
    """Deploy req.ref (default: the remote's branch) to every host of the environment."""
    from cookcam_ops.remote.fanout import ssh_connector

    if req.ref is not None:
        validate_ref(req.ref)
    env = environment_for(loaded, req.environment)
    canary = (
        CanaryRun(canary_settings(env.canary, req.canary_hosts, req.bake_s)) if req.canary else None
    )
    meta = RunMeta("deploy", req.environment, canary=canary)
    book, back_book = playbooks(loaded, env.strategy)
    connector = connector or ssh_connector(loaded, env, req.accept_new_host_keys)
    with open_run(targets_for(loaded, env), connector, observer) as run:
        plans, checks = _prepare(loaded, req, book, run)
        if req.dry_run:
            return meta.finish(plans, planned_hosts(plans), checks, outcome=Outcome.DRY_RUN)
        stopped = meta.early(plans, checks)
        if stopped is not None:
            return stopped
        run.confirm(confirm, Preview("deploy", req.environment, plans, checks))
        if canary is not None and canary.settings.bake_s > 0:
            canary.bake = new_bake(
                loaded,
                req.environment,
                canary.settings,
                run.fleet.sessions,
                observer=observer,
                cancel=run.cancel,
                auto_rollback=req.auto_rollback,
            )
        ctx = RunContext(
            run_id=run.fleet.run_id,
            action="deploy",
            user=local_user(),
            ref=req.ref or loaded.config.app.branch,
            app=loaded.config.app,
            observer=observer,
            rollback_playbook=back_book,
            cancel=run.cancel,
            smoke=gates.smoke_gate(loaded, req.environment),
            auto_rollback=req.auto_rollback,
            batch_size=req.batch or env.batch_size,
            cuts=run.guard.cuts,
            bake=canary.bake if canary else None,
            pending=run.fleet.pending,
        )
        return run.execute(meta, plans, checks, ctx)
