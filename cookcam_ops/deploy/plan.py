"""Planning is pure: facts in, the exact commands out. A dry run prints this plan.

A HostPlan lists every step of the playbook for one host with the command it will run (or why
it is skipped). The engine executes the same objects, so what a dry run shows is what runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cookcam_ops.config import Strategy
from cookcam_ops.deploy import audit, scripts
from cookcam_ops.deploy.playbook import DEFAULT_EXPECT, Playbook, Step, StepKind, render
from cookcam_ops.deploy.refs import short
from cookcam_ops.layout import releases as rel
from cookcam_ops.pm2 import ecosystem
from cookcam_ops.pm2.apply import Apply, ApplyPlan, plan_apply

if TYPE_CHECKING:
    from cookcam_ops.config import AppConfig
    from cookcam_ops.deploy.facts import HostFacts
    from cookcam_ops.remote.fanout import Target

LOCAL_KINDS = frozenset({StepKind.LOCK, StepKind.CHECKLIST, StepKind.SMOKE, StepKind.RECORD})


@dataclass(frozen=True)
class PlannedStep:
    """One step for one host: its exact command (empty for local or engine-run built-ins)."""

    name: str
    kind: StepKind
    command: str
    display: str
    timeout: float
    switch: bool
    after_switch: bool
    skip: str | None = None
    retries: int = 0
    delay: float = 1.0
    connections: int | None = None
    overlap: bool = False
    min_free_mb: int | None = None

    @property
    def preflight(self) -> bool:
        return self.kind in (StepKind.LOCK, StepKind.CHECKLIST)

    @property
    def remote(self) -> bool:
        return self.kind not in LOCAL_KINDS


@dataclass(frozen=True)
class HostPlan:
    """What will happen on one host."""

    target: Target
    action: str
    from_sha: str | None
    to_sha: str | None
    needs_build: bool
    lockfile_changed: bool
    exec_mode: str | None
    steps: tuple[PlannedStep, ...]
    blocked: str | None = None
    release: str | None = None  # releases: the release switched to (built by this run or kept)
    scratch: str | None = None  # what a failure before the switch removes (the build aside)
    from_release: str | None = None  # releases: the release served before (the rollback target)
    pm2: ApplyPlan | None = None  # the ecosystem settings the target changes, and how
    # The steps that put this host back after a failure at or after its switch, named as they
    # are reported; None: the engine plans them from the rollback playbook (deploy, rollback).
    # migrate-to-releases gives its restore here.
    revert: tuple[PlannedStep, ...] | None = None

    @property
    def label(self) -> str:
        return self.target.label

    @property
    def nothing_to_do(self) -> bool:
        """Not blocked, no step: on the target already (migrate: in the releases layout)."""
        return self.blocked is None and not self.steps


@dataclass(frozen=True)
class PlanInput:
    """Everything a host plan depends on besides the facts."""

    playbook: Playbook
    app: AppConfig
    target: Target
    action: str
    to_sha: str | None
    ref: str | None
    auto: bool = False  # a deploy's own rollback of a host: lock and record are the deploy's


@dataclass(frozen=True)
class ReleasePaths:
    """strategy: releases: the release switched to and the one served now (names)."""

    release: str
    from_release: str | None


def placeholders(
    inp: PlanInput, from_sha: str, to_sha: str, needs_build: bool, paths: ReleasePaths | None = None
) -> dict[str, str]:
    """The values run templates are filled with (each is shell-quoted when substituted)."""
    t = inp.target
    ops = t.ops_dir
    build, prev = f"{ops}/build", f"{ops}/prev"
    values = {
        **t.layout.placeholders(),
        "build_path": build,
        "prev_path": prev,
        "incoming_path": build if needs_build else prev,
        "branch": inp.app.branch,
        "remote": inp.app.remote,
        "app_name": inp.app.name,
        "to_sha": to_sha,
        "from_sha": from_sha,
        "ref": inp.ref or to_sha,
        "to_tree": t.layout.tree(to_sha),
        "port": str(t.port),
        "env_file": inp.app.env_file,
        "release_path": "",
        "release_name": "",
        "from_release_path": "",
        "keep_releases": str(t.keep_releases),
    }
    if paths is not None:
        release_path = f"{values['releases_path']}/{paths.release}"
        values.update(
            release_path=release_path,
            release_name=paths.release,
            build_path=release_path,
            incoming_path=release_path,
            from_release_path=f"{values['releases_path']}/{paths.from_release}"
            if paths.from_release
            else "",
        )
    return values


def _condition_holds(step: Step, needs_build: bool, lockfile_changed: bool) -> bool:
    return {
        "always": True,
        "needs_build": needs_build,
        "lockfile_changed": needs_build and lockfile_changed,
        "lockfile_unchanged": needs_build and not lockfile_changed,
    }[step.when]


def _reload(
    step: Step,
    inp: PlanInput,
    values: dict[str, str],
    exec_mode: str | None,
    apply: ApplyPlan | None,
) -> tuple[str, str]:
    """(command, display) of the reload built-in: the reload, what it applies, its checks."""
    t = inp.target
    link = t.layout.switched_link
    cmd = scripts.reload(
        scripts.ReloadSpec(
            inp.app.name,
            exec_mode,
            t.ops_dir,
            t.code_path,
            current=link,
            overlap=step.overlap,
            apply=apply,
            timeout=step.timeout,
        )
    )
    verb = "restart" if exec_mode == "fork_mode" else "reload"
    how = f"pm2 {verb} {inp.app.name} --update-env"
    if step.overlap and verb == "reload":
        how = (
            f"pm2 scale {inp.app.name} to twice its workers (new ones from current/), "
            "wait until they are ready, delete the old ones"
        )
    if apply is not None and apply.how is Apply.SCALE and apply.wanted is not None:
        how += f"; pm2 scale {inp.app.name} {apply.wanted.instances}"
    elif apply is not None and apply.how in (Apply.HANDOVER, Apply.RESTART):
        how = f"start {inp.app.name} again from {t.code_path}'s ecosystem file: " + (
            "beside the old workers, which stop once the new ones are ready"
            if apply.how is Apply.HANDOVER
            else "after the old processes stopped (fork mode: a gap)"
        )
    changes = f" [{apply.describe()}]" if apply is not None else ""
    extra = (
        (
            f"; every worker's /proc/PID/cwd in {values['release_path']} (else a "
            "zero-downtime handover to a PM2 app run from current/)"
        )
        if link
        else ""
    )
    return cmd, (
        f"{how}{changes}; then pm2 jlist: every instance online with a new "
        f"pm_uptime{extra}; SIGKILLs in PM2's log reported; pm2 save"
    )


def _builtin(
    step: Step,
    inp: PlanInput,
    values: dict[str, str],
    exec_mode: str | None,
    apply: ApplyPlan | None,
) -> tuple[str, str]:
    """(command, display) of a built-in step."""
    t = inp.target
    if step.builtin == "test_build":
        cmd = scripts.test_build(
            values["build_path"],
            step.timeout,
            inp.app.health_path,
            step.expect or DEFAULT_EXPECT,
            cwd=values["release_path"] or None,
        )
        return cmd, (
            f"node hostside/test_build.js {values['build_path']}/dist/index.js: NODE_ENV="
            f"production, spare port, wait for '{step.expect or DEFAULT_EXPECT}' and "
            f"{inp.app.health_path} 200, stop it"
        )
    if step.builtin == "reload":
        return _reload(step, inp, values, exec_mode, apply)
    if step.builtin == "health":
        cmd = scripts.health(t.local_url, step.retries, step.delay, values["to_sha"])
        return cmd, (
            f"node hostside/health_loop.js GET {t.local_url} on the host: 2 x 200 in "
            f"a row, commit {short(values['to_sha'])}, {step.retries} retries "
            f"{step.delay:g}s apart"
        )
    if step.builtin == "smoke":
        return "", f"smoke tests against {t.base_url} from this machine"
    if step.builtin == "record":
        return "", audit.record_display(t.history_file)
    if step.builtin == "prune":
        return "", (
            f"delete all but the newest {t.keep_releases} releases in "
            f"{values['releases_path']}, never current or the rollback target"
        )
    if step.builtin == "lock":
        return "", (
            f"{t.ops_dir}/lock with info.json (written aside, renamed into place) before "
            "any step; removed when the run ends"
        )
    return "", "the checklist's server half, before any host changes"


def _auto_skip(step: Step, inp: PlanInput) -> str | None:
    if inp.auto and step.builtin in ("lock", "checklist", "record", "prune"):
        return "done by the deploy itself"
    if inp.auto and step.builtin == "smoke":
        return "not run when putting a host back"
    return None


def plan_steps(
    inp: PlanInput,
    *,
    from_sha: str,
    to_sha: str,
    needs_build: bool,
    lockfile_changed: bool,
    exec_mode: str | None,
    paths: ReleasePaths | None = None,
    apply: ApplyPlan | None = None,
) -> tuple[PlannedStep, ...]:
    """Every playbook step for one host, with its command or the reason it is skipped."""
    values = placeholders(inp, from_sha, to_sha, needs_build, paths)
    switch_at = inp.playbook.switch_index
    out = []
    for i, step in enumerate(inp.playbook.steps):
        skip = _auto_skip(step, inp)
        if skip is None and not _condition_holds(step, needs_build, lockfile_changed):
            skip = f"when: {step.when} is false"
        if step.run is not None:
            command = display = render(step.run, values)
        else:
            command, display = _builtin(step, inp, values, exec_mode, apply)
        out.append(
            PlannedStep(
                name=step.name,
                kind=step.kind,
                command=command,
                display=display,
                timeout=step.timeout,
                switch=step.switch,
                after_switch=i > switch_at,
                skip=skip,
                retries=step.retries,
                delay=step.delay,
                connections=step.connections,
                overlap=step.overlap,
                min_free_mb=step.min_free_mb,
            )
        )
    return tuple(out)


def _blocked(t: Target, facts: HostFacts, to_sha: str | None, auto: bool) -> str | None:
    if not t.toolchain.ok:
        return t.toolchain.explanation()
    if facts.error:
        return facts.error
    if facts.head is None:
        return "the app checkout has no commit"
    if to_sha is None:
        return (
            facts.fetch_error and f"git fetch failed ({facts.fetch_error})"
        ) or "the target ref does not resolve to a commit on this host"
    if facts.dirty and not auto:  # putting a host back: checkout --force restores the tree
        return (
            f"the app checkout has {facts.dirty} modified tracked file(s); commit or discard "
            "them on the host first"
        )
    return None


def workspace_refusal(lockfile: str) -> str:
    """Why a build is refused when the lockfile is at the repository's root only."""
    return (
        f"the target commit has no {lockfile}, only a package-lock.json at the repository "
        "root (npm workspaces): a build of the app directory alone cannot `npm ci` from it; "
        "give the app its own lockfile (`npm install --workspaces=false` in it, committed), "
        "or make app.path the repository root; nothing was changed"
    )


def release_paths(facts: HostFacts, to_sha: str) -> tuple[ReleasePaths, bool] | str:
    """releases: (the release to switch to, whether it must be built), or why it cannot be."""
    kept = rel.newest_for(facts.releases, to_sha)
    if kept is not None:
        return ReleasePaths(kept.name, facts.current_release), False
    if facts.host_time is None:
        return "the host did not report its clock (date -u)"
    return ReleasePaths(rel.release_name(facts.host_time, to_sha), facts.current_release), True


def plan_host(inp: PlanInput, facts: HostFacts) -> HostPlan:
    """The plan for one host from its facts (pure)."""
    to_sha = inp.to_sha or facts.target
    blocked = _blocked(inp.target, facts, to_sha, inp.auto)
    paths: ReleasePaths | None = None
    needs_build = facts.prev_sha != to_sha
    if blocked is None and to_sha is not None and inp.target.strategy is Strategy.RELEASES:
        found = release_paths(facts, to_sha)
        if isinstance(found, str):
            blocked = found
        else:
            paths, needs_build = found
    if blocked is None and needs_build and facts.lockfile == "root":
        blocked = workspace_refusal(inp.target.layout.lockfile)
    if blocked is not None or facts.head is None or to_sha is None:
        return HostPlan(
            inp.target, inp.action, facts.head, to_sha, False, False, facts.exec_mode, (), blocked
        )
    lockfile_changed = bool(facts.lockfile_differs) or not facts.has_node_modules
    apply = pm2_plan(facts, inp.app.name)
    steps = (
        ()
        if facts.head == to_sha
        else plan_steps(
            inp,
            from_sha=facts.head,
            to_sha=to_sha,
            needs_build=needs_build,
            lockfile_changed=lockfile_changed,
            exec_mode=facts.exec_mode,
            paths=paths,
            apply=apply,
        )
    )
    scratch: str | None = f"{inp.target.ops_dir}/build"
    if paths is not None:
        scratch = (
            placeholders(inp, facts.head, to_sha, needs_build, paths)["release_path"]
            if needs_build
            else None
        )
    return HostPlan(
        inp.target,
        inp.action,
        facts.head,
        to_sha,
        needs_build,
        needs_build and lockfile_changed,
        facts.exec_mode,
        steps,
        release=paths.release if paths else None,
        scratch=scratch,
        from_release=paths.from_release if paths else None,
        pm2=apply,
    )


def pm2_plan(facts: HostFacts, app_name: str) -> ApplyPlan | None:
    """What the target's ecosystem file changes in PM2 (None when its file was not read)."""
    read = facts.target_ecosystem
    if read is None:
        return None
    return plan_apply(facts.running, ecosystem.wanted(read, app_name), read.error)
