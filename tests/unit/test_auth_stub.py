"""The GoTrue stand-in, served in process on an ephemeral loopback port."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cookcam_ops.errors import ConfigError, SandboxError
from cookcam_ops.sandbox import auth_stub
from cookcam_ops.sandbox.auth_stub import AuthStubServer, StubConfig

CONFIG = StubConfig(
    anon_key="anon-key-for-tests",
    jwt_secret="jwt-secret-for-tests-0123456789abcdef",
    email="chef@example.com",
    password="correct horse battery staple",
    user_id="6f0d9c3e-4a8b-4c1e-9a77-0d2b3c4e5f60",
)


@pytest.fixture
def stub() -> Iterator[AuthStubServer]:
    server = auth_stub.serve(CONFIG)
    yield server
    server.stop()


def call(
    stub: AuthStubServer,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        stub.url + path, data=data, method=method, headers=headers or {}
    )
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def sign_in(stub: AuthStubServer, password: str = CONFIG.password) -> tuple[int, dict[str, Any]]:
    return call(
        stub,
        "POST",
        "/auth/v1/token?grant_type=password",
        {"email": CONFIG.email, "password": password},
        {"apikey": CONFIG.anon_key},
    )


def get_user(stub: AuthStubServer, token: str) -> tuple[int, dict[str, Any]]:
    headers = {"apikey": CONFIG.anon_key, "Authorization": f"Bearer {token}"}
    return call(stub, "GET", "/auth/v1/user", headers=headers)


def test_password_grant_returns_a_session_with_a_verifiable_jwt(stub: AuthStubServer) -> None:
    before = int(time.time())
    status, session = sign_in(stub)

    assert status == 200
    assert session["token_type"] == "bearer"
    assert session["expires_in"] == 3600
    assert before + 3600 <= session["expires_at"] <= int(time.time()) + 3600
    assert session["refresh_token"]
    assert session["user"]["id"] == CONFIG.user_id
    claims = auth_stub.decode_jwt(session["access_token"], CONFIG.jwt_secret)
    assert claims["sub"] == CONFIG.user_id
    assert claims["email"] == CONFIG.email
    assert claims["role"] == claims["aud"] == "authenticated"
    assert claims["exp"] - claims["iat"] == 3600


def test_wrong_password_is_invalid_credentials(stub: AuthStubServer) -> None:
    assert sign_in(stub, password="wrong") == (
        400,
        {"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"},
    )


def test_wrong_or_missing_apikey_is_refused_like_supabase(stub: AuthStubServer) -> None:
    body = {"email": CONFIG.email, "password": CONFIG.password}
    path = "/auth/v1/token?grant_type=password"

    status, payload = call(stub, "POST", path, body, {"apikey": "not-the-key"})
    assert status == 401
    assert payload["message"] == "Invalid API key"
    assert "hint" in payload

    status, payload = call(stub, "POST", path, body)
    assert status == 401
    assert payload["message"] == "No API key found in request"


def test_other_grant_types_fail_validation(stub: AuthStubServer) -> None:
    status, payload = call(
        stub,
        "POST",
        "/auth/v1/token?grant_type=refresh_token",
        {"refresh_token": "x"},
        {"apikey": CONFIG.anon_key},
    )
    assert status == 400
    assert payload["code"] == 400
    assert payload["error_code"] == "validation_failed"


def test_user_with_a_valid_token(stub: AuthStubServer) -> None:
    _, session = sign_in(stub)

    status, user = get_user(stub, session["access_token"])

    assert status == 200
    assert user["id"] == CONFIG.user_id
    assert user["email"] == CONFIG.email
    assert user["aud"] == user["role"] == "authenticated"
    for key in ("app_metadata", "user_metadata", "created_at", "updated_at"):
        assert key in user


def test_user_with_a_tampered_token_is_bad_jwt(stub: AuthStubServer) -> None:
    _, session = sign_in(stub)
    header, payload, signature = session["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "00000000-0000-0000-0000-000000000000"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    status, body = get_user(stub, f"{header}.{forged}.{signature}")

    assert status == 403
    assert body["error_code"] == "bad_jwt"
    assert body["msg"].startswith("invalid JWT:")


def test_user_with_a_token_signed_by_another_secret_is_bad_jwt(stub: AuthStubServer) -> None:
    other = StubConfig(**{**CONFIG.__dict__, "jwt_secret": "another-secret-0123456789abcdef-x"})
    token = auth_stub.issue_access_token(other, now=time.time())

    status, body = get_user(stub, token)

    assert (status, body["error_code"]) == (403, "bad_jwt")


def test_user_with_an_expired_token_is_bad_jwt(stub: AuthStubServer) -> None:
    token = auth_stub.issue_access_token(CONFIG, now=time.time() - 7200)

    status, body = get_user(stub, token)

    assert (status, body["error_code"]) == (403, "bad_jwt")
    assert "expired" in body["msg"]


def test_user_without_a_bearer_token(stub: AuthStubServer) -> None:
    status, body = call(stub, "GET", "/auth/v1/user", headers={"apikey": CONFIG.anon_key})

    assert status == 401
    assert body["error_code"] == "no_authorization"


def test_health_needs_no_key(stub: AuthStubServer) -> None:
    status, body = call(stub, "GET", "/auth/v1/health")

    assert status == 200
    assert body["name"] == "GoTrue"
    assert body["version"] == "stub"


def test_delay_applies_to_token_and_user_and_is_settable_at_run_time(
    stub: AuthStubServer,
) -> None:
    headers = {"apikey": CONFIG.anon_key}
    assert call(stub, "PUT", "/_stub/delay", {"delay_ms": 300}, headers) == (
        200,
        {"delay_ms": 300},
    )

    started = time.monotonic()
    status, session = sign_in(stub)
    assert status == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert get_user(stub, session["access_token"])[0] == 200
    assert time.monotonic() - started >= 0.3

    call(stub, "PUT", "/_stub/delay", {"delay_ms": 0}, headers)
    started = time.monotonic()
    sign_in(stub)
    assert time.monotonic() - started < 0.3


def test_delay_from_config_and_guarded_by_apikey() -> None:
    server = auth_stub.serve({**CONFIG.__dict__, "delay_ms": 250})
    try:
        started = time.monotonic()
        assert sign_in(server)[0] == 200
        assert time.monotonic() - started >= 0.25
        status, _ = call(server, "PUT", "/_stub/delay", {"delay_ms": 0}, {"apikey": "nope"})
        assert status == 401
        assert server.delay_ms == 250
        status, _ = call(
            server, "PUT", "/_stub/delay", {"delay_ms": -1}, {"apikey": CONFIG.anon_key}
        )
        assert status == 400
    finally:
        server.stop()


def test_stats_count_requests_by_endpoint(stub: AuthStubServer) -> None:
    _, session = sign_in(stub)
    sign_in(stub, password="wrong")
    get_user(stub, session["access_token"])

    status, stats = call(stub, "GET", "/_stub/stats")

    assert status == 200
    assert stats["requests"]["token"] == 2
    assert stats["requests"]["user"] == 1
    assert stats["delay_ms"] == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_refuses_to_bind_anything_but_loopback(host: str) -> None:
    with pytest.raises(SandboxError, match="refusing to bind"):
        auth_stub.serve(CONFIG, host=host)


def test_binds_ipv6_loopback() -> None:
    try:
        server = auth_stub.serve(CONFIG, host="::1")
    except SandboxError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        assert server.url.startswith("http://[::1]:")
        assert call(server, "GET", "/auth/v1/health")[0] == 200
    finally:
        server.stop()


def test_config_errors_name_the_key_not_the_value() -> None:
    with pytest.raises(ConfigError) as caught:
        StubConfig.from_mapping({**CONFIG.__dict__, "password": ""})
    assert "password" in str(caught.value)

    with pytest.raises(ConfigError, match="delay_ms"):
        StubConfig.from_mapping({**CONFIG.__dict__, "delay_ms": "soon"})


def test_logs_never_carry_secrets(stub: AuthStubServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger=auth_stub.__name__)
    _, session = sign_in(stub)
    get_user(stub, session["access_token"])
    sign_in(stub, password="wrong")

    text = caplog.text
    assert "POST /auth/v1/token 200" in text
    assert "GET /auth/v1/user 200" in text
    for secret in (
        CONFIG.password,
        CONFIG.anon_key,
        CONFIG.jwt_secret,
        session["access_token"],
        "grant_type",
    ):
        assert secret not in text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_cli_writes_its_pid_file_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config_file = tmp_path / "stub.json"
    config_file.write_text(json.dumps(CONFIG.__dict__), encoding="utf-8")
    config_file.chmod(0o600)
    pid_file = tmp_path / "stub.pid"
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cookcam_ops.sandbox.auth_stub",
            "--config",
            str(config_file),
            "--port",
            str(port),
            "--pid-file",
            str(pid_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_until(pid_file.exists, 10), "the stub never wrote its pid file"
        assert pid_file.read_text().strip() == str(proc.pid)
        url = f"http://127.0.0.1:{port}/auth/v1/health"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert not pid_file.exists()
    assert f"listening on http://127.0.0.1:{port}" in err
    assert CONFIG.anon_key not in err
    assert CONFIG.password not in err


def test_cli_refuses_a_public_address(tmp_path: Path) -> None:
    config_file = tmp_path / "stub.json"
    config_file.write_text(json.dumps(CONFIG.__dict__), encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookcam_ops.sandbox.auth_stub",
            "--config",
            str(config_file),
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "refusing to bind 0.0.0.0" in result.stderr
