"""What a deploy or rollback hands to the renderer: per step, per host, and for the run.

The JSON shape is the CLI contract (`cookcam-ops schema deploy`): {"ok", "environment",
"action", "outcome", "target_sha", "hosts": [{"name", "from_sha", "to_sha", "outcome", "steps":
[{"name", "status", "duration_s", "detail"}], "pm2": {"apply", "changes": [{"setting", "from",
"to"}], "unknown"} or null}], "duration_s", "checks", "warnings": [{"host", "step", "detail"}],
"interrupted", "unreachable", "answered"}, and with --canary "canary": {"hosts", "bake_s",
"verdict", "metrics": [{"name", "canary", "baseline", "rule", "status"}], ...}. A step's status
is ok, warn, failed, skipped or planned. Details are names, codes and short tails of tool output
(masked: never secrets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cookcam_ops.errors import ExitCode, Unreachable
from cookcam_ops.report import Check, checks_ok, reachability

if TYPE_CHECKING:
    from cookcam_ops.canary.bake import CanaryReport
    from cookcam_ops.deploy.plan import HostPlan
    from cookcam_ops.pm2.apply import ApplyPlan


class StepStatus(StrEnum):
    """A step's status (the JSON's hosts[].steps[].status)."""

    OK = "ok"
    WARN = "warn"  # passed, with something CI should look at (RunResult.warnings)
    FAILED = "failed"
    SKIPPED = "skipped"
    PLANNED = "planned"  # a dry run's step: its detail is the command


class Outcome(StrEnum):
    """A host's or a whole run's outcome (the JSON's `outcome` and hosts[].outcome)."""

    DEPLOYED = "deployed"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    MIGRATED = "migrated"
    FAILED = "failed"
    NOTHING_TO_DO = "nothing_to_do"
    SKIPPED = "skipped"  # a host the run stopped before
    UNREACHABLE = "unreachable"
    PLANNED = "planned"  # a host in a dry run
    DRY_RUN = "dry_run"  # a run that only planned


@dataclass(frozen=True)
class StepResult:
    """One step on one host."""

    name: str
    status: StepStatus
    duration_s: float = 0.0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status != StepStatus.FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "duration_s": round(self.duration_s, 3),
            "detail": self.detail,
        }


@dataclass
class HostResult:
    """What the run did on one host; `touched` is true once its switch step started."""

    name: str
    from_sha: str | None
    to_sha: str | None
    outcome: Outcome = Outcome.SKIPPED
    steps: list[StepResult] = field(default_factory=list)
    touched: bool = False
    pm2: ApplyPlan | None = None  # the ecosystem settings this run set out to change

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "from_sha": self.from_sha,
            "to_sha": self.to_sha,
            "outcome": str(self.outcome),
            "steps": [s.to_dict() for s in self.steps],
            "pm2": None if self.pm2 is None else self.pm2.to_dict(),
        }


@dataclass
class RunResult:
    """A whole deploy or rollback run."""

    action: str
    environment: str
    outcome: Outcome
    target_sha: str | None
    hosts: list[HostResult]
    checks: list[Check] = field(default_factory=list)
    duration_s: float = 0.0
    interrupted: bool = False
    plans: list[HostPlan] = field(default_factory=list)
    canary: CanaryReport | None = None  # deploy --canary

    @property
    def success_outcome(self) -> Outcome:
        return success_outcome(self.action)

    @property
    def ok(self) -> bool:
        good = {self.success_outcome, Outcome.NOTHING_TO_DO, Outcome.DRY_RUN}
        return self.outcome in good and checks_ok(self.checks) and not self.interrupted

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome == Outcome.ROLLBACK_FAILED:
            return ExitCode.ROLLBACK_FAILED
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.ok:
            return ExitCode.OK
        if self.outcome == Outcome.FAILED and any(
            h.outcome == Outcome.UNREACHABLE for h in self.hosts
        ):
            return ExitCode.UNREACHABLE
        return ExitCode.CHECKS_FAILED

    @property
    def warnings(self) -> list[dict[str, str]]:
        """Every step that passed with a warning (a SIGKILLed worker, a saved list that would
        not bring the release back): what CI should look at although the run succeeded."""
        return [
            {"host": h.name, "step": s.name, "detail": s.detail}
            for h in self.hosts
            for s in h.steps
            if s.status == StepStatus.WARN
        ]

    @property
    def unreachable(self) -> list[Unreachable]:
        """Hosts lost during the run (and not reached again), with the last thing they said."""
        return [
            Unreachable(
                h.name,
                next(
                    (s.detail for s in reversed(h.steps) if s.status == StepStatus.FAILED),
                    "unreachable",
                ),
            )
            for h in self.hosts
            if h.outcome == Outcome.UNREACHABLE
        ]

    def to_dict(self) -> dict[str, Any]:
        lost = self.unreachable
        doc = {
            "ok": self.ok,
            "environment": self.environment,
            "action": self.action,
            "outcome": str(self.outcome),
            "target_sha": self.target_sha,
            "hosts": [h.to_dict() for h in self.hosts],
            "duration_s": round(self.duration_s, 3),
            "checks": [c.to_dict() for c in self.checks],
            "warnings": self.warnings,
            "interrupted": self.interrupted,
            **reachability(
                lost, [h.name for h in self.hosts if h.name not in {u.host for u in lost}]
            ),
        }
        if self.canary is not None:
            doc["canary"] = self.canary.to_dict()
        return doc


def success_outcome(action: str) -> Outcome:
    """What a host (and a run) that did what the action asked ends as."""
    return {"deploy": Outcome.DEPLOYED, "migrate": Outcome.MIGRATED}.get(
        action, Outcome.ROLLED_BACK
    )


def run_outcome(action: str, hosts: list[HostResult]) -> Outcome:
    """The run's outcome from its hosts' outcomes."""
    outcomes = [h.outcome for h in hosts]
    if Outcome.ROLLBACK_FAILED in outcomes or any(
        h.outcome == Outcome.UNREACHABLE and h.touched for h in hosts
    ):
        return Outcome.ROLLBACK_FAILED
    success = success_outcome(action)
    if action == "deploy" and Outcome.ROLLED_BACK in outcomes:
        return Outcome.ROLLED_BACK
    if any(o in (Outcome.FAILED, Outcome.UNREACHABLE) for o in outcomes):
        return Outcome.FAILED
    if all(o == Outcome.NOTHING_TO_DO for o in outcomes):
        return Outcome.NOTHING_TO_DO
    if any(o == success for o in outcomes):
        return success
    return Outcome.FAILED
