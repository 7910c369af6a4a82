"""`migrate-to-releases`: turn in-place hosts (a git checkout at app.path) into the releases layout.

Per host, one at a time, under the deploy lock: stage the new layout beside the app
(`APP.migrating`: the checkout's commit as the first release, with its dist, node_modules and
.env; the checkout's git objects as the bare APP/repo; shared/.env), test the release on a spare
port, swap the directories (the old checkout is kept in `APP.ops/inplace-<time>`), move the PM2
app to APP/current with a handover (no failed request: see handover.py), check every worker's
cwd, save PM2's process list (a reboot brings the app back from APP/current) and check the
health, record `migrate` in the audit log. A failure before the swap removes the
staging; after it, the directories are swapped back and the app handed back to the checkout.
A host already in the releases layout is reported as such and left alone.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cookcam_ops.config import Strategy
from cookcam_ops.deploy import audit, scripts
from cookcam_ops.deploy.fleet import Fleet
from cookcam_ops.deploy.handover import handover
from cookcam_ops.deploy.lock import local_user
from cookcam_ops.deploy.persist import settle
from cookcam_ops.deploy.plan import HostPlan, PlannedStep
from cookcam_ops.deploy.playbook import StepKind
from cookcam_ops.deploy.refs import FULL_SHA_RE
from cookcam_ops.deploy.release_steps import check_cwds
from cookcam_ops.deploy.result import HostResult, Outcome, RunResult, StepResult, StepStatus
from cookcam_ops.deploy.steps import failure_detail
from cookcam_ops.errors import HostError
from cookcam_ops.layout import layout_for
from cookcam_ops.layout import releases as rel
from cookcam_ops.remote import composite
from cookcam_ops.remote.protocol import q
from cookcam_ops.report import Check, Status

if TYPE_CHECKING:
    from cookcam_ops.config import LoadedConfig
    from cookcam_ops.deploy.observer import DeployObserver
    from cookcam_ops.deploy.run import RunMeta
    from cookcam_ops.deploy.session import Connector, HostSession
    from cookcam_ops.remote.fanout import Target

STAGE_TIMEOUT_S = 600.0
TEST_TIMEOUT_S = 60.0
HANDOVER_TIMEOUT_S = 120.0
EXPECT = "Environment validation successful"


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
    """Layout, HEAD, dirty files, what the first release needs, the clock (read only)."""
    app, env, top = q(t.app_path), q(t.app.env_file), q(t.repo_path)
    return composite.script(
        [
            (
                "layout",
                (
                    f"cd {app} 2>/dev/null || {{ echo layout=missing; exit 0; }}; "
                    "if [ -L current ] && [ -d repo ]; then echo layout=releases; exit 0; fi; "
                    f"[ -d {top}/.git ] || {{ echo layout=missing; exit 0; }}; "
                    "echo layout=in-place; "
                    "printf 'sha=%s\\n' \"$(git rev-parse --verify -q 'HEAD^{commit}')\"; "
                    f"printf 'dirty=%s\\n' \"$(git -C {top} status --porcelain "
                    '--untracked-files=no | wc -l)"; '
                    f"m=''; for p in dist node_modules {env}; do "
                    '[ -e "$p" ] || m="$m $p"; done; '
                    "printf 'missing=%s\\n' \"$m\"; "
                    "printf 'time=%s\\n' \"$(date -u +%Y%m%d%H%M%S)\"; "
                    f"if [ -e {q(t.app_path.rstrip('/') + '.migrating')} ]; then "
                    "echo leftover=1; fi"
                ),
            )
        ]
    )


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


def migration_steps(t: Target, p: MigratePaths, sha: str) -> tuple[PlannedStep, ...]:
    """One host's migration in order, each with its exact command (what --dry-run prints and
    what the run executes); `verify` and `save` are done from here, over the session."""
    release, current = f"{p.stage}/releases/{p.release}", f"{p.app}/current"
    return (
        _step("stage", StepKind.RUN, stage_script(t, p, sha), STAGE_TIMEOUT_S, after=False),
        _step(
            "test-build",
            StepKind.TEST_BUILD,
            scripts.test_build(release, TEST_TIMEOUT_S, t.app.health_path, EXPECT, cwd=release),
            TEST_TIMEOUT_S,
            after=False,
        ),
        _step("swap", StepKind.RUN, swap_script(p), 60, switch=True),
        _step(
            "handover",
            StepKind.RELOAD,
            handover(t.app.name, current, HANDOVER_TIMEOUT_S),
            HANDOVER_TIMEOUT_S,
        ),
        _step(
            "verify",
            StepKind.RUN,
            "",
            60,
            display=f"every {t.app.name} worker runs in "
            f"{current} (pm2 jlist, each worker's /proc/PID/cwd)",
        ),
        _step(
            "save",
            StepKind.RUN,
            "",
            60,
            display=f"pm2 save (a reboot starts the app from {current})",
        ),
        _step("health", StepKind.HEALTH, scripts.health(t.local_url, 30, 1.0, sha), 60),
    )


def restore_steps(t: Target, p: MigratePaths, sha: str) -> tuple[PlannedStep, ...]:
    """After a failure past the swap: the checkout back, the app handed back to it."""
    return (
        _step("restore:swap-back", StepKind.RUN, restore_script(p), 60),
        _step(
            "restore:handover",
            StepKind.RELOAD,
            handover(t.app.name, p.app, HANDOVER_TIMEOUT_S),
            HANDOVER_TIMEOUT_S,
        ),
        _step("restore:save", StepKind.RUN, "", 60, display="pm2 save"),
        _step("restore:health", StepKind.HEALTH, scripts.health(t.local_url, 30, 1.0, sha), 60),
    )


class _HostRun:
    """One host's migration: its steps in order, and the restore when one fails after the swap."""

    def __init__(
        self, session: HostSession, lay: HostLayout, observer: DeployObserver, run_id: str
    ) -> None:
        self.s, self.t, self.lay = session, session.target, lay
        self.observer, self.run_id = observer, run_id
        self.hr = HostResult(self.t.label, lay.sha, lay.sha)
        self.paths = MigratePaths.of(self.t, lay)

    def do(self, ps: PlannedStep) -> bool:
        """One planned step: verify and save from here, the others as their command."""
        if ps.name == "verify":
            return self.verify()
        if ps.name.endswith("save"):
            return self.save(ps.name)
        json_out = ps.kind in (StepKind.TEST_BUILD, StepKind.RELOAD, StepKind.HEALTH)
        return self.step(ps.name, ps.command, ps.timeout, json_out=json_out)

    def step(self, name: str, command: str, timeout: float, *, json_out: bool = False) -> bool:
        self.observer.step_started(self.t.label, name)
        started = time.monotonic()
        wrapped = scripts.wrap(
            command, cwd="/", ops_path=self.t.ops_dir, run_id=self.run_id, timeout=timeout
        )
        try:
            result = self.s.run(wrapped, timeout=timeout + scripts.LOCAL_SLACK_S)
            doc = composite.last_json(result.stdout) if json_out else None
            ok = (doc or {}).get("ok") is True if json_out else result.ok
            detail = (
                str((doc or {}).get("detail") or "")
                if doc
                else ("" if ok else failure_detail(result, timeout))
            )
        except HostError as e:
            ok, detail = False, str(e)
        status = StepStatus.OK if ok else StepStatus.FAILED
        return self._done(StepResult(name, status, time.monotonic() - started, detail[:300]))

    def _done(self, res: StepResult) -> bool:
        self.hr.steps.append(res)
        self.observer.step_finished(self.t.label, res)
        return res.ok

    def verify(self) -> bool:
        self.observer.step_started(self.t.label, "verify")
        started = time.monotonic()
        try:
            verdict = check_cwds(self.s, f"{self.paths.app}/current", self.t.app.name)
        except HostError as e:
            return self._done(StepResult("verify", StepStatus.FAILED, 0.0, str(e)))
        return self._done(
            StepResult(
                "verify",
                StepStatus.OK if verdict.ok else StepStatus.FAILED,
                time.monotonic() - started,
                verdict.detail,
            )
        )

    def save(self, name: str) -> bool:
        """`pm2 save`, so a reboot brings the app back from where it now runs (warn if not)."""
        self.observer.step_started(self.t.label, name)
        started = time.monotonic()
        try:
            status, detail = settle(self.s, self.t.app.name, None, None).verdict()
        except HostError as e:
            status, detail = StepStatus.WARN, f"could not save the process list: {e}"
        return self._done(StepResult(name, status, time.monotonic() - started, detail))

    def run(self, cancel: threading.Event) -> HostResult:
        p, sha = self.paths, self.lay.sha or ""
        steps = migration_steps(self.t, p, sha)
        before = [ps for ps in steps if not ps.switch and not ps.after_switch]
        if not all(self.do(ps) for ps in before) or cancel.is_set():
            self._cleanup(f"rm -rf {q(p.stage)}")
            self.hr.outcome = Outcome.FAILED
            return self.hr
        self.hr.touched = True
        ok = all(self.do(ps) for ps in steps[len(before) :])
        self.hr.outcome = Outcome.MIGRATED if ok else self._restore()
        return self.hr

    def _cleanup(self, command: str) -> None:
        with contextlib.suppress(HostError):
            self.s.run(command, timeout=120)

    def _restore(self) -> Outcome:
        """Checkout back in place, app handed back to it, healthy: failed (else restore_failed)."""
        ok = all(self.do(ps) for ps in restore_steps(self.t, self.paths, self.lay.sha or ""))
        return Outcome.FAILED if ok else Outcome.ROLLBACK_FAILED


def _record(session: HostSession, hr: HostResult, run_id: str, started: float) -> None:
    outcome = hr.outcome
    rec = audit.new_record(
        run_id=run_id,
        action="migrate",
        user=local_user(),
        host=hr.name,
        from_sha=hr.from_sha,
        to_sha=hr.to_sha,
        outcome=outcome,
        duration_s=time.monotonic() - started,
        ref=None,
    )
    with contextlib.suppress(HostError):
        session.run(audit.append_command(session.target.ops_dir, rec), timeout=30)


def _not_migrating(label: str, lay: HostLayout) -> HostResult | None:
    """A host left alone: already in the releases layout, or blocked (and why); else None."""
    if lay.layout == "releases":
        return HostResult(
            label,
            None,
            None,
            Outcome.NOTHING_TO_DO,
            [StepResult("layout", StepStatus.OK, 0.0, "already in the releases layout")],
        )
    why = lay.blocked() or (
        "a staging directory from an earlier run exists (APP.migrating); remove it first"
        if lay.leftover
        else None
    )
    if why is None:
        return None
    return HostResult(
        label, lay.sha, lay.sha, Outcome.FAILED, [StepResult("layout", StepStatus.FAILED, 0.0, why)]
    )


def dry_run(meta: RunMeta, targets: list[Target], layouts: dict[str, HostLayout]) -> RunResult:
    """--dry-run: each host's migration with its exact commands; nothing changed, no lock."""
    plans, hosts, checks = [], [], []
    for t in targets:
        lay = layouts[t.label]
        early = _not_migrating(t.label, lay)
        if early is not None:
            blocked = early.steps[0].detail if early.outcome == Outcome.FAILED else None
            plans.append(
                HostPlan(t, "migrate", lay.sha, lay.sha, False, False, None, (), blocked=blocked)
            )
            checks += [Check("layout", Status.FAIL, blocked, t.label)] if blocked else []
            hosts.append(early)
            continue
        assert lay.sha is not None
        paths = MigratePaths.of(t, lay)
        steps = migration_steps(t, paths, lay.sha)
        plans.append(
            HostPlan(
                t, "migrate", lay.sha, lay.sha, False, False, None, steps, release=paths.release
            )
        )
        hosts.append(
            HostResult(
                t.label,
                lay.sha,
                lay.sha,
                Outcome.PLANNED,
                [StepResult(ps.name, StepStatus.PLANNED, 0.0, ps.display) for ps in steps],
            )
        )
    return meta.finish(plans, hosts, checks, outcome=Outcome.DRY_RUN)


def _one_host(
    session: HostSession, lay: HostLayout, fleet: Fleet[DeployObserver], cancel: threading.Event
) -> HostResult:
    label = session.label
    early = _not_migrating(label, lay)
    if early is not None:
        return early
    started = time.monotonic()
    hr = _HostRun(session, lay, fleet.observer, fleet.run_id).run(cancel)
    _record(session, hr, fleet.run_id, started)
    fleet.observer.host_finished(label, hr.outcome)
    return hr


def _outcome(hosts: list[HostResult]) -> Outcome:
    outcomes = {h.outcome for h in hosts}
    if Outcome.ROLLBACK_FAILED in outcomes:
        return Outcome.ROLLBACK_FAILED
    if Outcome.FAILED in outcomes:
        return Outcome.FAILED
    return Outcome.MIGRATED if Outcome.MIGRATED in outcomes else Outcome.NOTHING_TO_DO


def migrate_environment(
    loaded: LoadedConfig,
    req: MigrateRequest,
    *,
    observer: DeployObserver,
    connector: Connector | None = None,
) -> RunResult:
    """Migrate every host of the environment to the releases layout, one host at a time."""
    from cookcam_ops.deploy.run import RunMeta, open_run
    from cookcam_ops.deploy.service import targets_for
    from cookcam_ops.remote.fanout import ssh_connector

    meta = RunMeta("migrate", req.environment)
    env = loaded.environment(req.environment)
    connector = connector or ssh_connector(loaded, env, req.accept_new_host_keys)
    # the hosts are in place until migrated: their probe finds the checkout (or a releases root)
    targets = [
        replace(t, layout=layout_for(Strategy.IN_PLACE, t.app_path))
        for t in targets_for(loaded, env)
    ]
    with open_run(targets, connector, observer) as run:
        fleet, cancel = run.fleet, run.cancel
        run.connect(req.command_line, req.environment, lock=not req.dry_run)
        observer.phase("reading each host's layout (one round trip per host)")
        layouts = {
            label: parse_layout(s.run(layout_script(s.target), timeout=60).stdout)
            for label, s in fleet.sessions.items()
        }
        if req.dry_run:
            return dry_run(meta, fleet.targets, layouts)
        hosts: list[HostResult] = []
        stop = False
        for label, session in fleet.sessions.items():
            if stop or cancel.is_set():
                not_run = StepResult(
                    "migrate", StepStatus.SKIPPED, 0.0, "not run: the run stopped before this host"
                )
                hosts.append(
                    HostResult(
                        label, layouts[label].sha, layouts[label].sha, Outcome.SKIPPED, [not_run]
                    )
                )
                continue
            observer.phase(f"{label}: migrating")
            hr = _one_host(session, layouts[label], fleet, cancel)
            hosts.append(hr)
            stop = hr.outcome not in (Outcome.MIGRATED, Outcome.NOTHING_TO_DO)
        return meta.finish([], hosts, [], outcome=_outcome(hosts), interrupted=cancel.is_set())
