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
from typing import TYPE_CHECKING, Any

from cookcam_ops.errors import ExitCode, Unreachable
from cookcam_ops.report import Check, checks_ok, reachability

if TYPE_CHECKING:
    from cookcam_ops.canary.bake import CanaryReport
    from cookcam_ops.deploy.plan import HostPlan
    from cookcam_ops.pm2.apply import ApplyPlan

OK, FAILED, SKIPPED, PLANNED, WARN = "ok", "failed", "skipped", "planned", "warn"

# Host outcomes.
DEPLOYED = "deployed"
ROLLED_BACK = "rolled_back"
ROLLBACK_FAILED = "rollback_failed"
HOST_FAILED = "failed"
UNCHANGED = "nothing_to_do"
NOT_RUN = "skipped"
UNREACHABLE = "unreachable"
PLANNED_HOST = "planned"
MIGRATED = "migrated"


@dataclass(frozen=True)
class StepResult:
    """One step on one host."""

    name: str
    status: str
    duration_s: float = 0.0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status,
                "duration_s": round(self.duration_s, 3), "detail": self.detail}


@dataclass
class HostResult:
    """What the run did on one host; `touched` is true once its switch step started."""

    name: str
    from_sha: str | None
    to_sha: str | None
    outcome: str = NOT_RUN
    steps: list[StepResult] = field(default_factory=list)
    touched: bool = False
    pm2: ApplyPlan | None = None  # the ecosystem settings this run set out to change

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "from_sha": self.from_sha, "to_sha": self.to_sha,
                "outcome": self.outcome, "steps": [s.to_dict() for s in self.steps],
                "pm2": None if self.pm2 is None else self.pm2.to_dict()}


@dataclass
class RunResult:
    """A whole deploy or rollback run."""

    action: str
    environment: str
    outcome: str
    target_sha: str | None
    hosts: list[HostResult]
    checks: list[Check] = field(default_factory=list)
    duration_s: float = 0.0
    interrupted: bool = False
    plans: list[HostPlan] = field(default_factory=list)
    canary: CanaryReport | None = None  # deploy --canary

    @property
    def success_outcome(self) -> str:
        return {"deploy": DEPLOYED, "migrate": MIGRATED}.get(self.action, ROLLED_BACK)

    @property
    def ok(self) -> bool:
        good = {self.success_outcome, "nothing_to_do", "dry_run"}
        return self.outcome in good and checks_ok(self.checks) and not self.interrupted

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome == "rollback_failed":
            return ExitCode.ROLLBACK_FAILED
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.ok:
            return ExitCode.OK
        if self.outcome == "failed" and any(h.outcome == UNREACHABLE for h in self.hosts):
            return ExitCode.UNREACHABLE
        return ExitCode.CHECKS_FAILED

    @property
    def warnings(self) -> list[dict[str, str]]:
        """Every step that passed with a warning (a SIGKILLed worker, a saved list that would
        not bring the release back): what CI should look at although the run succeeded."""
        return [{"host": h.name, "step": s.name, "detail": s.detail}
                for h in self.hosts for s in h.steps if s.status == WARN]

    @property
    def unreachable(self) -> list[Unreachable]:
        """Hosts lost during the run (and not reached again), with the last thing they said."""
        return [Unreachable(h.name, next((s.detail for s in reversed(h.steps)
                                          if s.status == FAILED), "unreachable"))
                for h in self.hosts if h.outcome == UNREACHABLE]

    def to_dict(self) -> dict[str, Any]:
        lost = self.unreachable
        doc = {"ok": self.ok, "environment": self.environment, "action": self.action,
               "outcome": self.outcome, "target_sha": self.target_sha,
               "hosts": [h.to_dict() for h in self.hosts],
               "duration_s": round(self.duration_s, 3),
               "checks": [c.to_dict() for c in self.checks], "warnings": self.warnings,
               "interrupted": self.interrupted,
               **reachability(lost, [h.name for h in self.hosts
                                     if h.name not in {u.host for u in lost}])}
        if self.canary is not None:
            doc["canary"] = self.canary.to_dict()
        return doc


def run_outcome(action: str, hosts: list[HostResult]) -> str:
    """The run's outcome from its hosts' outcomes."""
    outcomes = [h.outcome for h in hosts]
    if ROLLBACK_FAILED in outcomes or any(h.outcome == UNREACHABLE and h.touched for h in hosts):
        return "rollback_failed"
    success = DEPLOYED if action == "deploy" else ROLLED_BACK
    if action == "deploy" and ROLLED_BACK in outcomes:
        return "rolled_back"
    if any(o in (HOST_FAILED, UNREACHABLE) for o in outcomes):
        return "failed"
    if all(o == UNCHANGED for o in outcomes):
        return "nothing_to_do"
    if any(o == success for o in outcomes):
        return success
    return "failed"
