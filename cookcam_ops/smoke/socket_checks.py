"""Socket.IO handshakes with python-socketio's asyncio client, over the websocket transport only.

One AsyncClient per connection. Handlers are registered before connecting, because the server's
refusal reason arrives only in a `connect_error` event. Every client is closed before returning,
and the clients' loggers are silenced (they would print errors on stderr by themselves).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cookcam_ops.smoke.judge import Handshake, Outcome

CLOSE_TIMEOUT_S = 2.0
_QUIET = logging.getLogger("cookcam_ops.smoke.socketio")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
_QUIET.setLevel(logging.CRITICAL + 1)


def bogus_token() -> str:
    """A well-formed JWT with a made-up subject and a random signature: it must be refused."""

    def part(doc: dict[str, Any]) -> str:
        raw = json.dumps(doc, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    claims = {
        "sub": "00000000-0000-4000-8000-000000000000",
        "role": "authenticated",
        "aud": "authenticated",
        "exp": int(time.time()) + 3600,
    }
    signature = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


def new_client() -> Any:
    """A python-socketio AsyncClient as the smoke checks use it: no reconnection, quiet."""
    import socketio

    return socketio.AsyncClient(
        reconnection=False, handle_sigint=False, logger=_QUIET, engineio_logger=_QUIET
    )


@dataclass
class _Seen:
    """What the handlers saw, in order of arrival."""

    outcome: Outcome | None = None
    reason: str = ""
    at: float = 0.0


def _reason(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("message", "")) or json.dumps(data)[:200]
    return "" if data is None else str(data)


async def handshake(client: Any, url: str, token: str | None, timeout_s: float) -> Handshake:
    """Connect one client (websocket only) and wait for `connected` or a refusal."""
    import aiohttp
    import socketio

    answered = asyncio.Event()
    seen = _Seen()

    async def on_connected(_data: Any = None) -> None:
        if seen.outcome is None:
            seen.outcome, seen.at = Outcome.CONNECTED, time.monotonic()
        answered.set()

    async def on_connect_error(data: Any = None) -> None:
        # A refusal from the server's middleware is a dict; a transport failure is a str.
        if isinstance(data, dict) and seen.outcome is None:
            seen.outcome, seen.reason, seen.at = Outcome.REFUSED, _reason(data), time.monotonic()
            answered.set()
        elif not seen.reason:
            seen.reason = _reason(data)

    client.on("connected", on_connected)
    client.on("connect_error", on_connect_error)
    auth = {"token": token} if token is not None else None
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            await client.connect(
                url, auth=auth, transports=["websocket"], wait=False, wait_timeout=timeout_s
            )
            await answered.wait()
    except TimeoutError:
        return Handshake(Outcome.TIMEOUT, time.monotonic() - started)
    except (socketio.exceptions.ConnectionError, aiohttp.ClientError, OSError) as e:
        reason = seen.reason or str(e) or type(e).__name__
        return Handshake(Outcome.ERROR, time.monotonic() - started, reason)
    assert seen.outcome is not None
    return Handshake(seen.outcome, seen.at - started, seen.reason)


async def close(client: Any) -> None:
    """Disconnect a client and close its HTTP session, whatever state it was left in."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await client.disconnect()
    except Exception:  # noqa: S110 - best effort: the connection may already be gone
        pass
    http = getattr(client.eio, "http", None)
    if http is not None and not http.closed:
        await http.close()


async def _one(url: str, token: str | None, timeout_s: float) -> Handshake:
    client = new_client()
    try:
        return await handshake(client, url, token, timeout_s)
    finally:
        await close(client)


@dataclass(frozen=True)
class AuthResults:
    """The three single-connection auth handshakes (valid is None without a token)."""

    valid: Handshake | None
    invalid: Handshake
    missing: Handshake


async def _auth_checks(url: str, token: str | None, timeout_s: float) -> AuthResults:
    async def skipped() -> None:
        return None

    valid, invalid, missing = await asyncio.gather(
        _one(url, token, timeout_s) if token is not None else skipped(),
        _one(url, bogus_token(), timeout_s),
        _one(url, None, timeout_s),
    )
    return AuthResults(valid, invalid, missing)


def run_auth_checks(url: str, token: str | None, timeout_s: float) -> AuthResults:
    """Valid token, bogus token and no token, concurrently, on fresh connections."""
    return asyncio.run(_auth_checks(url, token, timeout_s))


async def _rate(
    url: str, token: str, connections: int, timeout_s: float
) -> tuple[list[Handshake], float]:
    clients = [new_client() for _ in range(connections)]
    started = time.monotonic()
    try:
        results = await asyncio.gather(*(handshake(c, url, token, timeout_s) for c in clients))
        wall = time.monotonic() - started
    finally:
        await asyncio.gather(*(close(c) for c in clients), return_exceptions=True)
    return list(results), wall


def run_rate(
    url: str, token: str, connections: int, timeout_s: float
) -> tuple[list[Handshake], float]:
    """N concurrent authenticated handshakes, all held open until the last settles, then closed."""
    return asyncio.run(_rate(url, token, connections, timeout_s))
