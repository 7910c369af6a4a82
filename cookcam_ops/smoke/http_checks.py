"""HTTP smoke checks with httpx: health, the duplicate-entry envelope, long-polling handshakes."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cookcam_ops.smoke.capped import capped_client
from cookcam_ops.smoke.judge import PollingAttempt, clip

if TYPE_CHECKING:
    import httpx

    from cookcam_ops.config import ProbeConfig

EIO_PARAMS = {"EIO": "4", "transport": "polling"}
RECORD_SEPARATOR = "\x1e"


@dataclass(frozen=True)
class HealthResult:
    """The health answer: ok or not, why, its latency, and whether the API answered at all."""

    ok: bool
    detail: str
    latency_s: float
    reachable: bool


def _transport_failure(e: Exception, url: str, timeout_s: float) -> str:
    import httpx

    if isinstance(e, httpx.TimeoutException):
        return f"{url} did not answer within {timeout_s:g}s"
    if isinstance(e, httpx.ConnectError):
        return f"could not connect to {url} ({type(e).__name__})"
    return f"{url} failed ({type(e).__name__})"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def check_health(url: str, timeout_s: float) -> HealthResult:
    """GET the health path: 200 with a JSON object body."""
    import httpx

    started = time.monotonic()
    try:
        with capped_client(timeout=timeout_s, follow_redirects=False) as client:
            response = client.get(url)
    except httpx.HTTPError as e:
        elapsed = time.monotonic() - started
        return HealthResult(False, _transport_failure(e, url, timeout_s), elapsed, False)
    elapsed = time.monotonic() - started
    body = _json(response)
    latency = f"in {elapsed * 1000:.0f} ms"
    if response.status_code != 200:
        return HealthResult(
            False, f"answered {response.status_code} {latency} (expected 200)", elapsed, True
        )
    if not isinstance(body, dict):
        return HealthResult(
            False, f"answered 200 {latency} but the body is not a JSON object", elapsed, True
        )
    shown = {k: clip(body[k], 40) for k in ("status", "version", "commit") if k in body}
    if "commit" in shown:
        shown["commit"] = shown["commit"][:12]
    about = ", ".join(f"{k} {v}" for k, v in shown.items())
    return HealthResult(True, f"200 {latency}" + (f" ({about})" if about else ""), elapsed, True)


def unique_body(value: Any, suffix: str) -> Any:
    """The probe body with `suffix` appended to every string, so each run creates a new row."""
    if isinstance(value, str):
        return f"{value} {suffix}"
    if isinstance(value, dict):
        return {k: unique_body(v, suffix) for k, v in value.items()}
    if isinstance(value, list):
        return [unique_body(v, suffix) for v in value]
    return value


@dataclass(frozen=True)
class ProbeAnswers:
    """The two answers to the duplicate probe (status and JSON body each)."""

    first_status: int
    second_status: int
    second_body: Any


def send_probe_twice(
    base_url: str, token: str, probe: ProbeConfig, timeout_s: float
) -> ProbeAnswers | str:
    """Send the probe twice with the token; a transport failure comes back as a message."""
    import httpx

    url = base_url + probe.path
    body = unique_body(dict(probe.json_body), f"smoke-{secrets.token_hex(6)}")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with capped_client(timeout=timeout_s, headers=headers) as client:
            first = client.request(probe.method, url, json=body)
            if first.status_code >= 300:
                return ProbeAnswers(first.status_code, 0, _json(first))
            second = client.request(probe.method, url, json=body)
    except httpx.HTTPError as e:
        return _transport_failure(e, url, timeout_s)
    return ProbeAnswers(first.status_code, second.status_code, _json(second))


def _message(response: httpx.Response) -> str:
    body = _json(response)
    if isinstance(body, dict) and body.get("message"):
        return f" {clip(body['message'])}"
    return ""


def polling_attempt(client: httpx.Client, base_url: str, token: str | None) -> PollingAttempt:
    """One Engine.IO v4 handshake over long-polling: open, send the namespace CONNECT, read it."""
    url = base_url + "/socket.io/"
    opened = client.get(url, params=EIO_PARAMS)
    if opened.status_code != 200 or not opened.text.startswith("0"):
        return PollingAttempt(False, f"open answered {opened.status_code}{_message(opened)}")
    try:
        sid = json.loads(opened.text[1:])["sid"]
    except (ValueError, KeyError, TypeError):
        return PollingAttempt(False, "open answered without a session id")
    params = {**EIO_PARAMS, "sid": sid}
    try:
        auth = json.dumps({"token": token} if token is not None else {})
        sent = client.post(url, params=params, content=f"40{auth}")
        if sent.status_code != 200:
            return PollingAttempt(False, f"{sent.status_code}{_message(sent)}")
        polled = client.get(url, params=params)
        if polled.status_code != 200:
            return PollingAttempt(False, f"{polled.status_code}{_message(polled)}")
        packets = polled.text.split(RECORD_SEPARATOR)
        if any(p.startswith(("40", "44")) for p in packets):
            return PollingAttempt(True)
        return PollingAttempt(False, "no answer to the namespace CONNECT")
    finally:
        _close_session(client, url, params)


def _close_session(client: httpx.Client, url: str, params: dict[str, str]) -> None:
    import httpx

    # best effort: the server drops the session after its ping timeout anyway
    with contextlib.suppress(httpx.HTTPError):
        client.post(url, params=params, content="1")


def run_polling(
    base_url: str, token: str | None, attempts: int, timeout_s: float
) -> list[PollingAttempt]:
    """Repeated long-polling handshakes, each request on a new TCP connection (as a browser's
    concurrent poll and send would be), so a cluster without sticky sessions shows."""
    import httpx

    limits = httpx.Limits(max_keepalive_connections=0)
    results = []
    with capped_client(timeout=timeout_s, limits=limits, headers={"Connection": "close"}) as client:
        for _ in range(attempts):
            try:
                results.append(polling_attempt(client, base_url, token))
            except httpx.HTTPError as e:
                results.append(PollingAttempt(False, _transport_failure(e, base_url, timeout_s)))
    return results
