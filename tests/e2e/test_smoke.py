"""`cookcam-ops smoke` against the sandbox: real PM2 cluster, real Socket.IO server, auth stand-in.

Nothing here deploys: every test reads the running sandbox, and the one that slows the auth
stand-in resets it in a finally.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from typer.testing import CliRunner

from cookcam_ops.cli.main import app
from cookcam_ops.smoke import resolve_targets
from tests.documents import valid_document
from tests.e2e.helpers import assert_no_secrets

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e

HOST_CHECKS = [
    "health",
    "socket-auth-valid",
    "socket-auth-invalid",
    "socket-auth-missing",
    "error-envelope",
    "socket-auth-rate",
    "polling-handshake",
]
METRIC_KEYS = {
    "url",
    "health_ms",
    "connections",
    "connected",
    "auth_success_rate",
    "handshake_p50_ms",
    "handshake_p95_ms",
    "handshake_max_ms",
    "handshakes_per_s",
    "polling_ok",
    "polling_total",
}
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


def smoke(
    runner: CliRunner, sandbox: Sandbox, *args: str, env: dict[str, str | None] | None = None
) -> Any:
    return runner.invoke(
        app,
        ["--config", str(sandbox.dir / "ops.yaml"), "smoke", *args],
        env={**NO_CREDENTIALS, **(env or {})},
    )


def clustered(sandbox: Sandbox, host: str) -> bool:
    """Whether PM2 runs the app on this host in cluster mode with more than one worker."""
    apps = [a for a in sandbox.pm2_apps(host) if a["status"] == "online"]
    return len(apps) > 1 and all(a["exec_mode"] == "cluster_mode" for a in apps)


def test_healthy_sandbox_passes_with_json_junit_and_metrics(
    runner: CliRunner, sandbox: Sandbox, tmp_path: Path
) -> None:
    junit = tmp_path / "smoke.xml"
    result = smoke(
        runner, sandbox, "sandbox", "--connections", "100", "--json", "--junit", str(junit)
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = valid_document(result.stdout)
    assert doc["ok"] is True
    checks = doc["checks"]
    assert [c["name"] for c in checks] == ["sign-in"] + HOST_CHECKS * 2
    assert [c.get("host") for c in checks] == [None] + ["host1"] * 7 + ["host2"] * 7
    for check in checks:
        assert set(check) >= {"name", "status", "detail", "duration_s"}
        if check["name"] != "polling-handshake":
            assert check["status"] == "pass", check
        elif clustered(sandbox, check["host"]):  # long-polling needs sticky sessions there
            assert check["status"] == "warn", check
            assert "Session ID unknown" in check["detail"]
            assert "PM2 cluster mode without sticky sessions" in check["detail"]
        else:
            assert check["status"] == "pass", check
    assert doc["target"]["environment"] == "sandbox"
    assert set(doc["metrics"]) == {"host1", "host2"}
    for metrics in doc["metrics"].values():
        assert set(metrics) == METRIC_KEYS
        assert metrics["connections"] == 100 and metrics["connected"] >= 99
        assert 0 < metrics["handshake_p50_ms"] <= metrics["handshake_p95_ms"]
        assert metrics["handshake_p95_ms"] <= metrics["handshake_max_ms"]
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "smoke-sandbox"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("15", "0", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c["name"] for c in checks]
    assert cases[1].get("classname") == "smoke-sandbox.host1"
    assert_no_secrets(sandbox, result.stdout, result.stderr, junit.read_text())


def test_url_mode_takes_credentials_from_the_environment(
    runner: CliRunner, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./ops.yaml here: default variable names, no probe
    target = resolve_targets(sandbox.config, "sandbox", "host1")[0]
    result = runner.invoke(
        app,
        ["smoke", "--url", target.base_url, "--connections", "10", "--json"],
        env={**NO_CREDENTIALS, **sandbox.smoke_env()},
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = valid_document(result.stdout)
    host = target.base_url.removeprefix("http://")
    statuses = {c["name"]: c["status"] for c in doc["checks"]}
    assert statuses["error-envelope"] == "skip"  # no ops.yaml, so no duplicate_probe
    assert statuses["socket-auth-valid"] == statuses["socket-auth-rate"] == "pass"
    assert {c.get("host") for c in doc["checks"][1:]} == {host}
    assert "password grant for COOKCAM_SMOKE_EMAIL" in doc["checks"][0]["detail"]
    assert doc["metrics"][host]["connected"] == 10


@pytest.fixture
def slow_auth(sandbox: Sandbox) -> Iterator[str]:
    """A token obtained first, then every auth answer delayed 3 s; the delay reset after."""
    env = sandbox.smoke_env()
    base, headers = env["SUPABASE_URL"].rstrip("/"), {"apikey": env["SUPABASE_ANON_KEY"]}
    grant = httpx.post(
        f"{base}/auth/v1/token",
        params={"grant_type": "password"},
        headers=headers,
        timeout=10,
        json={"email": env["COOKCAM_SMOKE_EMAIL"], "password": env["COOKCAM_SMOKE_PASSWORD"]},
    )
    assert grant.status_code == 200
    try:
        put = httpx.put(f"{base}/_stub/delay", headers=headers, json={"delay_ms": 3000}, timeout=10)
        assert put.status_code == 200
        yield str(grant.json()["access_token"])
    finally:
        httpx.put(f"{base}/_stub/delay", headers=headers, json={"delay_ms": 0}, timeout=10)


def test_auth_slower_than_timeout_is_reported_as_a_timeout(
    runner: CliRunner, sandbox: Sandbox, slow_auth: str
) -> None:
    result = smoke(
        runner,
        sandbox,
        "sandbox",
        "--host",
        "host1",
        "--timeout",
        "1",
        "--connections",
        "3",
        "--json",
        env={"COOKCAM_SMOKE_TOKEN": slow_auth},
    )
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    checks = {c["name"]: c for c in valid_document(result.stdout)["checks"]}
    assert checks["health"]["status"] == "pass"
    assert checks["socket-auth-valid"]["status"] == "fail"
    assert checks["socket-auth-valid"]["detail"] == (
        "no `connected` within 1.0s — the server may be waiting on Supabase"
    )
    assert checks["socket-auth-missing"]["status"] == "pass"  # refused without asking Supabase
    assert "3× no `connected` within 1.0s" in checks["socket-auth-rate"]["detail"]
    assert slow_auth not in result.stdout + result.stderr


def test_wrong_password_exits_2_with_one_clear_line(runner: CliRunner, sandbox: Sandbox) -> None:
    result = smoke(
        runner,
        sandbox,
        "sandbox",
        "--json",
        env={"COOKCAM_SMOKE_PASSWORD": "not-the-password-S3CRET"},
    )
    assert result.exit_code == 2
    doc = valid_document(result.stdout, "smoke")
    assert doc["error"]["kind"] == "config" and "invalid_credentials" in doc["error"]["message"]
    assert "not-the-password-S3CRET" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: sign-in failed: invalid_credentials (check COOKCAM_SMOKE_EMAIL/PASSWORD)"
    ]
    assert "not-the-password-S3CRET" not in result.stderr
