"""Running one planned step on one host, built-ins included, into a StepResult."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cookcam_ops.deploy import audit, diskspace, scripts
from cookcam_ops.deploy.facts import FactsQuery, HostFacts, gather_facts
from cookcam_ops.deploy.handover import STABLE_WINDOW_MS
from cookcam_ops.deploy.persist import parse_settled, settle
from cookcam_ops.deploy.playbook import StepKind
from cookcam_ops.deploy.release_steps import cwd_verdict, ensure_in_release, prune, workers_of
from cookcam_ops.deploy.result import StepResult, StepStatus, success_outcome
from cookcam_ops.deploy.session import Cuts
from cookcam_ops.remote import composite
from cookcam_ops.remote.composite import last_json

if TYPE_CHECKING:
    from cookcam_ops.config import AppConfig
    from cookcam_ops.deploy.bake import BakeHook
    from cookcam_ops.deploy.observer import DeployObserver
    from cookcam_ops.deploy.plan import HostPlan, PlannedStep
    from cookcam_ops.deploy.playbook import Playbook
    from cookcam_ops.deploy.session import HostSession
    from cookcam_ops.remote.fanout import Target
    from cookcam_ops.remote.protocol import RunResult

# (host label, connections) -> (ok, one-line detail): the smoke gate, run from this machine.
SmokeGate = Callable[[str, int | None], tuple[bool, str]]
# (session, target, query, timeout) -> the host's facts: how the engine looks again before a
# rollback (facts.gather_facts; a test gives its own).
Gather = Callable[["HostSession", "Target", FactsQuery, float], HostFacts]
RELOAD_RE = re.compile(r"@@reload rc=(-?\d+) t0=(\d+)")
LOG_RE = re.compile(r"@@pm2log=(\d+)")
CURRENT_RE = re.compile(r"^@@current=(.*)$", re.M)
PROCS_RE = re.compile(r"^@@procs=(\[.*\])$", re.M)
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PM2_SETTLE_S = 1.0


@dataclass
class RunContext:
    """What every step of a run shares."""

    run_id: str
    action: str
    user: str
    ref: str | None
    app: AppConfig
    observer: DeployObserver
    rollback_playbook: Playbook | None  # None when every plan carries its revert (migrate)
    cancel: threading.Event
    smoke: SmokeGate | None = None
    auto_rollback: bool = True
    batch_size: int = 1
    cuts: Cuts = field(default_factory=Cuts)
    bake: BakeHook | None = None  # deploy --canary: the first batch is baked before the rest
    kinds: Mapping[StepKind, StepFn] = field(default_factory=lambda: STEP_KINDS)
    gather: Gather = gather_facts
    # The run's records not written yet (the Fleet's: its release writes them), and the hosts
    # whose `record` step adds to them instead of writing: the run's last batch, set by the
    # engine (nothing can follow their record but the release, or a putting back, which writes
    # them first). None: every record is written at once.
    pending: audit.Pending | None = None
    last_batch: frozenset[str] = frozenset()
    # A failure puts back the hosts this run already finished too (the fleet ends on one
    # release); migrate-to-releases keeps them (a host migrated stays so; a re-run carries on).
    put_back_finished: bool = True


@dataclass(frozen=True)
class StepCall:
    """One planned step about to run on one host: what a step kind's function is given."""

    session: HostSession
    hp: HostPlan
    ps: PlannedStep
    ctx: RunContext
    host_started: float  # when this host's steps began (the audit record's duration)


# A step kind: (status, one-line detail); HostError propagates (the engine reconnects).
StepFn = Callable[[StepCall], tuple[StepStatus, str]]


def _clean(text: str, limit: int = 300) -> str:
    return ANSI_RE.sub("", text).replace("\r", "")[:limit]


def failure_detail(result: RunResult, timeout: float) -> str:
    """Why a remote command failed, in one line."""
    if result.timed_out or result.exit_code == 137:
        return f"timed out after {timeout:g}s"
    tail = _clean(result.tail(3))
    return f"exit {result.exit_code}" + (f": {tail}" if tail else "")


def _disk_paths(hp: HostPlan) -> tuple[str, str]:
    """Where a step writes: the app's directory and the state directory (builds, releases)."""
    return hp.target.app_path, hp.target.ops_dir


def _remote(session: HostSession, hp: HostPlan, ps: PlannedStep, ctx: RunContext) -> RunResult:
    before = diskspace.precheck(_disk_paths(hp), ps.min_free_mb) if ps.min_free_mb else ""
    command = scripts.wrap(
        ps.command,
        cwd=hp.target.app_path,
        ops_path=hp.target.ops_dir,
        run_id=ctx.run_id,
        timeout=ps.timeout,
        before=before,
    )

    def output(stream: str, line: str) -> None:
        ctx.observer.step_output(hp.label, stream, line)

    return session.run(command, timeout=ps.timeout + scripts.LOCAL_SLACK_S, on_line=output)


def _disk_full(
    session: HostSession, hp: HostPlan, ps: PlannedStep, result: RunResult
) -> str | None:
    """Why the step failed for want of disk space (checked before, or said in its output)."""
    where = " and ".join(dict.fromkeys(_disk_paths(hp)))
    if ps.min_free_mb and (refused := diskspace.refused(result, ps.min_free_mb, where)):
        return refused
    line = diskspace.enospc_line(result)
    if line is None:
        return None
    free = diskspace.parse_free(
        session.run(diskspace.free_command(_disk_paths(hp)), timeout=30).stdout
    )
    return diskspace.full_detail(_clean(line, 160), free, where)


def _run_template(
    session: HostSession, hp: HostPlan, ps: PlannedStep, ctx: RunContext
) -> tuple[bool, str]:
    detail = ""
    for attempt in range(ps.retries + 1):
        if attempt:
            time.sleep(ps.delay)
        result = _remote(session, hp, ps, ctx)
        full = _disk_full(session, hp, ps, result)
        if full is not None:  # a full disk does not go away by trying again
            return False, full
        if result.ok:
            return True, "" if not attempt else f"passed on attempt {attempt + 1}"
        detail = failure_detail(result, ps.timeout)
        if ctx.cancel.is_set():
            break
    return False, detail


def _json_step(
    session: HostSession, hp: HostPlan, ps: PlannedStep, ctx: RunContext
) -> tuple[bool, str]:
    result = _remote(session, hp, ps, ctx)
    doc = last_json(result.stdout)
    if doc is None:
        return False, failure_detail(result, ps.timeout)
    return doc.get("ok") is True, _clean(str(doc.get("detail", "")))


def _instances(session: HostSession, app_name: str) -> list[dict[str, Any]] | str:
    doc = last_json(session.run(composite.pm2_jlist(), timeout=30).stdout)
    if doc is None or "error" in doc:
        return f"pm2 jlist: {(doc or {}).get('error', 'no JSON')}"
    return [
        p for p in doc.get("processes") or [] if isinstance(p, dict) and p.get("name") == app_name
    ]


def _judge_instances(procs: list[dict[str, Any]], t0: int) -> str | None:
    if not procs:
        return "no PM2 process of that name after the reload"
    for p in procs:
        uptime = p.get("pm_uptime")
        if p.get("status") != "online":
            return f"instance {p.get('pm_id')} is {p.get('status')}"
        if not isinstance(uptime, int) or uptime < t0:
            return f"instance {p.get('pm_id')} was not replaced (pm_uptime before the reload)"
    return None


def _crash_looping(procs: list[dict[str, Any]], restarts: dict[str, Any]) -> str | None:
    """An instance errored, or restarted again since the first look: it will not settle."""
    for p in procs:
        key = str(p.get("pm_id"))
        if p.get("status") in ("errored", "stopped"):
            return f"instance {key} is {p.get('status')}"
        before = restarts.setdefault(key, p.get("restart_time"))
        now = p.get("restart_time")
        if isinstance(before, int) and isinstance(now, int) and now > before:
            return f"instance {key} keeps restarting (crash loop after the reload)"
    return None


def verify_pm2(
    session: HostSession,
    app_name: str,
    t0: int,
    timeout: float,
    last: list[dict[str, Any]] | None = None,
) -> tuple[bool, str]:
    """Every instance online and started after t0, the same on two looks a moment apart.

    last, when given, receives the processes of the final look (their cwd included).
    """
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    restarts: dict[str, Any] = {}
    while True:
        procs = _instances(session, app_name)
        if isinstance(procs, list) and (looping := _crash_looping(procs, restarts)):
            return False, looping
        problem = procs if isinstance(procs, str) else _judge_instances(procs, t0)
        if problem is None and isinstance(procs, list):
            pids = sorted(str(p.get("pid")) for p in procs)
            if seen == pids:
                if last is not None:
                    last[:] = procs
                return True, f"{len(procs)} instance(s) online, all started by this reload"
            seen = pids
        else:
            seen = []
        if time.monotonic() > deadline:
            return False, str(problem or "instances kept changing")
        time.sleep(PM2_SETTLE_S)


def _verify(
    session: HostSession,
    ps: PlannedStep,
    ctx: RunContext,
    stdout: str,
    *,
    t0: int,
    procs: list[dict[str, Any]],
) -> tuple[bool, str]:
    """Every instance online and new: from the overlap's own look, else by watching jlist."""
    watched = PROCS_RE.search(stdout) if ps.overlap else None
    if watched is None:
        return verify_pm2(session, ctx.app.name, t0, max(10.0, ps.timeout / 4), procs)
    procs[:] = [
        p
        for p in json.loads(watched.group(1))
        if isinstance(p, dict) and p.get("name") == ctx.app.name
    ]
    problem = _judge_instances(procs, t0)
    return problem is None, problem or (
        f"{len(procs)} instance(s) online, all new, unchanged for "
        f"{STABLE_WINDOW_MS / 1000:g}s after the old ones stopped"
    )


def _reload(
    session: HostSession, hp: HostPlan, ps: PlannedStep, ctx: RunContext
) -> tuple[StepStatus, str]:
    result = _remote(session, hp, ps, ctx)
    m = RELOAD_RE.search(result.stdout)
    handed = last_json(result.stdout)  # a handover's own account, when one ran
    if m is None or m.group(1) != "0":
        why = _clean(str(handed.get("detail"))) if handed and handed.get("detail") else None
        return StepStatus.FAILED, why or failure_detail(result, ps.timeout)
    procs: list[dict[str, Any]] = []
    ok, detail = _verify(session, ps, ctx, result.stdout, t0=int(m.group(2)), procs=procs)
    if handed is not None and handed.get("ok") is True:
        detail = f"{_clean(str(handed.get('detail', '')))}; {detail}"
    if ok and hp.target.layout.switched_link is not None:
        current = CURRENT_RE.search(result.stdout)
        first = (
            workers_of({"processes": procs}, ctx.app.name),
            current.group(1).strip() if current else None,
        )
        ok, where = ensure_in_release(session, hp, ctx.app.name, ps.timeout, first)
        detail = f"{detail}; {where}"
    if not ok:
        return StepStatus.FAILED, detail
    offset = LOG_RE.search(result.stdout)
    settled = settle(
        session,
        ctx.app.name,
        int(offset.group(1)) if offset else None,
        hp.pm2.wanted if hp.pm2 is not None else None,
    )
    status, said = settled.verdict()
    changed = f"{hp.pm2.describe()}; " if hp.pm2 is not None and hp.pm2.changes else ""
    return status, f"{changed}{detail}; {said}"


def record(
    session: HostSession,
    hp: HostPlan,
    ctx: RunContext,
    *,
    action: str,
    outcome: str,
    from_sha: str | None,
    to_sha: str | None,
    duration_s: float,
    detail: str | None = None,
    defer: bool = False,
) -> str | None:
    """Append one audit record for this host (after the host's pending ones, in one write);
    with defer, leave it pending: the lock's release writes it. None when written or left
    pending, else why the write failed (the records are then left pending: the release tries
    them again, and says so if it fails too)."""
    rec = audit.new_record(
        run_id=ctx.run_id,
        action=action,
        user=ctx.user,
        host=hp.label,
        from_sha=from_sha,
        to_sha=to_sha,
        outcome=outcome,
        duration_s=duration_s,
        ref=ctx.ref,
        detail=detail,
    )
    if ctx.pending is not None and defer:
        ctx.pending.add(hp.label, rec)
        return None
    earlier = ctx.pending.take(hp.label) if ctx.pending is not None else []
    done = session.run(audit.append_command(hp.target.ops_dir, *earlier, rec), timeout=30)
    if done.exit_code == 0:
        return None
    if ctx.pending is not None:
        for r in (*earlier, rec):
            ctx.pending.add(hp.label, r)
    why = next(iter(done.stderr.strip().splitlines()[-1:]), "")
    return f"exit {done.exit_code}" + (f": {_clean(why, 160)}" if why else "")


def _record_step(
    session: HostSession, hp: HostPlan, ctx: RunContext, host_started: float
) -> tuple[StepStatus, str]:
    outcome = success_outcome(hp.action)
    defer = ctx.pending is not None and hp.label in ctx.last_batch
    failed = record(
        session,
        hp,
        ctx,
        action=hp.action,
        outcome=outcome,
        from_sha=hp.from_sha,
        to_sha=hp.to_sha,
        duration_s=time.monotonic() - host_started,
        defer=defer,
    )
    where = audit.history_path(hp.target.ops_dir)
    if failed is not None:  # the release served stays; the record is what CI should look at
        again = " (tried again with the lock's release)" if ctx.pending is not None else ""
        return StepStatus.WARN, f"{hp.action} {outcome}: NOT written to {where}, {failed}{again}"
    return StepStatus.OK, f"{hp.action} {outcome}: " + (
        f"to {where} with the lock's release" if defer else f"in {where}"
    )


def _smoke(hp: HostPlan, ps: PlannedStep, ctx: RunContext) -> tuple[bool, str]:
    if ctx.smoke is None:
        return True, "no smoke gate configured"
    return ctx.smoke(hp.label, ps.connections)


def _passed(result: tuple[bool, str]) -> tuple[StepStatus, str]:
    ok, detail = result
    return (StepStatus.OK if ok else StepStatus.FAILED), detail


def _preflight(call: StepCall) -> tuple[StepStatus, str]:
    return StepStatus.OK, "done before any host changed"


def _cwd_check(c: StepCall) -> tuple[StepStatus, str]:
    verdict = cwd_verdict(_remote(c.session, c.hp, c.ps, c.ctx).stdout, c.ctx.app.name)
    return _passed((verdict.ok, verdict.detail))


def _pm2_save(c: StepCall) -> tuple[StepStatus, str]:
    result = _remote(c.session, c.hp, c.ps, c.ctx)
    return parse_settled(result.stdout, c.ctx.app.name, None).verdict()


# The registry of step kinds the engine runs (the run context carries it; see ARCHITECTURE.md
# for adding one). Every kind has an entry: a test holds the keys to StepKind.
STEP_KINDS: Mapping[StepKind, StepFn] = MappingProxyType(
    {
        StepKind.LOCK: _preflight,
        StepKind.CHECKLIST: _preflight,
        StepKind.RUN: lambda c: _passed(_run_template(c.session, c.hp, c.ps, c.ctx)),
        StepKind.TEST_BUILD: lambda c: _passed(_json_step(c.session, c.hp, c.ps, c.ctx)),
        StepKind.HEALTH: lambda c: _passed(_json_step(c.session, c.hp, c.ps, c.ctx)),
        StepKind.RELOAD: lambda c: _reload(c.session, c.hp, c.ps, c.ctx),
        StepKind.SMOKE: lambda c: _passed(_smoke(c.hp, c.ps, c.ctx)),
        StepKind.RECORD: lambda c: _record_step(c.session, c.hp, c.ctx, c.host_started),
        StepKind.PRUNE: lambda c: prune(c.session, c.hp, c.ps),
        StepKind.HANDOVER: lambda c: _passed(_json_step(c.session, c.hp, c.ps, c.ctx)),
        StepKind.CWD_CHECK: _cwd_check,
        StepKind.PM2_SAVE: _pm2_save,
    }
)


def run_step(
    session: HostSession, hp: HostPlan, ps: PlannedStep, ctx: RunContext, host_started: float
) -> StepResult:
    """Run one step through the context's registry; HostError propagates (the engine
    reconnects and decides)."""
    started = time.monotonic()
    status, detail = ctx.kinds[ps.kind](StepCall(session, hp, ps, ctx, host_started))
    return StepResult(ps.name, status, time.monotonic() - started, detail)
