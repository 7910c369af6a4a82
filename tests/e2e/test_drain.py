"""`cookcam-ops drain` on the sandbox: a clean reload, and the sigterm-only release caught.

The sigterm-only test deploys by hand on one host (fetch, checkout, build, pm2 reload over
ssh) and always puts that host back on the origin's next `release` change before it ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from typer.testing import CliRunner

from cookcam_ops.cli.main import app
from cookcam_ops.sandbox.status import change_sandbox
from tests.documents import valid_document
from tests.e2e.helpers import assert_no_secrets

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e

PLAIN_WORDS = (
    "the app handles SIGTERM but PM2 sends SIGINT: the workers were killed without "
    "draining; fix: handle SIGINT too, or set PM2_KILL_SIGNAL=SIGTERM"
)
NO_CREDENTIALS: dict[str, str | None] = {
    name: None
    for name in (
        "COOKCAM_SMOKE_TOKEN",
        "COOKCAM_SMOKE_EMAIL",
        "COOKCAM_SMOKE_PASSWORD",
        "SUPABASE_URL",
        "SUPABASE_ANON_KEY",
    )
}


def cli(runner: CliRunner, sandbox: Sandbox, *args: str) -> Any:
    return runner.invoke(
        app, ["--config", str(sandbox.dir / "ops.yaml"), *args], env=NO_CREDENTIALS
    )


def deploy_by_hand(sandbox: Sandbox, host: str, sha: str) -> None:
    """What an operator would type: fetch, check out the commit, build, reload."""
    app_path = sandbox.host(host).app_path
    done = sandbox.ssh(
        host,
        f"cd {app_path} && git fetch --quiet origin && "
        f"git checkout --quiet --force -B main {sha} && "
        "npm run build && pm2 reload cookcam-api",
        timeout=300,
    )
    assert done.returncode == 0, f"manual deploy on {host} failed (exit {done.returncode})"
    wait_healthy(sandbox, host)


def wait_healthy(sandbox: Sandbox, host: str, timeout: float = 60.0) -> None:
    url = sandbox.host(host).base_url + "/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200 and all(
                a["status"] == "online" for a in sandbox.pm2_apps(host)
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{host} did not become healthy within {timeout:.0f}s")


def test_reload_drains_with_zero_failed_requests(runner: CliRunner, sandbox: Sandbox) -> None:
    host = sandbox.state.hosts[0].name
    wait_healthy(sandbox, host)
    result = cli(
        runner,
        sandbox,
        "drain",
        "sandbox",
        "--host",
        host,
        "--via",
        "reload",
        "--duration",
        "8",
        "--json",
    )
    doc = valid_document(result.stdout)
    failed = [c for c in doc["checks"] if c["status"] != "pass"]
    assert result.exit_code == 0 and doc["ok"] is True, failed
    m = doc["metrics"]
    assert doc["host"] == host and doc["duration_s"] > 0
    assert m["requests"] > 1000 and m["failed"] == 0 and m["ok_2xx"] == m["requests"]
    assert m["status_5xx"] == 0 and m["refused"] == 0 and m["timeouts"] == 0
    assert m["rate_rps"] > 300
    assert m["latency_ms"]["p50"] is not None and m["downtime_ms"] < 1000
    assert len(m["workers"]) == 2
    assert all(w["lines_in_order"] and not w["killed"] for w in m["workers"])
    assert all(w["completed_ms"] <= w["kill_timeout_ms"] for w in m["workers"])
    assert m["socketio"]["clients"] == 4 and m["socketio"]["connected_initially"] == 4
    assert m["socketio"]["still_down"] == 0
    print(
        f"\ndrain --via reload: {m['requests']} requests at {m['rate_rps']} req/s, "
        f"{m['failed']} failed, {m['reset']} reset ({m['reset_retried']} retried), "
        f"downtime {m['downtime_ms']} ms"
    )
    assert_no_secrets(sandbox, result.stdout, result.stderr)


@pytest.fixture
def sigterm_only_host(sandbox: Sandbox) -> Iterator[str]:
    """The last host running the sigterm-only release; put back on a clean release after."""
    host = sandbox.state.hosts[-1].name
    wait_healthy(sandbox, host)
    try:
        deploy_by_hand(sandbox, host, change_sandbox(sandbox.dir, "sigterm-only").sha)
        yield host
    finally:
        deploy_by_hand(sandbox, host, change_sandbox(sandbox.dir, "release").sha)
        sandbox.refresh()


def test_sigterm_only_is_caught_by_drain_and_checklist(
    runner: CliRunner, sandbox: Sandbox, sigterm_only_host: str
) -> None:
    host = sigterm_only_host
    result = cli(
        runner,
        sandbox,
        "drain",
        "sandbox",
        "--host",
        host,
        "--via",
        "restart",
        "--duration",
        "6",
        "--json",
    )
    assert result.exit_code == 1, result.stdout + result.stderr
    doc = valid_document(result.stdout)
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["kill-signal"]["status"] == "fail"
    assert PLAIN_WORDS in checks["kill-signal"]["detail"]
    workers = doc["metrics"]["workers"]
    assert workers and all(w["killed"] and not w["lines_in_order"] for w in workers)
    human = cli(
        runner, sandbox, "drain", "sandbox", "--host", host, "--via", "signal", "--duration", "6"
    )
    assert human.exit_code == 1
    assert "kill-signal" in human.stdout and "FAILED" in human.stdout
    checklist = cli(runner, sandbox, "checklist", "sandbox", "--json")
    listed = valid_document(checklist.stdout)
    signal = next(c for c in listed["checks"] if c["name"] == "kill-signal" and c["host"] == host)
    assert signal["status"] == "warn"
    assert "handles SIGTERM but PM2 sends SIGINT" in signal["detail"]
    assert_no_secrets(sandbox, result.stdout, result.stderr, human.stdout, checklist.stdout)
