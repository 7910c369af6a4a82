"""Running host plans in batches, and putting hosts back when a step fails after the switch.

Rules: a failure before a host's switch changes nothing served there (the build aside is
removed); a failure at or after it puts that host back on the SHA it served (with the steps its
plan gives, `HostPlan.revert`, else the rollback playbook's), stops further batches, and puts
back every host this run already switched, so the fleet ends on one release (unless the run
keeps them: `RunContext.put_back_finished`).
A lost connection is reconnected, and what the lost session left running is stopped (before the
switch) or waited for (after it) before anything else runs there. Cancellation (Ctrl-C) is
checked between steps: the safe points.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import nullcontext, suppress
from dataclasses import replace
from enum import StrEnum

from cookcam_ops.common import parallel_map
from cookcam_ops.deploy import scripts
from cookcam_ops.deploy.bake import bake_canary, batches
from cookcam_ops.deploy.facts import FactsQuery
from cookcam_ops.deploy.plan import HostPlan, PlanInput, PlannedStep, plan_host, plan_steps
from cookcam_ops.deploy.playbook import Playbook, StepKind
from cookcam_ops.deploy.result import HostResult, Outcome, StepResult, StepStatus, success_outcome
from cookcam_ops.deploy.session import HostSession
from cookcam_ops.deploy.steps import RunContext, record, run_step
from cookcam_ops.errors import HostError
from cookcam_ops.remote.protocol import q


class Stop(StrEnum):
    """Why a host's steps stopped short."""

    LOST = "lost"  # the connection dropped
    FAILED = "failed"  # a step failed
    INTERRUPTED = "interrupted"  # Ctrl-C (or SIGTERM, SIGHUP) at a safe point


def _remaining(hr: HostResult, steps: Sequence[PlannedStep], why: str) -> None:
    done = {s.name for s in hr.steps}
    hr.steps.extend(
        StepResult(p.name, StepStatus.SKIPPED, 0.0, why)
        for p in steps
        if p.name not in done and not p.preflight
    )


def _run_steps(
    session: HostSession,
    hp: HostPlan,
    ctx: RunContext,
    hr: HostResult,
    *,
    started: float,
    reverting: bool = False,
    prefix: str = "",
) -> Stop | None:
    """Run a plan's steps in order; None when all passed, else why it stopped.

    reverting: putting the host back (not stopped by Ctrl-C, never cut); prefix goes before
    each step's name in the results."""
    for ps in hp.steps:
        if ps.preflight:
            continue
        name = prefix + ps.name
        if ps.skip:
            hr.steps.append(StepResult(name, StepStatus.SKIPPED, 0.0, ps.skip))
            continue
        if ctx.cancel.is_set() and not reverting:
            return Stop.INTERRUPTED
        if ps.switch:
            hr.touched = True
        ctx.observer.step_started(hr.name, name)
        cuttable = not hr.touched and not reverting  # before the switch: a 2nd Ctrl-C may cut
        try:
            with ctx.cuts.cuttable(session) if cuttable else nullcontext():
                res = run_step(session, hp, ps, ctx, started)
        except HostError as e:
            res = StepResult(ps.name, StepStatus.FAILED, 0.0, str(e))
        res = StepResult(name, res.status, res.duration_s, res.detail)
        hr.steps.append(res)
        ctx.observer.step_finished(hr.name, res)
        if session.lost:
            return Stop.LOST
        if not res.ok:
            return Stop.FAILED
    return None


def _plan_back(session: HostSession, hp: HostPlan, ctx: RunContext, book: Playbook) -> HostPlan:
    """The rollback playbook's plan back to hp.from_sha, from a fresh look at the host."""
    query = FactsQuery(
        remote=ctx.app.remote, app_name=ctx.app.name, fetch=False, candidates=(hp.from_sha or "",)
    )
    facts = ctx.gather(session, hp.target, query, book.facts_timeout)
    inp = PlanInput(book, ctx.app, hp.target, "rollback", hp.from_sha, None, auto=True)
    back = plan_host(inp, facts)
    return _health_only(back, ctx, book) if back.nothing_to_do else back


def _way_back(session: HostSession, hp: HostPlan, ctx: RunContext) -> tuple[HostPlan, str]:
    """(the plan that puts the host back, the prefix of its steps' names): the plan's own
    revert steps as they are named, else the rollback playbook's as rollback:NAME."""
    if hp.revert is not None:
        return replace(hp, steps=hp.revert), ""
    assert ctx.rollback_playbook is not None, "a plan without revert steps needs the playbook"
    return _plan_back(session, hp, ctx, ctx.rollback_playbook), "rollback:"


def revert_host(session: HostSession, hp: HostPlan, ctx: RunContext, hr: HostResult) -> bool:
    """Put a host back on hp.from_sha (see _way_back); True when healthy there."""
    for _attempt in range(2):
        if not session.ensure():
            hr.steps.append(
                StepResult("rollback", StepStatus.FAILED, 0.0, f"{hr.name}: unreachable")
            )
            return False
        try:
            back, prefix = _way_back(session, hp, ctx)
        except HostError:
            continue
        if back.blocked:
            hr.steps.append(StepResult("rollback", StepStatus.FAILED, 0.0, back.blocked))
            return False
        why = _run_steps(
            session, back, ctx, hr, started=time.monotonic(), reverting=True, prefix=prefix
        )
        if why is None:
            return True
        if why != Stop.LOST:
            return False
    return False


def _health_only(back: HostPlan, ctx: RunContext, book: Playbook) -> HostPlan:
    """The host still has the old checkout (its switch failed before changing it): check it."""
    inp = PlanInput(book, ctx.app, back.target, "rollback", back.to_sha, None, auto=True)
    sha = back.to_sha or ""
    steps = plan_steps(
        inp,
        from_sha=sha,
        to_sha=sha,
        needs_build=False,
        lockfile_changed=False,
        exec_mode=back.exec_mode,
    )
    return replace(back, steps=tuple(s for s in steps if s.kind == StepKind.HEALTH))


def _reap(session: HostSession, hp: HostPlan, ctx: RunContext, touched: bool) -> None:
    """After a reconnect: stop (or, past the switch, wait for) what the lost session started."""
    wait_s = (
        max((s.timeout for s in hp.steps if s.switch or s.after_switch), default=60.0)
        if touched
        else 0.0
    )
    with suppress(HostError):
        session.run(scripts.reap(hp.target.ops_dir, ctx.run_id, wait_s), timeout=wait_s + 30)


def _cleanup_build(session: HostSession, hp: HostPlan) -> None:
    """Remove what a run built aside before its switch (never a release it did not make)."""
    if hp.scratch:
        with suppress(HostError):
            session.run(f"rm -rf {q(hp.scratch)}", timeout=60)


def _settle(
    session: HostSession,
    hp: HostPlan,
    ctx: RunContext,
    hr: HostResult,
    *,
    why: Stop,
    started: float,
) -> None:
    """After a host stopped short: clean up, or put it back; then record what happened."""
    if (why == Stop.LOST or session.lost) and not session.reconnect():
        hr.outcome = Outcome.UNREACHABLE
        return
    if why == Stop.LOST:
        _reap(session, hp, ctx, hr.touched)
    if not hr.touched:
        _cleanup_build(session, hp)
        hr.outcome = Outcome.FAILED
    elif not ctx.auto_rollback:
        hr.outcome = Outcome.FAILED
    elif revert_host(session, hp, ctx, hr):
        hr.outcome = Outcome.ROLLED_BACK if hp.action == "deploy" else Outcome.FAILED
    else:
        hr.outcome = Outcome.ROLLBACK_FAILED
    _safe_record(session, hp, ctx, hr, started=started)


def _safe_record(
    session: HostSession,
    hp: HostPlan,
    ctx: RunContext,
    hr: HostResult,
    *,
    started: float,
    revert: bool = False,
) -> None:
    """One audit record for the host, best effort (a record must not mask the outcome)."""
    if revert:  # a host put back after it had finished: a record of its own, from -> to swapped
        action = "rollback" if hp.action == "deploy" else "deploy"
        outcome = (
            Outcome.ROLLBACK_FAILED
            if hr.outcome == Outcome.ROLLBACK_FAILED
            else Outcome.ROLLED_BACK
        )
        from_sha, to_sha = hp.to_sha, hp.from_sha
    else:
        action, from_sha, to_sha = hp.action, hp.from_sha, hp.to_sha
        outcome = hr.outcome
    try:
        if session.ensure():
            record(
                session,
                hp,
                ctx,
                action=action,
                outcome=outcome,
                from_sha=from_sha,
                to_sha=to_sha,
                duration_s=time.monotonic() - started,
            )
    except HostError:
        pass


def run_host(
    session: HostSession, hp: HostPlan, ctx: RunContext, preflight: list[StepResult]
) -> HostResult:
    """A host's whole plan, with its own clean-up or rollback when it stops short."""
    hr = HostResult(hp.label, hp.from_sha, hp.to_sha, steps=list(preflight), pm2=hp.pm2)
    started = time.monotonic()
    try:
        why = _run_steps(session, hp, ctx, hr, started=started)
    except Exception as e:  # a bug must still leave the host put back and recorded
        hr.steps.append(StepResult("internal-error", StepStatus.FAILED, 0.0, type(e).__name__))
        why = Stop.FAILED
    if why is None:
        hr.outcome = success_outcome(hp.action)
    else:
        _remaining(
            hr,
            hp.steps,
            "interrupted" if why == Stop.INTERRUPTED else "not run: an earlier step failed",
        )
        _settle(session, hp, ctx, hr, why=why, started=started)
    ctx.observer.host_finished(hr.name, hr.outcome)
    return hr


def _revert_done(session: HostSession, hp: HostPlan, ctx: RunContext, hr: HostResult) -> HostResult:
    """Put back a host that finished, because another host failed (or Ctrl-C)."""
    started = time.monotonic()
    ok = revert_host(session, hp, ctx, hr)
    hr.outcome = (
        (Outcome.ROLLED_BACK if hp.action == "deploy" else Outcome.FAILED)
        if ok
        else Outcome.ROLLBACK_FAILED
    )
    _safe_record(session, hp, ctx, hr, started=started, revert=True)
    ctx.observer.host_finished(hr.name, hr.outcome)
    return hr


def execute(
    plans: list[HostPlan],
    sessions: dict[str, HostSession],
    ctx: RunContext,
    preflight: dict[str, list[StepResult]],
) -> list[HostResult]:
    """Run plans in batches of ctx.batch_size; stop and put back on the first failure.

    With ctx.bake (deploy --canary) the first batch is the canary, baked before the rest: a
    verdict against it stops the run like a failure does, and puts the canary back.
    """
    results = {
        p.label: HostResult(
            p.label,
            p.from_sha,
            p.to_sha,
            outcome=Outcome.NOTHING_TO_DO if p.nothing_to_do else Outcome.SKIPPED,
            steps=list(preflight.get(p.label, [])),
            pm2=p.pm2,
        )
        for p in plans
    }
    todo = [p for p in plans if not p.nothing_to_do]
    success = success_outcome(ctx.action)
    finished: list[HostPlan] = []
    stop = False
    bake = ctx.bake
    planned = batches(todo, ctx.batch_size, bake.hosts if bake else None)
    for n, batch in enumerate(planned):
        canary, rest = bake is not None and n == 0, todo[len(batch) :]
        if n == len(planned) - 1 and not canary:  # their records go with the locks' release
            ctx.last_batch = frozenset(p.label for p in batch)
        if canary and bake is not None and not ctx.cancel.is_set():
            bake.before_switch([p.label for p in batch], [p.label for p in rest])
        if stop or ctx.cancel.is_set():
            break
        ctx.observer.phase(
            f"{'canary' if canary else f'batch {n + 1}'}: {', '.join(p.label for p in batch)}"
        )
        for hr in parallel_map(
            batch, lambda p: run_host(sessions[p.label], p, ctx, preflight.get(p.label, []))
        ):
            results[hr.name] = hr
        finished += [p for p in batch if results[p.label].outcome == success]
        stop = any(results[p.label].outcome != success for p in batch)
        if canary and not stop and not ctx.cancel.is_set():
            stop = not bake_canary(ctx, sessions, batch, rest)
    if (stop or ctx.cancel.is_set()) and ctx.auto_rollback and ctx.put_back_finished and finished:
        ctx.observer.phase(
            "putting back the hosts this run already switched: "
            + ", ".join(p.label for p in finished)
        )
        parallel_map(finished, lambda p: _revert_done(sessions[p.label], p, ctx, results[p.label]))
    for p in todo:
        if results[p.label].outcome == Outcome.SKIPPED:
            _remaining(results[p.label], p.steps, "not run: the run stopped before this host")
    return [results[p.label] for p in plans]
