"""The run skeleton every changing command shares (deploy, rollback, migrate-to-releases):
signals -> a Fleet (connect, lock) -> facts -> plans -> confirm -> the engine -> a RunResult.

`open_run` holds a run's interrupts and fleet (however it ends, locks are released and
connections closed); `Run.lock`, `Run.confirm` and `Run.execute` are the steps in between that
each command takes in the same order; `RunMeta` turns hosts' results into the one RunResult
(outcome, canary report, duration). `unlock` only reads and breaks locks, outside this skeleton.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cookcam_ops.config import Strategy
from cookcam_ops.deploy.engine import execute
from cookcam_ops.deploy.fleet import Fleet, HostWork, InterruptGuard, interrupts
from cookcam_ops.deploy.lock import new_claim
from cookcam_ops.deploy.plan import HostPlan
from cookcam_ops.deploy.playbook import Playbook, StepKind, load_playbook, playbook_path
from cookcam_ops.deploy.result import (
    HostResult,
    Outcome,
    RunResult,
    StepResult,
    StepStatus,
    run_outcome,
)
from cookcam_ops.errors import ChecksFailed, ConfigError, Interrupted
from cookcam_ops.report import Check, Status, checks_ok

if TYPE_CHECKING:
    from cookcam_ops.canary.bake import CanaryRun
    from cookcam_ops.config import EnvironmentConfig, LoadedConfig
    from cookcam_ops.deploy.audit import Release
    from cookcam_ops.deploy.observer import DeployObserver
    from cookcam_ops.deploy.session import Connector
    from cookcam_ops.deploy.steps import RunContext
    from cookcam_ops.remote.fanout import Target


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
    if env.strategy == Strategy.RELEASES and loaded.config.app.env_file.startswith("/"):
        raise ConfigError(
            f"app.env_file: '{loaded.config.app.env_file}' is absolute, but "
            f"environments.{name} uses strategy: releases",
            hint="give a name relative to the app (each release keeps its copy; "
            "the deployed one lives in APP/shared)",
        )
    return env


def playbooks(loaded: LoadedConfig, strategy: str = Strategy.IN_PLACE) -> tuple[Playbook, Playbook]:
    """(deploy, rollback) playbooks for the strategy, loaded and validated before connecting."""
    return (
        load_playbook(playbook_path(loaded, "deploy", strategy)),
        load_playbook(playbook_path(loaded, "rollback", strategy)),
    )


def planned_hosts(plans: list[HostPlan]) -> list[HostResult]:
    """Dry-run host entries: each step planned (detail = its command) or skipped."""
    out = []
    for p in plans:
        steps = [
            StepResult(
                s.name,
                StepStatus.SKIPPED if s.skip else StepStatus.PLANNED,
                0.0,
                s.skip or s.display,
            )
            for s in p.steps
        ]
        outcome = (
            Outcome.NOTHING_TO_DO
            if p.nothing_to_do
            else (Outcome.FAILED if p.blocked else Outcome.PLANNED)
        )
        out.append(HostResult(p.label, p.from_sha, p.to_sha, outcome, steps, pm2=p.pm2))
    return out


def preflight_steps(plans: list[HostPlan], checks: list[Check]) -> dict[str, list[StepResult]]:
    """The lock and checklist steps' results per host, as the JSON lists them."""
    out: dict[str, list[StepResult]] = {}
    for p in plans:
        mine = [c for c in checks if c.name.startswith("checklist:") and c.host in (p.label, None)]
        bad = [c for c in mine if c.status is Status.FAIL]
        res = []
        for s in p.steps:
            if s.kind == StepKind.LOCK:
                res.append(StepResult(s.name, StepStatus.OK, 0.0, "taken before any step"))
            elif s.kind == StepKind.CHECKLIST:
                res.append(
                    StepResult(
                        s.name,
                        StepStatus.FAILED if bad else StepStatus.OK,
                        0.0,
                        f"{len(mine)} items" + (f", {len(bad)} failed" if bad else ""),
                    )
                )
        out[p.label] = res
    return out


@dataclass(frozen=True)
class RunMeta:
    """What every ending of a run shares: its action, environment and start time (and, with
    --canary, the canary's report)."""

    action: str
    environment: str
    started: float = field(default_factory=time.monotonic)
    canary: CanaryRun | None = None

    def finish(
        self,
        plans: list[HostPlan],
        hosts: list[HostResult],
        checks: list[Check],
        *,
        outcome: Outcome | None = None,
        interrupted: bool = False,
    ) -> RunResult:
        """The RunResult of this run, its outcome from its hosts unless given."""
        shas = {p.to_sha for p in plans if p.to_sha}
        outcome = outcome or run_outcome(self.action, hosts)
        canary = (
            None
            if self.canary is None
            else self.canary.report([p.label for p in plans if not p.nothing_to_do], outcome)
        )
        if canary is not None and canary.failed:  # kept where it is (--no-auto-rollback)
            outcome = Outcome.FAILED
        return RunResult(
            action=self.action,
            environment=self.environment,
            outcome=outcome,
            target_sha=shas.pop() if len(shas) == 1 else None,
            hosts=hosts,
            checks=checks + (canary.checks() if canary else []),
            duration_s=time.monotonic() - self.started,
            interrupted=interrupted,
            plans=plans,
            canary=canary,
        )

    def early(self, plans: list[HostPlan], checks: list[Check]) -> RunResult | None:
        """The result when the run stops before any host changes (checks failed, or no work)."""
        if checks_ok(checks) and not all(p.nothing_to_do for p in plans):
            return None
        pre = preflight_steps(plans, checks)
        hosts = [
            HostResult(
                p.label,
                p.from_sha,
                p.to_sha,
                Outcome.NOTHING_TO_DO if p.nothing_to_do else Outcome.FAILED,
                pre[p.label],
                pm2=p.pm2,
            )
            for p in plans
        ]
        return self.finish(plans, hosts, checks)


@dataclass(frozen=True)
class Run:
    """One run in progress: its hosts, its interrupt guard and its cancel flag."""

    fleet: Fleet[DeployObserver]
    guard: InterruptGuard
    cancel: threading.Event

    def connect(
        self,
        command_line: str,
        environment: str,
        *,
        lock: bool = True,
        then: HostWork | None = None,
    ) -> dict[str, str]:
        """Connect to every host and take every lock (all or none; a dry run takes none). With
        then, each host runs then's command in the lock's round trip once its lock is taken
        (without a lock: on its own): the outputs by host."""
        self.fleet.connect_all()
        if lock:
            answered = self.fleet.lock_all(new_claim(command_line), environment, then)
        else:
            answered = self.fleet.run_all(then) if then is not None else {}
        check_cancel(self.cancel)
        return answered

    def confirm(self, confirm: Confirm, preview: Preview) -> None:
        """Ask; Ctrl-C at the prompt is an interrupt (exit 130), 'no' is exit 1."""
        check_cancel(self.cancel)
        try:
            with self.guard.paused():
                answer = confirm(preview)
        except KeyboardInterrupt:
            raise Interrupted(
                "interrupted at the prompt; nothing changed, locks released"
            ) from None
        if not answer:
            raise ChecksFailed(f"{preview.action} not confirmed; nothing changed, locks released")

    def execute(
        self, meta: RunMeta, plans: list[HostPlan], checks: list[Check], ctx: RunContext
    ) -> RunResult:
        """The plans on the engine, batch by batch; the run's result."""
        hosts = execute(plans, self.fleet.sessions, ctx, preflight_steps(plans, checks))
        return meta.finish(plans, hosts, checks, interrupted=self.cancel.is_set())


@contextmanager
def open_run(
    targets: list[Target], connector: Connector, observer: DeployObserver
) -> Iterator[Run]:
    """A run over targets: signals caught, and every lock released and connection closed
    however it ends."""
    cancel = threading.Event()
    with interrupts(cancel, observer.phase) as guard, Fleet(targets, connector, observer) as fleet:
        yield Run(fleet, guard, cancel)


def check_cancel(cancel: threading.Event) -> None:
    """Interrupted (exit 130) when a signal came before any host changed."""
    if cancel.is_set():
        raise Interrupted(
            "interrupted before any host changed; nothing to put back, locks released"
        )
