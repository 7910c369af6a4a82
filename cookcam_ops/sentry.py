"""Sentry releases and deploys: which release is deployed where, and since when.

After a run that ends healthy on one commit, the release (version = the full SHA) is created if
it does not exist yet, and a deploy of it to the environment is recorded, with when it started
and finished. The auth token is read from the variable ops.yaml names, sent as a bearer token,
and never printed; failures are warnings (notify.post), never a failed run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from cookcam_ops.delivery import Job, post
from cookcam_ops.deploy.refs import short
from cookcam_ops.report import Check, Status

if TYPE_CHECKING:
    from cookcam_ops.config import SentryConfig
    from cookcam_ops.deploy.result import RunResult

CHECK = "sentry"
# Sentry answers 208 (or 409 on older servers) when the release exists already: that is fine.
RELEASE_OK = frozenset({200, 201, 208, 409})


def healthy_sha(result: RunResult) -> str | None:
    """The commit the fleet serves healthy after the run, or None (failed, split, no change)."""
    from cookcam_ops.deploy.result import Outcome

    if result.ok and result.outcome in (Outcome.DEPLOYED, Outcome.ROLLED_BACK):
        return result.target_sha
    if result.action == "deploy" and result.outcome == Outcome.ROLLED_BACK:  # back where it was
        shas = {h.from_sha for h in result.hosts}
        return shas.pop() if len(shas) == 1 else None
    return None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def deploy_name(result: RunResult, user: str) -> str:
    """How the deploy reads in Sentry."""
    if result.action == "deploy" and not result.ok:
        return f"cookcam-ops: automatic rollback after a failed deploy by {user}"
    return f"cookcam-ops {result.action} by {user}"


def sentry_job(
    cfg: SentryConfig, environment: str, result: RunResult, user: str, environ: Mapping[str, str]
) -> Job | None:
    """The job recording the run in Sentry (None when the run did not end healthy)."""
    version = healthy_sha(result)
    if version is None:
        return None
    finished = datetime.now(UTC)
    started = finished - timedelta(seconds=result.duration_s)
    base = f"{cfg.url}/api/0/organizations/{quote(cfg.org, safe='')}/releases/"

    def record() -> Check:
        token = environ.get(cfg.auth_token_env)
        if not token:
            return Check(CHECK, Status.WARN, f"${cfg.auth_token_env} is not set; nothing sent")
        headers = {"Authorization": f"Bearer {token}"}
        made = post(
            CHECK,
            base,
            {"version": version, "projects": [cfg.project]},
            headers,
            what="release",
            accept=RELEASE_OK,
        )
        if made.status is not Status.PASS:
            return Check(CHECK, Status.WARN, f"creating release {short(version)}: {made.detail}")
        body = {
            "environment": cfg.environment or environment,
            "name": deploy_name(result, user),
            "dateStarted": _iso(started),
            "dateFinished": _iso(finished),
        }
        done = post(
            CHECK, f"{base}{quote(version, safe='')}/deploys/", body, headers, what="deploy"
        )
        if done.status is not Status.PASS:
            return Check(
                CHECK, Status.WARN, f"recording the deploy of {short(version)}: {done.detail}"
            )
        return Check(
            CHECK,
            Status.PASS,
            f"release {short(version)} deployed to "
            f"{body['environment']} recorded in {cfg.org}/{cfg.project}",
        )

    return Job(CHECK, record)
