"""Smoke credentials: masking, where each variable is looked up, and the password grant."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from cookcam_ops.common import Secret
from cookcam_ops.config import SmokeConfig
from cookcam_ops.errors import ConfigError, ExitCode
from cookcam_ops.sandbox.auth_stub import AuthStubServer, serve
from cookcam_ops.smoke.credentials import (
    PasswordGrant,
    SignInUnavailable,
    TokenCredentials,
    display_url,
    find_credentials,
    judge_grant,
    sign_in,
)

GRANT_ENV = {
    "COOKCAM_SMOKE_EMAIL": "smoke@example.com",
    "COOKCAM_SMOKE_PASSWORD": "pw-env",
    "SUPABASE_URL": "http://127.0.0.1:9",
    "SUPABASE_ANON_KEY": "anon-env",
}
STUB = {
    "anon_key": "anon-stub",
    "jwt_secret": "j" * 40,
    "email": "smoke@example.com",
    "password": "pw-stub",
    "user_id": "7d4a2a44-0000-4000-8000-000000000001",
}


def test_secret_is_masked_everywhere_but_reveal() -> None:
    secret = Secret("hunter2")
    shown = [
        str(secret),
        repr(secret),
        f"{secret}",
        f"{secret:>20}",
        f"{secret!s}",
        repr(TokenCredentials(secret, "X in the environment")),
        str([secret]),
    ]
    assert all("hunter2" not in s for s in shown)
    assert secret.reveal() == "hunter2"
    assert bool(secret) and not Secret("")
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "smoke.env"
    path.write_text(body, encoding="utf-8")
    return path


def test_token_in_environment_wins_over_everything(tmp_path: Path) -> None:
    env_file = write(tmp_path, "COOKCAM_SMOKE_TOKEN=from-file\n")
    creds = find_credentials(
        SmokeConfig(), env_file, {**GRANT_ENV, "COOKCAM_SMOKE_TOKEN": "from-env"}
    )
    assert isinstance(creds, TokenCredentials)
    assert creds.token.reveal() == "from-env"
    assert creds.source == "COOKCAM_SMOKE_TOKEN in the environment"


def test_token_in_file_beats_the_password_grant(tmp_path: Path) -> None:
    env_file = write(tmp_path, "COOKCAM_SMOKE_TOKEN=from-file # a comment\n")
    creds = find_credentials(SmokeConfig(), env_file, GRANT_ENV)
    assert isinstance(creds, TokenCredentials)
    assert creds.token.reveal() == "from-file"
    assert str(env_file) in creds.source


def test_grant_variables_from_environment_then_file(tmp_path: Path) -> None:
    env_file = write(
        tmp_path,
        "COOKCAM_SMOKE_EMAIL=file@example.com\n"
        "COOKCAM_SMOKE_PASSWORD='pw file'\nSUPABASE_URL=http://x:1\n"
        "SUPABASE_ANON_KEY=anon-file\n",
    )
    environ = {"COOKCAM_SMOKE_PASSWORD": "pw-env", "COOKCAM_SMOKE_TOKEN": ""}  # empty = unset
    creds = find_credentials(SmokeConfig(), env_file, environ)
    assert isinstance(creds, PasswordGrant)
    assert creds.password.reveal() == "pw-env"
    assert creds.email.reveal() == "file@example.com"
    assert (creds.supabase_url, creds.anon_key.reveal()) == ("http://x:1", "anon-file")


def test_custom_variable_names_are_honoured() -> None:
    smoke = SmokeConfig(token_env="MY_TOKEN")
    creds = find_credentials(smoke, None, {"MY_TOKEN": "t", "COOKCAM_SMOKE_TOKEN": "other"})
    assert isinstance(creds, TokenCredentials) and creds.token.reveal() == "t"


def test_missing_credentials_name_variables_and_places(tmp_path: Path) -> None:
    env_file = write(tmp_path, "COOKCAM_SMOKE_EMAIL=only-this-S3CRET\n")
    with pytest.raises(ConfigError) as info:
        find_credentials(SmokeConfig(), env_file, {"SUPABASE_URL": "http://x:1"})
    message = str(info.value)
    assert info.value.exit_code is ExitCode.USAGE
    assert "COOKCAM_SMOKE_TOKEN" in message
    assert "missing: COOKCAM_SMOKE_PASSWORD, SUPABASE_ANON_KEY" in message
    assert "the process environment" in message and str(env_file) in message
    assert "only-this-S3CRET" not in message and "http://x:1" not in message


def test_configured_env_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"smoke env file not found; check smoke\.env_file"):
        find_credentials(SmokeConfig(), tmp_path / "nope.env", {})


def test_supabase_url_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SUPABASE_URL is not an http"):
        find_credentials(SmokeConfig(), None, {**GRANT_ENV, "SUPABASE_URL": "db.example:5432"})


def grant(
    url: str = "http://127.0.0.1:9", password: str = "pw", anon: str = "anon"
) -> PasswordGrant:
    return PasswordGrant(
        email=Secret(STUB["email"]),
        password=Secret(password),
        supabase_url=url,
        anon_key=Secret(anon),
        email_env="COOKCAM_SMOKE_EMAIL",
        password_env="COOKCAM_SMOKE_PASSWORD",
        anon_key_env="SUPABASE_ANON_KEY",
    )


def test_judge_grant_answers() -> None:
    creds = grant()
    assert judge_grant(creds, 200, {"access_token": "abc"}).reveal() == "abc"
    with pytest.raises(ConfigError) as info:
        judge_grant(creds, 400, {"code": 400, "error_code": "invalid_credentials", "msg": "x"})
    assert str(info.value) == (
        "sign-in failed: invalid_credentials (check COOKCAM_SMOKE_EMAIL/PASSWORD)"
    )
    with pytest.raises(ConfigError, match="SUPABASE_ANON_KEY"):
        judge_grant(creds, 401, {"message": "Invalid API key", "hint": "..."})
    for status, body, text in (
        (429, {}, "rate limiting (429)"),
        (502, None, "answered 502"),
        (200, {"user": {}}, "without an access_token"),
    ):
        with pytest.raises(SignInUnavailable, match=r"http://127\.0\.0\.1:9/auth/v1/token") as e:
            judge_grant(creds, status, body)
        assert text in str(e.value)


def test_display_url_drops_userinfo_and_query() -> None:
    assert display_url("https://u:pw@x.supabase.co/auth/v1/token?apikey=k") == (
        "https://x.supabase.co/auth/v1/token"
    )


@pytest.fixture
def stub() -> Iterator[AuthStubServer]:
    server = serve(STUB)
    try:
        yield server
    finally:
        server.stop()


def test_sign_in_with_the_password_grant(stub: AuthStubServer) -> None:
    result = sign_in(grant(stub.url, "pw-stub", "anon-stub"), timeout_s=5)
    assert result.token.reveal().count(".") == 2  # a JWT
    assert "password grant for COOKCAM_SMOKE_EMAIL" in result.detail
    assert "pw-stub" not in result.detail and "anon-stub" not in result.detail


def test_sign_in_wrong_password_is_a_usage_error(stub: AuthStubServer) -> None:
    with pytest.raises(ConfigError) as info:
        sign_in(grant(stub.url, "wrong-pw-S3CRET", "anon-stub"), timeout_s=5)
    assert "invalid_credentials" in str(info.value)
    assert "wrong-pw-S3CRET" not in str(info.value)


def test_sign_in_timeout_names_the_url_not_the_key(stub: AuthStubServer) -> None:
    stub.delay_ms = 1500
    # the stub writes its late answer to a socket we closed: keep its traceback out of the log
    stub.handle_error = lambda *_args: None  # type: ignore[method-assign]
    with pytest.raises(SignInUnavailable) as info:
        sign_in(grant(stub.url, "pw-stub", "anon-stub"), timeout_s=0.3)
    assert str(info.value) == (
        f"sign-in failed: {stub.url}/auth/v1/token did not answer within 0.3s"
    )


def test_sign_in_unreachable() -> None:
    with pytest.raises(SignInUnavailable, match=r"could not reach http://127\.0\.0\.1:9/"):
        sign_in(grant(), timeout_s=2)


def test_given_token_needs_no_request() -> None:
    result = sign_in(TokenCredentials(Secret("t"), "COOKCAM_SMOKE_TOKEN in the environment"), 1)
    assert result.token.reveal() == "t"
    assert result.detail == "token from COOKCAM_SMOKE_TOKEN in the environment"
