"""The whole smoke run against in-process fakes: a python-socketio/aiohttp API and the auth stub.

The fake API behaves like the CookCam API (health, the 409 envelope, token-checking Socket.IO
middleware); switches make it misbehave. A sentinel planted in every secret is then looked for
in every output format and error line.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web
from typer.testing import CliRunner

from cookcam_ops.cli.main import app
from cookcam_ops.common import Secret
from cookcam_ops.report import Status
from cookcam_ops.sandbox.auth_stub import AuthStubServer, InvalidTokenError, decode_jwt, serve
from cookcam_ops.smoke import SmokeOptions, TokenCredentials, run_smoke, url_target
from tests.conftest import SENTINEL

TOKEN = f"{SENTINEL}-token"
STUB = {
    "anon_key": f"{SENTINEL}-anon",
    "jwt_secret": "j" * 40,
    "email": f"{SENTINEL}@example.com",
    "password": f"{SENTINEL}-password",
    "user_id": "7d4a2a44-0000-4000-8000-000000000001",
}
CHECKS = [
    "sign-in",
    "health",
    "socket-auth-valid",
    "socket-auth-invalid",
    "socket-auth-missing",
    "error-envelope",
    "socket-auth-rate",
    "polling-handshake",
]


@dataclass
class Behaviour:
    """How the fake API misbehaves (all off: it behaves)."""

    accept_any_token: bool = False
    auth_delay_s: float = 0.0
    echo_token: bool = False
    envelope: dict[str, Any] = field(default_factory=dict)


class FakeApi:
    """Health, POST /api/v1/recipes and Socket.IO auth on a loopback port, on its own thread."""

    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.titles: set[str] = set()
        self.open: set[str] = set()  # sids connected right now
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def accepts(self, token: str) -> bool:
        if self.behaviour.accept_any_token or token == TOKEN:
            return True
        try:
            decode_jwt(token, STUB["jwt_secret"])
        except InvalidTokenError:
            return False
        return True

    def _app(self) -> web.Application:
        sio = socketio.AsyncServer(async_mode="aiohttp")
        application = web.Application()
        sio.attach(application)

        async def connect(sid: str, _environ: Any, auth: Any) -> None:
            token = auth.get("token") if isinstance(auth, dict) else None
            if not token:
                raise socketio.exceptions.ConnectionRefusedError(
                    "Authentication failed: missing token"
                )
            await asyncio.sleep(self.behaviour.auth_delay_s)
            if not self.accepts(token):
                reason = f"invalid token {token}" if self.behaviour.echo_token else "invalid token"
                raise socketio.exceptions.ConnectionRefusedError(f"Authentication failed: {reason}")
            self.open.add(sid)
            sio.start_background_task(
                sio.emit, "connected", {"userId": "u", "socketId": sid}, to=sid
            )

        async def disconnect(sid: str, *_reason: Any) -> None:
            self.open.discard(sid)

        sio.on("connect", connect)
        sio.on("disconnect", disconnect)

        application.router.add_get("/health", self._health)
        application.router.add_post("/api/v1/recipes", self._recipes)
        return application

    async def _health(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "version": "1.0.0", "commit": "abc", "uptime_s": 1}
        )

    async def _recipes(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not self.accepts(token):
            return web.json_response({"error": "UNAUTHORIZED"}, status=401)
        title = (await request.json())["title"]
        if title not in self.titles:
            self.titles.add(title)
            return web.json_response({"id": str(uuid.uuid4()), "title": title}, status=201)
        body = {
            "error": "DUPLICATE_ENTRY",
            "message": "Resource already exists",
            "statusCode": 409,
            "requestId": str(uuid.uuid4()),
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        return web.json_response({**body, **self.behaviour.envelope}, status=409)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(self._app())
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        # engine.io's per-socket ping tasks sleep for the ping interval: cancel, don't orphan
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        assert self.ready.wait(10), "the fake API did not start"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def api() -> Iterator[FakeApi]:
    server = FakeApi()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def behave(api: FakeApi) -> None:
    api.behaviour = Behaviour()


@pytest.fixture(scope="module")
def stub() -> Iterator[AuthStubServer]:
    server = serve(STUB)
    try:
        yield server
    finally:
        server.stop()


PROBE_YAML = """
smoke:
  timeout_s: 5
  connections: 10
  duplicate_probe: {method: POST, path: /api/v1/recipes, json: {title: smoke}}
"""


def ops_yaml(tmp_path: Path, api: FakeApi, extra: str = PROBE_YAML) -> Path:
    path = tmp_path / "ops.yaml"
    hosts = "".join(
        f"      - {{ssh: root@127.0.0.{i}, name: web{i}, base_url: {api.url}}}\n" for i in (1, 2)
    )
    path.write_text(f"environments:\n  fake:\n    hosts:\n{hosts}{extra}", encoding="utf-8")
    return path


def options(**kw: Any) -> SmokeOptions:
    return SmokeOptions(**{"timeout_s": 5.0, "connections": 10, "polling_attempts": 3, **kw})


def by_name(checks: list[Any]) -> dict[str, Any]:
    return {c.name: c for c in checks}


def test_run_smoke_all_pass_with_metrics(api: FakeApi) -> None:
    progress: list[str] = []
    report = run_smoke(
        [url_target(api.url)],
        TokenCredentials(Secret(TOKEN), "T in env"),
        options(),
        progress.append,
    )
    assert [c.name for c in report.checks] == CHECKS
    statuses = {c.name: c.status for c in report.checks}
    assert statuses.pop("error-envelope") is Status.SKIP  # no duplicate_probe given
    assert set(statuses.values()) == {Status.PASS}, report.to_json()
    label = f"127.0.0.1:{api.port}"
    metrics = report.extra["metrics"][label]
    assert metrics["connections"] == 10 and metrics["connected"] == 10
    assert metrics["auth_success_rate"] == 1.0 and metrics["health_ms"] is not None
    assert metrics["handshake_p50_ms"] <= metrics["handshake_p95_ms"] <= metrics["handshake_max_ms"]
    assert report.extra["target"] == {"environment": None, "hosts": {label: api.url}}
    assert any("10 concurrent" in p for p in progress)
    deadline = time.monotonic() + 5
    while api.open and time.monotonic() < deadline:  # the server sees the closes a bit later
        time.sleep(0.05)
    assert not api.open, f"{len(api.open)} connections left open"


def test_bypass_is_a_failure(api: FakeApi) -> None:
    api.behaviour.accept_any_token = True
    report = run_smoke([url_target(api.url)], TokenCredentials(Secret(TOKEN), "T"), options())
    invalid = by_name(report.checks)["socket-auth-invalid"]
    assert invalid.status is Status.FAIL and "bypass" in invalid.detail
    assert not report.ok


def test_slow_auth_is_reported_as_a_timeout(api: FakeApi) -> None:
    api.behaviour.auth_delay_s = 1.5
    report = run_smoke(
        [url_target(api.url)],
        TokenCredentials(Secret(TOKEN), "T"),
        options(timeout_s=0.5, connections=3),
    )
    checks = by_name(report.checks)
    assert checks["socket-auth-valid"].status is Status.FAIL
    assert checks["socket-auth-valid"].detail == (
        "no `connected` within 0.5s — the server may be waiting on Supabase"
    )
    assert checks["socket-auth-missing"].status is Status.PASS  # refused before Supabase
    assert "3× no `connected` within 0.5s" in checks["socket-auth-rate"].detail


def test_unreachable_api_fails_health_and_skips_the_rest() -> None:
    report = run_smoke(
        [url_target("http://127.0.0.1:9")],
        TokenCredentials(Secret(TOKEN), "T"),
        options(timeout_s=2),
    )
    checks = report.checks
    assert checks[1].name == "health" and checks[1].status is Status.FAIL
    assert "could not connect to http://127.0.0.1:9/health" in checks[1].detail
    assert {c.status for c in checks[2:]} == {Status.SKIP}


def test_cli_json_and_junit_over_two_hosts(api: FakeApi, tmp_path: Path, runner: CliRunner) -> None:
    junit = tmp_path / "smoke.xml"
    result = runner.invoke(
        app,
        [
            "--config",
            str(ops_yaml(tmp_path, api)),
            "smoke",
            "fake",
            "--json",
            "--junit",
            str(junit),
        ],
        env={"COOKCAM_SMOKE_TOKEN": TOKEN},
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert [c["host"] for c in doc["checks"][1:]] == ["web1"] * 7 + ["web2"] * 7
    envelope = [c for c in doc["checks"] if c["name"] == "error-envelope"]
    assert [c["status"] for c in envelope] == ["pass", "pass"]
    assert set(doc["metrics"]) == {"web1", "web2"}
    assert doc["target"]["environment"] == "fake"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "15" and suite.get("failures") == "0"
    assert "web1: 10 concurrent authenticated websocket connections" in result.stderr


def test_cli_bad_envelope_exits_1(api: FakeApi, tmp_path: Path, runner: CliRunner) -> None:
    api.behaviour.envelope = {"timestamp": "yesterday", "requestId": ""}
    result = runner.invoke(
        app,
        [
            "--config",
            str(ops_yaml(tmp_path, api)),
            "smoke",
            "fake",
            "--host",
            "web2",
            "--connections",
            "2",
            "--json",
        ],
        env={"COOKCAM_SMOKE_TOKEN": TOKEN},
    )
    assert result.exit_code == 1
    (envelope,) = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "error-envelope"]
    assert envelope["status"] == "fail" and envelope["host"] == "web2"
    assert envelope["detail"] == (
        "the repeated POST /api/v1/recipes: requestId is missing or "
        "empty; timestamp is missing or not ISO-8601"
    )


def grant_env(stub: AuthStubServer, **over: str) -> dict[str, str | None]:
    return {
        "COOKCAM_SMOKE_EMAIL": STUB["email"],
        "COOKCAM_SMOKE_PASSWORD": STUB["password"],
        "SUPABASE_URL": stub.url,
        "SUPABASE_ANON_KEY": STUB["anon_key"],
        "COOKCAM_SMOKE_TOKEN": None,
        **over,
    }


Case = Callable[[FakeApi, AuthStubServer], tuple[list[str], dict[str, str | None], int]]
CASES: dict[str, Case] = {
    "token": lambda api, stub: ([], {"COOKCAM_SMOKE_TOKEN": TOKEN}, 0),
    "echoing-server": lambda api, stub: ([], {"COOKCAM_SMOKE_TOKEN": TOKEN}, 1),
    "password-grant": lambda api, stub: ([], grant_env(stub), 0),
    "wrong-password": lambda api, stub: (
        [],
        grant_env(stub, COOKCAM_SMOKE_PASSWORD=f"{SENTINEL}-wrong"),
        2,
    ),
    "auth-unreachable": lambda api, stub: (
        [],
        grant_env(stub, SUPABASE_URL=f"http://{SENTINEL}:{SENTINEL}@127.0.0.1:9"),
        1,
    ),
    "missing-vars": lambda api, stub: ([], {**grant_env(stub), "SUPABASE_ANON_KEY": None}, 2),
    "api-unreachable": lambda api, stub: (
        ["--url", "http://127.0.0.1:9"],
        {"COOKCAM_SMOKE_TOKEN": TOKEN},
        1,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", ["table", "json", "junit"])
def test_sentinel_never_printed(
    api: FakeApi, stub: AuthStubServer, tmp_path: Path, runner: CliRunner, case: str, fmt: str
) -> None:
    extra_args, env, code = CASES[case](api, stub)
    if case == "echoing-server":
        api.behaviour.accept_any_token, api.behaviour.echo_token = False, True
        env = {**env, "COOKCAM_SMOKE_TOKEN": f"{SENTINEL}-not-accepted"}
    junit = tmp_path / "junit.xml"
    fmt_args = {"table": [], "json": ["--json"], "junit": ["--junit", str(junit)]}[fmt]
    target = extra_args or ["fake", "--host", "web1"]
    args = [
        "--config",
        str(ops_yaml(tmp_path, api)),
        "smoke",
        *target,
        "--connections",
        "2",
        "--timeout",
        "2",
        *fmt_args,
    ]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert SENTINEL not in result.stdout
    assert SENTINEL not in result.stderr
    if fmt == "junit" and junit.exists():
        assert SENTINEL not in junit.read_text()
