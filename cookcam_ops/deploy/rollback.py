"""`rollback`: every host back to the release before the fleet's current one, or to --to.

The release to go back to comes from the audit logs on the hosts (see audit.rollback_target),
so it works when hosts were left on different releases: they all converge on one. No git fetch
and, when the target is the release kept beside the app, no npm and no build.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cookcam_ops.config import Strategy
from cookcam_ops.deploy import audit, gates
from cookcam_ops.deploy.facts import FactsQuery, HostFacts, facts_script
from cookcam_ops.deploy.lock import Then, local_user
from cookcam_ops.deploy.plan import HostPlan, PlanInput, plan_host
from cookcam_ops.deploy.playbook import Playbook
from cookcam_ops.deploy.refs import ref_candidates, short, validate_ref
from cookcam_ops.deploy.result import RunResult
from cookcam_ops.deploy.run import (
    Confirm,
    Preview,
    Run,
    RunMeta,
    environment_for,
    open_run,
    playbooks,
)
from cookcam_ops.deploy.steps import RunContext
from cookcam_ops.history import HistoryRecord
from cookcam_ops.pm2.apply import Apply
from cookcam_ops.remote.fanout import targets_for
from cookcam_ops.report import Check, Status

if TYPE_CHECKING:
    from cookcam_ops.config import EnvironmentConfig, LoadedConfig
    from cookcam_ops.deploy.observer import DeployObserver
    from cookcam_ops.deploy.session import Connector


@dataclass(frozen=True)
class RollbackRequest:
    """What the user asked for."""

    environment: str
    to: str | None = None
    accept_new_host_keys: bool = False
    command_line: str = "rollback"


def choose_target(facts: dict[str, HostFacts], to: str | None) -> tuple[str | None, str]:
    """(target SHA, why) from --to as resolved on the hosts, or from the audit logs."""
    if to is not None:
        shas = {f.target for f in facts.values() if f.target}
        if len(shas) == 1 and all(f.target for f in facts.values()):
            return shas.pop(), f"--to {to}"
        return None, f"--to {to} does not resolve to one commit on every host"
    found = audit.rollback_target(
        {label: f.head for label, f in facts.items()},
        {label: f.history for label, f in facts.items()},
    )
    if found is None:
        return None, (
            "no earlier release in the hosts' audit logs; give one with --to SHA "
            "(see `cookcam-ops history`)"
        )
    sha, rec = found
    return sha, (
        f"the release before {short(rec.to_sha)} (deployed by {rec.user} at "
        f"{rec.time}, run {rec.id[:8]})"
    )


def rollback_batch(env: EnvironmentConfig, plans: list[HostPlan]) -> int:
    """Hosts switched at a time: every host at once under releases (a kept, complete release
    is only a symlink and a reload away, and a fleet split between releases is what a rollback
    ends), batch_size in place (each host may need a build), and batch_size too when a host
    must stop the app before starting it again (fork mode on either side: all at once would
    leave the whole fleet refusing connections together)."""
    restart = any(p.pm2 is not None and p.pm2.how is Apply.RESTART for p in plans)
    if env.strategy == Strategy.RELEASES and not restart:
        return max(1, len(plans))
    return env.batch_size


def releases(facts: dict[str, HostFacts], shas: set[str]) -> dict[str, audit.Release]:
    """Who put each SHA in place and when, from every host's audit log."""
    records: list[HistoryRecord] = [r for f in facts.values() for r in f.history]
    return {sha: audit.describe_release(records, sha) for sha in shas}


def _prepare(
    loaded: LoadedConfig, req: RollbackRequest, book: Playbook, run: Run
) -> tuple[list[HostPlan], list[Check], Preview]:
    """Connect, lock and read facts and audit logs in one round trip per host, choose the
    target (a second look where the target's ecosystem file must be read), plan."""
    app, fleet = loaded.config.app, run.fleet
    to = req.to
    cands = tuple(ref_candidates(to, app.remote, app.branch)) if to else ()
    query = FactsQuery(app.remote, app.name, False, cands, history=True)
    answered = run.connect(
        req.command_line,
        req.environment,
        then=lambda t: Then(facts_script(t, query), book.facts_timeout),
    )
    first = fleet.gather(query, book.facts_timeout, answered)
    target, why = choose_target(first, to)
    fleet.observer.phase(f"target {short(target)}: {why}" if target else why)
    if target is None:
        plans = [
            HostPlan(t, "rollback", first[t.label].head, None, False, False, None, (), why)
            for t in fleet.targets
        ]
        return plans, [Check("target", Status.FAIL, why)], Preview("rollback", "", [], [])
    # The second look resolves the target on every host and reads its ecosystem file, so the
    # rollback puts back the PM2 settings it was deployed with (a kept release included).
    facts = (
        first
        if to
        else fleet.gather(FactsQuery(app.remote, app.name, False, (target,)), book.facts_timeout)
    )
    plans = [
        plan_host(PlanInput(book, app, t, "rollback", target, to), facts[t.label])
        for t in fleet.targets
    ]
    checks = [
        Check("target", Status.PASS, f"{short(target)}: {why}"),
        *gates.fact_checks(plans, facts, app, own_lock=True),
    ]
    shas = {p.from_sha for p in plans if p.from_sha} | {target}
    return plans, checks, Preview("rollback", req.environment, plans, checks, releases(first, shas))


def rollback_environment(
    loaded: LoadedConfig,
    req: RollbackRequest,
    *,
    observer: DeployObserver,
    confirm: Confirm,
    connector: Connector | None = None,
) -> RunResult:
    """Roll every host of the environment back; see the module docstring for where to."""
    from cookcam_ops.remote.fanout import ssh_connector

    meta = RunMeta("rollback", req.environment)
    if req.to is not None:
        validate_ref(req.to, "--to")
    env = environment_for(loaded, req.environment)
    _, book = playbooks(loaded, env.strategy)
    connector = connector or ssh_connector(loaded, env, req.accept_new_host_keys)
    with open_run(targets_for(loaded, env), connector, observer) as run:
        plans, checks, preview = _prepare(loaded, req, book, run)
        stopped = meta.early(plans, checks)
        if stopped is not None:
            return stopped
        run.confirm(confirm, preview)
        ctx = RunContext(
            run_id=run.fleet.run_id,
            action="rollback",
            user=local_user(),
            ref=req.to or plans[0].to_sha,
            app=loaded.config.app,
            observer=observer,
            rollback_playbook=book,
            cancel=run.cancel,
            auto_rollback=True,
            batch_size=rollback_batch(env, plans),
            cuts=run.guard.cuts,
            pending=run.fleet.pending,
        )
        return run.execute(meta, plans, checks, ctx)
