"""Telling people what happened: webhooks (Slack or JSON) and Sentry, after a run.

Events: `deploy` and `rollback` (one that ended where it was asked to), `failure` (a deploy or
rollback that did not: stopped, rolled back by itself, or whose rollback failed too - then the
message says plainly that a human is needed), `unlock` (a lock broken by hand). Every message
goes out in parallel, with httpx and short timeouts, within DELIVERY_BUDGET_S in all: a
notification that fails or is slow becomes a warning check, never a failed or slow run. A
webhook URL and the Sentry token are secrets: they are read from the environment variables
ops.yaml names, sent, and never printed, logged or put in a check (names and status codes only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cookcam_ops.delivery import DELIVERY_BUDGET_S, Job, deliver, post
from cookcam_ops.deploy.refs import short
from cookcam_ops.report import Check, Status
from cookcam_ops.sentry import sentry_job

if TYPE_CHECKING:
    from cookcam_ops.config import EnvironmentConfig, NotifyConfig
    from cookcam_ops.deploy.result import RunResult
    from cookcam_ops.deploy.unlock import UnlockResult


@dataclass(frozen=True)
class Event:
    """What is announced: the event, one line saying it, and the command's JSON document."""

    name: str
    environment: str
    user: str
    text: str
    document: dict[str, Any]
    human_needed: bool = False


def _fleet_sha(shas: set[str | None]) -> str:
    found = {s for s in shas if s}
    return short(found.pop()) if len(found) == 1 else "several releases"


def run_event(result: RunResult, document: dict[str, Any], user: str) -> Event | None:
    """The event a deploy, rollback or migration is (None: nothing changed or a dry run)."""
    from cookcam_ops.deploy.result import Outcome

    if result.outcome in (Outcome.NOTHING_TO_DO, Outcome.DRY_RUN) or (
        result.action == "migrate" and result.ok
    ):
        return None

    def event(name: str, text: str, human_needed: bool = False) -> Event:
        return Event(name, result.environment, user, text, document, human_needed)

    what = f"{result.action} {result.environment}"
    took = f"{result.duration_s:.0f}s"
    was, now = _fleet_sha({h.from_sha for h in result.hosts}), short(result.target_sha)
    if result.ok:
        hosts = ", ".join(h.name for h in result.hosts)
        return event(result.action, f"{what}: {was} -> {now} by {user} on {hosts} ({took})")
    failed = (
        "; ".join(f"{h.name}: {s.name}" for h in result.hosts for s in h.steps if not s.ok)[:300]
        or _canary_why(result)
        or _failed_checks(result)
        or "interrupted"
    )
    if result.outcome == Outcome.ROLLBACK_FAILED:
        return event(
            "failure",
            f"A HUMAN IS NEEDED NOW: {what} by {user} failed ({failed}) and "
            "putting it back failed too; hosts may serve different releases. Run "
            f"`cookcam-ops status {result.environment}`.",
            human_needed=True,
        )
    if result.outcome == Outcome.ROLLED_BACK and result.action == "deploy":
        return event(
            "failure",
            f"{what} of {now} by {user} failed ({failed}) and was rolled "
            f"back by itself: back on {was} ({took})",
        )
    return event(
        "failure",
        f"{what} to {now} by {user} failed ({failed}); the hosts serve "
        f"what they served before ({took})",
    )


def _failed_checks(result: RunResult) -> str:
    """A run stopped by its checks before any step ran (a host blocked, a gate failed)."""
    from cookcam_ops.report import Status

    bad = [c for c in result.checks if c.status is Status.FAIL]
    return "; ".join(f"{c.host + ': ' if c.host else ''}{c.name}" for c in bad)[:300]


def _canary_why(result: RunResult) -> str:
    """A canary that failed its bake: the metrics that failed (no step did)."""
    canary = result.canary
    if canary is None or canary.verdict not in ("rolled_back", "failed"):
        return ""
    return f"canary bake: {canary.detail}"[:300]


def unlock_event(result: UnlockResult, document: dict[str, Any], user: str) -> Event | None:
    """A lock broken by hand (None when none was)."""
    broken = result.broken
    if not broken:
        return None
    held = "; ".join(f"{h.host}: {h.holder.describe()}" for h in broken if h.holder)
    return Event(
        "unlock",
        result.environment,
        user,
        f"deploy lock of {result.environment} broken by {user} (was held: {held[:300]})",
        document,
    )


def payload(event: Event, fmt: str) -> dict[str, Any]:
    """slack: an incoming-webhook message; json: the command's document plus `event`, `user`
    (who ran it) and `human_needed`."""
    if fmt == "slack":
        icon = {
            "deploy": ":rocket:",
            "rollback": ":leftwards_arrow_with_hook:",
            "unlock": ":unlock:",
        }.get(event.name, ":warning:")
        icon = ":rotating_light:" if event.human_needed else icon
        return {"text": f"{icon} cookcam-ops: {event.text}"}
    return {
        **event.document,
        "event": event.name,
        "user": event.user,
        "human_needed": event.human_needed,
    }


def _post_job(cfg: NotifyConfig, event: Event, environ: Mapping[str, str]) -> Job:
    name = f"notify:{cfg.url_env}"

    def send() -> Check:
        url = environ.get(cfg.url_env)
        if not url:
            return Check(name, Status.WARN, f"${cfg.url_env} is not set; nothing sent")
        return post(name, url, payload(event, cfg.format), {}, what=f"{event.name} sent")

    return Job(name, send)


def announce(
    env: EnvironmentConfig,
    event: Event | None,
    environ: Mapping[str, str],
    sentry_job: Job | None = None,
    budget_s: float = DELIVERY_BUDGET_S,
) -> list[Check]:
    """Send the event to every webhook that wants it, and the Sentry job, within the budget."""
    jobs = [
        _post_job(cfg, event, environ)
        for cfg in env.notify
        if event is not None and event.name in cfg.events
    ]
    return deliver(jobs + ([sentry_job] if sentry_job else []), budget_s)


def announce_run(
    env: EnvironmentConfig,
    result: RunResult,
    document: dict[str, Any],
    *,
    user: str,
    environ: Mapping[str, str],
    budget_s: float = DELIVERY_BUDGET_S,
) -> list[Check]:
    """Announce a deploy, rollback or migration: its event to the webhooks, and to Sentry the
    release the fleet ended on, when it ended healthy."""
    job = sentry_job(env.sentry, result.environment, result, user, environ) if env.sentry else None
    return announce(env, run_event(result, document, user), environ, job, budget_s)
