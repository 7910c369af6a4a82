"""A stand-in for Supabase's auth server (GoTrue): password grant, /user, health, on loopback.

Shapes follow GoTrue's REST API closely enough for `@supabase/supabase-js` (`auth.getUser`) and
for the sandbox's smoke checks. Access tokens are real HS256 JWTs signed with the configured
secret. A bad or expired token on `/auth/v1/user` answers 403 `bad_jwt`, as current GoTrue does
(older releases answered 401). Nothing here logs a token, password or key.

Run it: `python -m cookcam_ops.sandbox.auth_stub --config FILE --port PORT [--pid-file FILE]`.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from cookcam_ops.errors import ConfigError, OpsError, SandboxError

log = logging.getLogger(__name__)

TOKEN_TTL_S = 3600
MAX_DELAY_MS = 60_000
MAX_BODY_BYTES = 64 * 1024
_CONFIG_KEYS = ("anon_key", "jwt_secret", "email", "password", "user_id")


@dataclass(frozen=True)
class StubConfig:
    """What the stub accepts: one user, one anon key, one signing secret."""

    anon_key: str
    jwt_secret: str
    email: str
    password: str
    user_id: str
    delay_ms: int = 0

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], *, source: str = "config") -> StubConfig:
        """Build from a JSON object; errors name the key, never its value."""
        values: dict[str, str] = {}
        for key in _CONFIG_KEYS:
            value = data.get(key)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{source}: {key} must be a non-empty string")
            values[key] = value
        delay = data.get("delay_ms", 0)
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_MS:
            raise ConfigError(f"{source}: delay_ms must be an integer from 0 to {MAX_DELAY_MS}")
        return cls(delay_ms=delay, **values)


def load_config(path: Path) -> StubConfig:
    """Read the stub's JSON config file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from e
    except ValueError as e:
        raise ConfigError(f"{path}: not valid JSON") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a JSON object")
    return StubConfig.from_mapping(data, source=str(path))


# --- JWT (HS256) -------------------------------------------------------------------------------


class InvalidTokenError(Exception):
    """The token is malformed, wrongly signed or expired; the message is safe to show."""


def encode_jwt(claims: Mapping[str, object], secret: str) -> str:
    """Sign claims as an HS256 JWT."""
    import jwt

    return jwt.encode(dict(claims), secret, algorithm="HS256")


def decode_jwt(token: str, secret: str, *, now: float | None = None) -> dict[str, Any]:
    """Verify an HS256 JWT's signature and expiry (exp required) and return its claims.

    `now` moves the clock for tests; PyJWT checks exp against the real clock, so with `now`
    the expiry is judged here instead.
    """
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp"], "verify_aud": False, "verify_exp": now is None},
        )
    except jwt.ExpiredSignatureError as e:
        raise InvalidTokenError("token is expired") from e
    except jwt.InvalidAlgorithmError as e:
        raise InvalidTokenError("signing method is not HS256") from e
    except jwt.InvalidSignatureError as e:
        raise InvalidTokenError("signature is invalid") from e
    except jwt.MissingRequiredClaimError as e:
        raise InvalidTokenError("token has no exp claim") from e
    except jwt.InvalidTokenError as e:
        raise InvalidTokenError("token is malformed") from e
    if now is not None and claims["exp"] <= now:
        raise InvalidTokenError(f"token is expired by {int(now - claims['exp'])}s")
    return claims


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def user_object(config: StubConfig, created_at: float) -> dict[str, Any]:
    """The user as GoTrue returns it from /user and inside a session."""
    stamp = _iso(created_at)
    return {
        "id": config.user_id,
        "aud": "authenticated",
        "role": "authenticated",
        "email": config.email,
        "email_confirmed_at": stamp,
        "phone": "",
        "confirmed_at": stamp,
        "last_sign_in_at": stamp,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "identities": [],
        "created_at": stamp,
        "updated_at": stamp,
        "is_anonymous": False,
    }


def issue_access_token(config: StubConfig, *, now: float, ttl_s: int = TOKEN_TTL_S) -> str:
    """A signed access token for the configured user (tests mint expired ones with ttl_s < 0)."""
    claims = {
        "aud": "authenticated",
        "exp": int(now) + ttl_s,
        "iat": int(now),
        "sub": config.user_id,
        "email": config.email,
        "phone": "",
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": int(now)}],
        "session_id": secrets.token_hex(16),
        "is_anonymous": False,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
    }
    return encode_jwt(claims, config.jwt_secret)


# --- the server --------------------------------------------------------------------------------


def _check_loopback(host: str) -> None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        ok = host == "localhost"
    else:
        ok = address.is_loopback
    if not ok:
        raise SandboxError(
            f"auth stub: refusing to bind {host}", hint="use a loopback address such as 127.0.0.1"
        )


class AuthStubServer(ThreadingHTTPServer):
    """The stub's HTTP server; holds the config, the current delay and request counts."""

    daemon_threads = True
    request_queue_size = 1024  # smoke opens hundreds of connections at once; 5 drops SYNs

    def __init__(self, config: StubConfig, host: str, port: int) -> None:
        bind_host = "127.0.0.1" if host == "localhost" else host
        self.address_family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
        self.config = config
        self.started_at = time.time()
        self._lock = threading.Lock()
        self._delay_ms = config.delay_ms
        self._counts: Counter[str] = Counter()
        self._thread: threading.Thread | None = None
        super().__init__((bind_host, port), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up before a delayed answer is normal here, not a traceback."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall; skip it.
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()[:2]
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    @property
    def port(self) -> int:
        return self.server_port

    @property
    def url(self) -> str:
        host = self.server_name
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def delay_ms(self) -> int:
        with self._lock:
            return self._delay_ms

    @delay_ms.setter
    def delay_ms(self, value: int) -> None:
        with self._lock:
            self._delay_ms = value

    def count(self, endpoint: str) -> None:
        with self._lock:
            self._counts[endpoint] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(self._counts), "delay_ms": self._delay_ms}

    def start(self) -> None:
        """Serve on a daemon thread."""
        # A short poll interval keeps stop() quick (shutdown() waits for the next poll).
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.05,), name="auth-stub", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (if started) and close the listening socket."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()


def create_server(config: StubConfig, host: str = "127.0.0.1", port: int = 0) -> AuthStubServer:
    """Bind the stub (loopback only) without serving yet."""
    _check_loopback(host)
    try:
        return AuthStubServer(config, host, port)
    except OSError as e:
        raise SandboxError(f"auth stub: cannot bind {host}:{port} ({e.strerror})") from e


def serve(
    config: StubConfig | Mapping[str, object], host: str = "127.0.0.1", port: int = 0
) -> AuthStubServer:
    """Bind and serve on a background thread; call `.stop()` when done."""
    if not isinstance(config, StubConfig):
        config = StubConfig.from_mapping(config)
    server = create_server(config, host, port)
    server.start()
    return server


# Routes: (method, path) -> endpoint name used in stats and in the handler's dispatch.
_ROUTES = {
    ("POST", "/auth/v1/token"): "token",
    ("GET", "/auth/v1/user"): "user",
    ("GET", "/auth/v1/health"): "health",
    ("PUT", "/_stub/delay"): "stub_delay",
    ("GET", "/_stub/stats"): "stub_stats",
}
_DELAYED = frozenset({"token", "user"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GoTrue-stub"
    timeout = 30

    @property
    def stub(self) -> AuthStubServer:
        return cast(AuthStubServer, self.server)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        # BaseHTTPRequestHandler would print the raw request line; _dispatch logs instead.
        return

    def _dispatch(self) -> None:
        started = time.monotonic()
        parts = urlsplit(self.path)
        endpoint = _ROUTES.get((self.command, parts.path), "other")
        self.stub.count(endpoint)
        body = self._read_body()
        if endpoint in _DELAYED and (delay := self.stub.delay_ms) > 0:
            time.sleep(delay / 1000)
        status, payload = self._route(endpoint, parse_qs(parts.query), body)
        self._send_json(status, payload)
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("%s %s %d %.0fms", self.command, parts.path, status, elapsed_ms)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            return b""
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return b""
        return self.rfile.read(length)

    def _send_json(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(
        self, endpoint: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Mapping[str, Any]]:
        if endpoint == "health":
            return 200, {"version": "stub", "name": "GoTrue", "description": "cookcam-ops stub"}
        if endpoint == "stub_stats":
            return 200, self.stub.stats()
        if endpoint == "other":
            return 404, {"code": 404, "error_code": "not_found", "msg": "Not Found"}
        refusal = self._check_apikey()
        if refusal is not None:
            return refusal
        if endpoint == "token":
            return self._token(query.get("grant_type", [""])[0], body)
        if endpoint == "user":
            return self._user()
        return self._set_delay(body)

    def _check_apikey(self) -> tuple[int, Mapping[str, Any]] | None:
        given = self.headers.get("apikey")
        if given is None:
            hint = "No `apikey` request header or url param was found."
            return 401, {"message": "No API key found in request", "hint": hint}
        if not hmac.compare_digest(given.encode(), self.stub.config.anon_key.encode()):
            hint = "Double check your Supabase `anon` or `service_role` API key."
            return 401, {"message": "Invalid API key", "hint": hint}
        return None

    def _token(self, grant_type: str, body: bytes) -> tuple[int, Mapping[str, Any]]:
        if grant_type != "password":
            return 400, _gotrue_error(400, "validation_failed", "unsupported_grant_type")
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return 400, _gotrue_error(400, "bad_json", "Could not parse request body as JSON")
        if not isinstance(params, dict):
            return 400, _gotrue_error(400, "bad_json", "Request body must be a JSON object")
        config = self.stub.config
        email, password = params.get("email"), params.get("password")
        if not isinstance(email, str) or not isinstance(password, str) or not password:
            return 400, _gotrue_error(400, "validation_failed", "Missing email or password")
        email_ok = email.strip().lower() == config.email.lower()
        password_ok = hmac.compare_digest(password.encode(), config.password.encode())
        if not (email_ok and password_ok):
            return 400, _gotrue_error(400, "invalid_credentials", "Invalid login credentials")
        now = time.time()
        return 200, {
            "access_token": issue_access_token(config, now=now),
            "token_type": "bearer",
            "expires_in": TOKEN_TTL_S,
            "expires_at": int(now) + TOKEN_TTL_S,
            "refresh_token": secrets.token_urlsafe(9),
            "user": user_object(config, self.stub.started_at),
        }

    def _user(self) -> tuple[int, Mapping[str, Any]]:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            msg = "This endpoint requires a valid Bearer token"
            return 401, _gotrue_error(401, "no_authorization", msg)
        config = self.stub.config
        try:
            claims = decode_jwt(token.strip(), config.jwt_secret)
        except InvalidTokenError as e:
            msg = f"invalid JWT: unable to parse or verify signature, {e}"
            return 403, _gotrue_error(403, "bad_jwt", msg)
        if claims.get("sub") != config.user_id:
            msg = "User from sub claim in JWT does not exist"
            return 403, _gotrue_error(403, "user_not_found", msg)
        return 200, user_object(config, self.stub.started_at)

    def _set_delay(self, body: bytes) -> tuple[int, Mapping[str, Any]]:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = None
        delay = params.get("delay_ms") if isinstance(params, dict) else None
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_MS:
            msg = f"delay_ms must be an integer from 0 to {MAX_DELAY_MS}"
            return 400, _gotrue_error(400, "validation_failed", msg)
        self.stub.delay_ms = delay
        return 200, {"delay_ms": delay}


def _gotrue_error(code: int, error_code: str, msg: str) -> dict[str, Any]:
    return {"code": code, "error_code": error_code, "msg": msg}


# --- CLI ---------------------------------------------------------------------------------------


def _write_pid_file(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(f"{os.getpid()}\n", encoding="ascii")
        tmp.replace(path)
    except OSError as e:
        raise SandboxError(f"auth stub: cannot write pid file {path} ({e.strerror})") from e


def _remove_pid_file(path: Path) -> None:
    try:
        if path.read_text(encoding="ascii").strip() == str(os.getpid()):
            path.unlink()
    except OSError:
        pass


def run(config_path: Path, host: str, port: int, pid_file: Path | None) -> None:
    """Serve until SIGTERM or SIGINT, keeping the pid file for as long as the socket is bound."""
    config = load_config(config_path)
    if config_path.stat().st_mode & 0o077:
        log.warning("%s is readable by others; it holds secrets (chmod 600 it)", config_path)
    server = create_server(config, host, port)
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # No logging here: a handler that writes to the stream the main thread is writing to
        # makes Python raise "reentrant call"; the loop below says it once it wakes.
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if pid_file is not None:
            _write_pid_file(pid_file)
        server.start()
        log.info("listening on %s (pid %d)", server.url, os.getpid())
        while not stop.wait(1.0):
            pass
        log.info("%s received, stopping", received[0])
    finally:
        server.stop()
        if pid_file is not None:
            _remove_pid_file(pid_file)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m cookcam_ops.sandbox.auth_stub`."""
    parser = argparse.ArgumentParser(prog="python -m cookcam_ops.sandbox.auth_stub")
    parser.add_argument("--config", type=Path, required=True, help="JSON config file (mode 600)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, required=True, help="port to bind (0: any free)")
    parser.add_argument("--pid-file", type=Path, help="write the pid here once bound")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="auth-stub: %(message)s", stream=sys.stderr)
    try:
        run(args.config, args.host, args.port, args.pid_file)
    except OpsError as e:
        print(f"auth-stub: {e}", file=sys.stderr)
        return int(e.exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
