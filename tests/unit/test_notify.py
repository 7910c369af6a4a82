"""Notifications and Sentry markers, sent to loopback stand-ins: what is sent, that secrets
(webhook URLs, the token) appear in no check, and that a slow endpoint never holds a run."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cookcam_ops.config import EnvironmentConfig
from cookcam_ops.delivery import DELIVERY_BUDGET_S
from cookcam_ops.deploy.result import HostResult, Outcome, RunResult, StepResult, StepStatus
from cookcam_ops.deploy.unlock import HostLock, UnlockResult
from cookcam_ops.layout.lock import LockInfo
from cookcam_ops.notify import announce, announce_run, run_event, unlock_event
from cookcam_ops.report import Status
from tests.receivers import receiver

OLD, NEW = "a" * 40, "b" * 40
TOKEN = "sntrys_S3NT1N3L-token-9f2c"


def run(action: str, outcome: str, host_outcome: str, failed: str | None = None) -> RunResult:
    steps = [StepResult("switch", StepStatus.OK, 1.0)] + (
        [StepResult(failed, StepStatus.FAILED, 2.0, "HTTP 503")] if failed else []
    )
    hosts = [HostResult(n, OLD, NEW, Outcome(host_outcome), list(steps)) for n in ("web1", "web2")]
    return RunResult(action, "production", Outcome(outcome), NEW, hosts, duration_s=42.0)


def env(base: str, **sentry: Any) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {
            "hosts": ["d@web1"],
            "notify": [
                {"url_env": "HOOK_URL", "format": "slack"},
                {"url_env": "OPS_JSON_URL", "format": "json", "events": ["failure"]},
            ],
            "sentry": {"url": base, "org": "cookcam", "project": "cookcam-api", **sentry},
        }
    )


def secrets_env(base: str) -> dict[str, str]:
    return {"HOOK_URL": f"{base}/hook", "OPS_JSON_URL": f"{base}/hook", "SENTRY_AUTH_TOKEN": TOKEN}


def test_a_deploy_goes_to_slack_and_marks_a_sentry_release() -> None:
    with receiver(token=TOKEN) as (base, seen):
        result = run("deploy", "deployed", "deployed")
        checks = announce_run(
            env(base), result, {"command": "deploy"}, user="ana", environ=secrets_env(base)
        )
    assert [(c.name, c.status) for c in checks] == [
        ("notify:HOOK_URL", Status.PASS),
        ("sentry", Status.PASS),
    ]
    (hook,) = seen.on("/hook")  # the json webhook wants failures only
    assert hook.body["text"].startswith(
        ":rocket: cookcam-ops: deploy production: aaaaaaaaaa"
        " -> bbbbbbbbbb by ana on web1, web2 (42s)"
    )
    assert seen.releases == {NEW: ["cookcam-api"]}
    (dep,) = seen.deploys
    assert dep["version"] == NEW and dep["environment"] == "production"
    assert dep["name"] == "cookcam-ops deploy by ana"
    assert dep["dateStarted"] < dep["dateFinished"] and dep["dateFinished"].endswith("Z")
    assert all(TOKEN not in c.detail and base not in c.detail for c in checks)


def test_a_self_rolled_back_deploy_is_a_failure_and_marks_the_old_release() -> None:
    with receiver(token=TOKEN) as (base, seen):
        result = run("deploy", "rolled_back", "rolled_back", failed="health")
        doc = {"schema_version": 1, "command": "deploy", "outcome": "rolled_back"}
        checks = announce_run(env(base), result, doc, user="ana", environ=secrets_env(base))
    assert {c.status for c in checks} == {Status.PASS}
    slack, as_json = seen.on("/hook")
    text = slack.body["text"] if "text" in slack.body else as_json.body["text"]
    assert "failed (web1: health; web2: health) and was rolled back by itself" in text
    posted = as_json.body if "event" in as_json.body else slack.body
    assert posted["event"] == "failure" and posted["outcome"] == "rolled_back"
    assert posted["human_needed"] is False and posted["schema_version"] == 1
    assert posted["user"] == "ana"
    assert [d["version"] for d in seen.deploys] == [OLD]  # the fleet is back on OLD
    assert seen.deploys[0]["name"].startswith("cookcam-ops: automatic rollback")


def test_a_failed_rollback_says_a_human_is_needed_and_marks_nothing() -> None:
    with receiver(token=TOKEN) as (base, seen):
        result = run("deploy", "rollback_failed", "rollback_failed", failed="rollback:health")
        announce_run(env(base), result, {}, user="ana", environ=secrets_env(base))
    texts = [r.body.get("text", "") for r in seen.on("/hook")]
    assert any(t.startswith(":rotating_light: cookcam-ops: A HUMAN IS NEEDED NOW") for t in texts)
    assert any(r.body.get("human_needed") is True for r in seen.on("/hook"))
    assert seen.releases == {} and seen.deploys == []


def test_a_run_stopped_by_its_checks_names_them_not_an_interrupt() -> None:
    """A migration (or deploy) that a host's check stopped before any step: say which."""
    from cookcam_ops.report import Check, Status

    result = run("migrate", "failed", "failed")
    result.hosts = [HostResult("web1", OLD, OLD, Outcome.FAILED, [])]
    result.checks = [Check("layout", Status.FAIL, "modified tracked file(s)", "web1")]
    event = run_event(result, {}, "ana")
    assert event is not None and "(web1: layout)" in event.text and "interrupted" not in event.text


def test_nothing_to_do_and_dry_runs_announce_nothing() -> None:
    for outcome in ("nothing_to_do", "dry_run"):
        assert run_event(run("deploy", outcome, outcome), {}, "ana") is None


def test_a_broken_lock_is_announced() -> None:
    holder = LockInfo("bob", "ci-7", 4242, "cookcam-ops deploy production", "2026-01-01")
    result = UnlockResult("production", [HostLock("web1", holder, broken=True)])
    event = unlock_event(result, {}, "ana")
    assert event is not None and event.name == "unlock"
    assert "broken by ana" in event.text and "bob@ci-7" in event.text
    assert unlock_event(UnlockResult("production", [HostLock("web1", None)]), {}, "ana") is None


def test_missing_variables_bad_tokens_and_dead_endpoints_are_warnings() -> None:
    with receiver(token=TOKEN) as (base, _):
        result = run("rollback", "rolled_back", "rolled_back")
        missing = announce_run(env(base), result, {}, user="ana", environ={})
        wrong = announce_run(
            env(base),
            result,
            {},
            user="ana",
            environ={**secrets_env(base), "SENTRY_AUTH_TOKEN": "nope"},
        )
    assert [c.detail for c in missing] == [
        "$HOOK_URL is not set; nothing sent",
        "$SENTRY_AUTH_TOKEN is not set; nothing sent",
    ]
    assert wrong[-1].status is Status.WARN and "HTTP 401" in wrong[-1].detail
    dead = announce_run(
        env("http://127.0.0.1:9"),
        result,
        {},
        user="ana",
        environ={"HOOK_URL": "http://127.0.0.1:9/x", "SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert all(c.status is Status.WARN and "ConnectError" in c.detail for c in dead)


def test_a_hanging_webhook_costs_at_most_the_budget() -> None:
    assert DELIVERY_BUDGET_S == 5.0
    with receiver(delay_s=3.0) as (base, _):
        config = EnvironmentConfig.model_validate(
            {"hosts": ["d@web1"], "notify": [{"url_env": "SLOW"}]}
        )
        event = run_event(run("deploy", "deployed", "deployed"), {}, "ana")
        started = time.monotonic()
        (check,) = announce(config, event, {"SLOW": f"{base}/slow"}, budget_s=0.5)
        took = time.monotonic() - started
    assert took < 1.5 and check.status is Status.WARN
    assert check.detail == "no answer within 0.5s; given up" and base not in check.detail


@pytest.mark.parametrize(
    "bad",
    [
        {"url_env": "https://hooks.slack.com/x"},
        {"url_env": "OK", "format": "teams"},
        {"url_env": "OK", "events": ["deploy", "party"]},
    ],
)
def test_notify_settings_are_validated(bad: dict[str, Any]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        EnvironmentConfig.model_validate({"hosts": ["d@h"], "notify": [bad]})
