"""`migrate-to-releases`: turn in-place hosts (a git checkout at app.path) into the releases layout.

Per host, one at a time, under the deploy lock: stage the new layout beside the app
(`APP.migrating`: the checkout's commit as the first release, with its dist, node_modules and
.env; the checkout's git objects as the bare APP/repo; shared/.env), test the release on a spare
port, swap the directories (the old checkout is kept in `APP.ops/inplace-<time>`), move the PM2
app to APP/current with a handover (no failed request: see handover.py), check every worker's
cwd, save PM2's process list (a reboot brings the app back from APP/current), check the health
and record `migrate` in the audit log. A host already in the releases layout is left alone; a
host that cannot be migrated (why: `HostLayout.blocked`) stops the run before any host changes.

The run is the skeleton deploy and rollback share (deploy/run.py): this module reads each
host's layout (hostside/migrate_layout.sh) and turns it into a HostPlan whose steps carry their
exact commands (what --dry-run prints is what the engine runs), whose `scratch` is the staging
(removed on a failure before the swap) and whose `revert` is the restore (after it: the
directories swapped back, the app handed back to the checkout, saved and healthy). The steps
are built here, not read from a playbook: their commands depend on the host's layout (the
staging and backup paths, the host's clock), not on anything a user would change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cookcam_ops.common import parallel_map
from cookcam_ops.config import Strategy
from cookcam_ops.deploy import audit, scripts
from cookcam_ops.deploy.handover import handover
from cookcam_ops.deploy.lock import local_user
from cookcam_ops.deploy.persist import SETTLE_TIMEOUT_S, settle_script
from cookcam_ops.deploy.plan import HostPlan, PlannedStep
from cookcam_ops.deploy.playbook import DEFAULT_EXPECT, StepKind
from cookcam_ops.deploy.refs import FULL_SHA_RE, short
from cookcam_ops.deploy.release_steps import cwd_script
from cookcam_ops.deploy.result import Outcome, RunResult
from cookcam_ops.deploy.steps import RunContext
from cookcam_ops.layout import layout_for
from cookcam_ops.layout import releases as rel
from cookcam_ops.remote import composite
from cookcam_ops.remote.protocol import q, sh_program
from cookcam_ops.report import Check, Status

if TYPE_CHECKING:
    from cookcam_ops.config import LoadedConfig
    from cookcam_ops.deploy.observer import DeployObserver
    from cookcam_ops.deploy.session import Connector
    from cookcam_ops.remote.fanout import Target

STAGE_TIMEOUT_S = 600.0
TEST_TIMEOUT_S = 60.0
HANDOVER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class MigrateRequest:
    """What the user asked for."""

    environment: str
    accept_new_host_keys: bool = False
    command_line: str = "migrate-to-releases"
    dry_run: bool = False


@dataclass(frozen=True)
class HostLayout:
    """What the migration needs to know about one host (one round trip)."""

    layout: str  # releases | in-place | missing
    sha: str | None = None
    dirty: int = 0
    missing: tuple[str, ...] = ()
    host_time: str | None = None
    leftover: bool = False

    def blocked(self) -> str | None:
        """Why this in-place host cannot be migrated as it is, or None."""
        if self.layout == "missing":
            return "the app path is neither a git checkout nor the releases layout"
        if self.sha is None:
            return "the checkout has no commit"
        if self.dirty:
            return (
                f"the checkout has {self.dirty} modified tracked file(s); commit or discard "
                "them first"
            )
        if self.missing:
            return f"the checkout has no {', '.join(self.missing)} (deploy it once in place first)"
        if self.host_time is None:
            return "the host did not report its clock (date -u)"
        return None


def layout_script(t: Target) -> str:
    """Layout, HEAD, dirty files, what the first release needs, the clock (read only; one
    round trip: hostside/migrate_layout.sh)."""
    stage = t.app_path.rstrip("/") + ".migrating"
    args = q(t.app_path, t.app.env_file, t.repo_path, stage)
    return composite.script([("layout", f"{sh_program('migrate_layout.sh')} {args}")])


def parse_layout(stdout: str) -> HostLayout:
    """layout_script's output (pure)."""
    sec = composite.parse(stdout).get("layout")
    pairs = dict(line.partition("=")[::2] for line in (sec.text if sec else "").splitlines())
    sha = pairs.get("sha", "").strip()
    when = pairs.get("time", "").strip()
    return HostLayout(
        layout=pairs.get("layout", "missing").strip() or "missing",
        sha=sha if FULL_SHA_RE.match(sha) else None,
        dirty=int(pairs.get("dirty", "0").strip() or 0),
        missing=tuple(pairs.get("missing", "").split()),
        host_time=when if rel.HOST_TIME_RE.match(when) else None,
        leftover=pairs.get("leftover", "").strip() == "1",
    )


@dataclass(frozen=True)
class MigratePaths:
    """Where a host's migration stages, keeps the checkout, and what it calls the release."""

    app: str
    stage: str
    backup: str
    failed: str
    release: str

    @classmethod
    def of(cls, t: Target, lay: HostLayout) -> MigratePaths:
        assert lay.sha is not None and lay.host_time is not None
        app = t.app_path.rstrip("/")
        return cls(
            app=app,
            stage=f"{app}.migrating",
            backup=f"{t.ops_dir}/inplace-{lay.host_time}",
            failed=f"{t.ops_dir}/migrate-failed-{lay.host_time}",
            release=rel.release_name(lay.host_time, lay.sha),
        )


def stage_script(t: Target, p: MigratePaths, sha: str) -> str:
    """Build the releases layout in APP.migrating from the checkout (nothing served changes).

    The release holds the app's directory of the commit; the bare APP/repo is the checkout's
    git directory, and remembers that directory (`cookcam-ops.subdir`) for the next releases.
    """
    a, s, r, env = q(p.app), q(p.stage), q(f"{p.stage}/releases/{p.release}"), q(t.app.env_file)
    sub = t.layout.subdir
    remember = [f"git --git-dir={s}/repo config cookcam-ops.subdir {q(sub)}"] if sub else []
    return "\n".join(
        [
            "set -e",
            f"rm -rf {s}",
            f"mkdir -p {r} {s}/shared",
            f"git -C {q(t.repo_path)} archive --format=tar {q(t.layout.tree(sha))} | tar -x -C {r}",
            f"printf '%s\\n' {q(sha)} > {r}/REVISION",
            f"cp -a {a}/dist {r}/dist",
            f"cp -al {a}/node_modules {r}/node_modules",
            f"(umask 077 && cp {a}/{env} {s}/shared/{env} && cp {a}/{env} {r}/{env})",
            f"chmod 600 {s}/shared/{env} {r}/{env}",
            f"cp -a {q(t.repo_path)}/.git {s}/repo",
            f"git --git-dir={s}/repo config core.bare true",
            *remember,
            f"ln -s releases/{q(p.release)} {s}/current",
        ]
    )


def swap_script(p: MigratePaths) -> str:
    """The checkout out of the way (kept), the staged layout in (running workers don't care)."""
    return (
        f"set -e; mkdir -p {q(p.backup.rsplit('/', 1)[0])}; mv -T {q(p.app)} {q(p.backup)}; "
        f"mv -T {q(p.stage)} {q(p.app)} || {{ mv -T {q(p.backup)} {q(p.app)}; exit 1; }}"
    )


def restore_script(p: MigratePaths) -> str:
    """Put the checkout back where it was (the staged layout is kept for a post-mortem)."""
    return (
        f"set -e; if [ -d {q(p.backup)} ]; then mv -T {q(p.app)} {q(p.failed)}; "
        f"mv -T {q(p.backup)} {q(p.app)}; fi"
    )


def _step(
    name: str,
    kind: StepKind,
    command: str,
    timeout: float,
    *,
    switch: bool = False,
    after: bool = True,
    display: str = "",
) -> PlannedStep:
    return PlannedStep(
        name=name,
        kind=kind,
        command=command,
        display=display or command,
        timeout=timeout,
        switch=switch,
        after_switch=after and not switch,
    )


def _moved(
    t: Target, directory: str, sha: str, prefix: str = ""
) -> tuple[PlannedStep, PlannedStep, PlannedStep]:
    """(handover, save, health): the app started again from directory, PM2's list saved (a
    reboot brings it back from there), the app healthy on sha."""
    return (
        _step(
            f"{prefix}handover",
            StepKind.HANDOVER,
            handover(t.app.name, directory, HANDOVER_TIMEOUT_S),
            HANDOVER_TIMEOUT_S,
        ),
        _step(f"{prefix}save", StepKind.PM2_SAVE, settle_script(None), SETTLE_TIMEOUT_S),
        _step(f"{prefix}health", StepKind.HEALTH, scripts.health(t.local_url, 30, 1.0, sha), 60),
    )


def migration_steps(t: Target, p: MigratePaths, sha: str) -> tuple[PlannedStep, ...]:
    """One host's migration in order, each with its exact command: what --dry-run prints is
    what the engine runs (the record's line aside, composed when it is written)."""
    release, current = f"{p.stage}/releases/{p.release}", f"{p.app}/current"
    test = scripts.test_build(release, TEST_TIMEOUT_S, t.app.health_path, DEFAULT_EXPECT, release)
    moved, saved, healthy = _moved(t, current, sha)
    return (
        _step("stage", StepKind.RUN, stage_script(t, p, sha), STAGE_TIMEOUT_S, after=False),
        _step("test-build", StepKind.TEST_BUILD, test, TEST_TIMEOUT_S, after=False),
        _step("swap", StepKind.RUN, swap_script(p), 60, switch=True),
        moved,
        _step("verify", StepKind.CWD_CHECK, cwd_script(current), 60),
        saved,
        healthy,
        _step("record", StepKind.RECORD, "", 30, display=audit.record_display(t.history_file)),
    )


def restore_steps(t: Target, p: MigratePaths, sha: str) -> tuple[PlannedStep, ...]:
    """After a failure past the swap (the engine's revert): the checkout back, the app handed
    back to it, saved and healthy."""
    return (
        _step("restore:swap-back", StepKind.RUN, restore_script(p), 60),
        *_moved(t, p.app, sha, prefix="restore:"),
    )


def migration_plan(t: Target, lay: HostLayout) -> HostPlan:
    """One host's plan: nothing to do (already releases), blocked (and why), or its steps,
    the staging to remove on a failure before the swap, and the restore after it (pure)."""
    if lay.layout == "releases":
        return HostPlan(t, "migrate", None, None, False, False, None, ())
    why = lay.blocked() or (
        "a staging directory from an earlier run exists (APP.migrating); remove it first"
        if lay.leftover
        else None
    )
    if why is not None or lay.sha is None:
        return HostPlan(t, "migrate", lay.sha, lay.sha, False, False, None, (), blocked=why)
    p = MigratePaths.of(t, lay)
    return HostPlan(
        t,
        "migrate",
        lay.sha,
        lay.sha,
        False,
        False,
        None,
        migration_steps(t, p, lay.sha),
        release=p.release,
        scratch=p.stage,
        revert=restore_steps(t, p, lay.sha),
    )


def layout_check(p: HostPlan) -> Check:
    """A host's layout as a check: what it migrates to, already done, or why it cannot."""
    if p.blocked:
        return Check("layout", Status.FAIL, p.blocked, p.label)
    if not p.steps:
        return Check("layout", Status.PASS, "already in the releases layout", p.label)
    where = f"in place at {short(p.from_sha)}: migrates to releases/{p.release}"
    return Check("layout", Status.PASS, where, p.label)


def migrate_environment(
    loaded: LoadedConfig,
    req: MigrateRequest,
    *,
    observer: DeployObserver,
    connector: Connector | None = None,
) -> RunResult:
    """Migrate every host of the environment to the releases layout, one host at a time, on
    the run skeleton: connect and lock, read each host's layout, plan, then the engine (a
    failure after the swap runs the plan's restore; hosts already migrated stay so)."""
    from cookcam_ops.deploy.run import RunMeta, check_cancel, open_run, planned_hosts
    from cookcam_ops.remote.fanout import ssh_connector, targets_for

    meta = RunMeta("migrate", req.environment)
    env = loaded.environment(req.environment)
    connector = connector or ssh_connector(loaded, env, req.accept_new_host_keys)
    # the hosts are in place until migrated: their probe finds the checkout (or a releases root)
    targets = [
        replace(t, layout=layout_for(Strategy.IN_PLACE, t.app_path))
        for t in targets_for(loaded, env)
    ]
    with open_run(targets, connector, observer) as run:
        fleet = run.fleet
        run.connect(req.command_line, req.environment, lock=not req.dry_run)
        observer.phase("reading each host's layout (one round trip per host)")
        plans = parallel_map(
            list(fleet.sessions.values()),
            lambda s: migration_plan(
                s.target, parse_layout(s.run(layout_script(s.target), timeout=60).stdout)
            ),
        )
        checks = [layout_check(p) for p in plans]
        check_cancel(run.cancel)
        if req.dry_run:
            return meta.finish(plans, planned_hosts(plans), checks, outcome=Outcome.DRY_RUN)
        stopped = meta.early(plans, checks)
        if stopped is not None:
            return stopped
        ctx = RunContext(
            run_id=fleet.run_id,
            action="migrate",
            user=local_user(),
            ref=None,
            app=loaded.config.app,
            observer=observer,
            rollback_playbook=None,
            cancel=run.cancel,
            batch_size=1,
            cuts=run.guard.cuts,
            put_back_finished=False,
        )
        return run.execute(meta, plans, checks, ctx)
