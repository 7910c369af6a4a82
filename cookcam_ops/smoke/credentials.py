"""Smoke-test credentials: found by variable NAME, masked where they enter, exchanged for a token.

Order: the token variable (process environment, then smoke.env_file), else Supabase's password
grant with the email, password, URL and anon-key variables (each from the environment, then the
file). Errors name variables and places, never values.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from cookcam_ops.common import Secret
from cookcam_ops.errors import ConfigError

if TYPE_CHECKING:
    from cookcam_ops.config import SmokeConfig


@dataclass(frozen=True)
class TokenCredentials:
    """An access token given directly; `source` says which variable and where (no value)."""

    token: Secret
    source: str


@dataclass(frozen=True)
class PasswordGrant:
    """What Supabase's password grant needs, and the names of the variables it came from."""

    email: Secret
    password: Secret
    supabase_url: str
    anon_key: Secret
    email_env: str
    password_env: str
    anon_key_env: str

    @property
    def token_url(self) -> str:
        """The grant's URL as shown to people (no userinfo, no query of the user's)."""
        return display_url(self.supabase_url.rstrip("/") + "/auth/v1/token")


Credentials = TokenCredentials | PasswordGrant


@dataclass(frozen=True)
class SignIn:
    """A token ready for use, how it was obtained, and how long sign-in took."""

    token: Secret
    detail: str
    duration_s: float


class SignInUnavailable(Exception):
    """The auth server could not be reached or answered oddly; the message names the URL only."""


def display_url(url: str) -> str:
    """A URL safe to print: userinfo and query string removed."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _lookup(
    name: str, environ: Mapping[str, str], file_values: Mapping[str, str]
) -> tuple[str, str] | None:
    """(value, where) for a variable: the process environment first, then the env file."""
    if environ.get(name):
        return environ[name], "environment"
    if file_values.get(name):
        return file_values[name], "env file"
    return None


def read_env_file(path: Path) -> dict[str, str]:
    """The variables in smoke.env_file, read as Node's dotenv reads them."""
    from cookcam_ops.envfile.dotenv_parser import read_dotenv_file

    try:
        return dict(read_dotenv_file(path, "smoke env file").values)
    except ConfigError as e:
        raise ConfigError(e.message, hint=e.hint or "check smoke.env_file in ops.yaml") from None


def find_credentials(
    smoke: SmokeConfig, env_file: Path | None, environ: Mapping[str, str]
) -> Credentials:
    """Find the token, else the password-grant variables; ConfigError names what is missing."""
    file_values = read_env_file(env_file) if env_file is not None else {}
    token = _lookup(smoke.token_env, environ, file_values)
    if token is not None:
        where = "the environment" if token[1] == "environment" else str(env_file)
        return TokenCredentials(Secret(token[0]), f"{smoke.token_env} in {where}")
    names = (smoke.email_env, smoke.password_env, smoke.supabase_url_env, smoke.anon_key_env)
    found = {n: _lookup(n, environ, file_values) for n in names}
    missing = [n for n, v in found.items() if v is None]
    if missing:
        places = "the process environment" + (f" and {env_file}" if env_file else "")
        hint = (
            "set smoke.env_file in ops.yaml to read them from a file"
            if env_file is None
            else "add them to the env file or export them"
        )
        raise ConfigError(
            f"smoke credentials not found: set {smoke.token_env}, or all of "
            f"{', '.join(names)} (missing: {', '.join(missing)}); "
            f"looked in {places}",
            hint=hint,
        )
    value = {n: v[0] for n, v in found.items() if v is not None}
    url = value[smoke.supabase_url_env]
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ConfigError(
            f"{smoke.supabase_url_env} is not an http(s) URL",
            hint="it should look like https://PROJECT.supabase.co",
        )
    return PasswordGrant(
        email=Secret(value[smoke.email_env]),
        password=Secret(value[smoke.password_env]),
        supabase_url=url,
        anon_key=Secret(value[smoke.anon_key_env]),
        email_env=smoke.email_env,
        password_env=smoke.password_env,
        anon_key_env=smoke.anon_key_env,
    )


def sign_in(creds: Credentials, timeout_s: float) -> SignIn:
    """A token: the given one, or one from the password grant (httpx, one request)."""
    if isinstance(creds, TokenCredentials):
        return SignIn(creds.token, f"token from {creds.source}", 0.0)
    import httpx

    from cookcam_ops.smoke.capped import capped_client

    started = time.monotonic()
    try:
        with capped_client(timeout=timeout_s) as client:
            response = client.post(
                creds.supabase_url.rstrip("/") + "/auth/v1/token",
                params={"grant_type": "password"},
                headers={"apikey": creds.anon_key.reveal()},
                json={"email": creds.email.reveal(), "password": creds.password.reveal()},
            )
    except httpx.TimeoutException as e:
        raise SignInUnavailable(
            f"sign-in failed: {creds.token_url} did not answer within {timeout_s:g}s"
        ) from e
    except httpx.HTTPError as e:
        raise SignInUnavailable(
            f"sign-in failed: could not reach {creds.token_url} ({type(e).__name__})"
        ) from e
    elapsed = time.monotonic() - started
    token = judge_grant(creds, response.status_code, _json_or_none(response))
    return SignIn(
        token,
        f"password grant for {creds.email_env} at {creds.token_url} in {elapsed * 1000:.0f} ms",
        elapsed,
    )


def token_expiry(token: str) -> int | None:
    """A JWT's `exp` (seconds since the epoch), read without verifying it; None when the token
    is not a JWT or carries no expiry."""
    import base64
    import binascii
    import json

    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > 8192:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return exp if isinstance(exp, int) and not isinstance(exp, bool) else None


def verify_credentials(creds: Credentials, timeout_s: float) -> str:
    """Check the smoke credentials now, before a deploy changes anything: the password grant
    signs in (ConfigError when refused, SignInUnavailable when the server cannot say), a JWT
    must not have expired. Returns what was checked."""
    if isinstance(creds, PasswordGrant):
        return sign_in(creds, timeout_s).detail
    exp = token_expiry(creds.token.reveal())
    if exp is None:
        return f"token from {creds.source} (not a JWT with an expiry: the smoke step tries it)"
    left = exp - time.time()
    if left < 60:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))
        raise ConfigError(
            f"smoke credentials: the token from {creds.source} expires at {when}, "
            "before the smoke step would use it",
            hint="set a fresh token, or the password-grant variables instead",
        )
    return f"token from {creds.source}, valid for {left / 60:.0f} more minutes"


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def judge_grant(creds: PasswordGrant, status: int, body: Any) -> Secret:
    """The access token from a grant's answer, or the error it deserves (never echoing values)."""
    doc = body if isinstance(body, dict) else {}
    if status == 200:
        token = doc.get("access_token")
        if isinstance(token, str) and token:
            return Secret(token)
        raise SignInUnavailable(
            f"sign-in failed: {creds.token_url} answered 200 without an access_token"
        )
    code = doc.get("error_code") or doc.get("error")
    if status == 400 and code == "invalid_credentials":
        raise ConfigError(
            f"sign-in failed: invalid_credentials (check "
            f"{creds.email_env}/{_suffix(creds.password_env, creds.email_env)})"
        )
    if status in (401, 403) and "api key" in str(doc.get("message", "")).lower():
        raise ConfigError(
            f"sign-in failed: the auth server refused the API key (check {creds.anon_key_env})"
        )
    if status == 400:
        what = code if isinstance(code, str) and code.isidentifier() else "bad request"
        raise ConfigError(
            f"sign-in failed: {what} (check {creds.email_env}/"
            f"{_suffix(creds.password_env, creds.email_env)})"
        )
    if status == 429:
        raise SignInUnavailable(f"sign-in failed: {creds.token_url} is rate limiting (429)")
    raise SignInUnavailable(f"sign-in failed: {creds.token_url} answered {status}")


def _suffix(name: str, other: str) -> str:
    """`COOKCAM_SMOKE_PASSWORD` shortened to `PASSWORD` when it shares `other`'s prefix."""
    prefix = other.rpartition("_")[0]
    if prefix and name.startswith(prefix + "_"):
        return name[len(prefix) + 1 :]
    return name
