"""Pure judgements for smoke checks: envelopes, handshakes, rates and percentiles (no I/O)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cookcam_ops.common import percentile
from cookcam_ops.report import Status

DUPLICATE_CODE = "DUPLICATE_ENTRY"
MIN_AUTH_RATE = 0.99
SESSION_UNKNOWN = "Session ID unknown"
POLLING_ADVICE = (
    "long-polling fails in PM2 cluster mode without sticky sessions; "
    "websocket-only clients are unaffected; fix: sticky sessions or @socket.io/pm2"
)
MAX_REMOTE_TEXT = 80


class Outcome(StrEnum):
    """How one Socket.IO handshake ended."""

    CONNECTED = "connected"  # the `connected` event arrived
    REFUSED = "refused"  # the server's middleware sent connect_error
    TIMEOUT = "timeout"  # no answer within the timeout
    ERROR = "error"  # the transport failed (refused TCP, bad upgrade, reset)


@dataclass(frozen=True)
class Handshake:
    """One handshake's outcome, the server's reason (if any) and its latency."""

    outcome: Outcome
    latency_s: float
    reason: str = ""


def clip(text: object, limit: int = MAX_REMOTE_TEXT) -> str:
    """Remote text made safe for one line: control characters dropped, length capped."""
    flat = "".join(ch if ch.isprintable() else " " for ch in str(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def ms(seconds: float | None) -> float | None:
    """Seconds as milliseconds rounded to 0.1 (None stays None)."""
    return None if seconds is None else round(seconds * 1000, 1)


def timeout_text(timeout_s: float) -> str:
    return f"no `connected` within {timeout_s:.1f}s — the server may be waiting on Supabase"


def describe(handshake: Handshake, timeout_s: float) -> str:
    """A handshake's outcome in words."""
    if handshake.outcome == Outcome.CONNECTED:
        return f"`connected` received in {handshake.latency_s * 1000:.0f} ms"
    if handshake.outcome == Outcome.TIMEOUT:
        return timeout_text(timeout_s)
    if handshake.outcome == Outcome.REFUSED:
        return f"refused: {clip(handshake.reason) or 'no reason given'}"
    return f"connection failed: {clip(handshake.reason) or 'unknown error'}"


def judge_valid(handshake: Handshake, timeout_s: float) -> tuple[Status, str]:
    """socket-auth-valid: the `connected` event must arrive within the timeout."""
    status = Status.PASS if handshake.outcome == Outcome.CONNECTED else Status.FAIL
    return status, describe(handshake, timeout_s)


def judge_refusal(handshake: Handshake, timeout_s: float, what: str) -> tuple[Status, str]:
    """socket-auth-invalid/missing: a refusal with connect_error passes; acceptance is a bypass."""
    if handshake.outcome == Outcome.REFUSED:
        return Status.PASS, f"{what} refused: {clip(handshake.reason) or 'no reason given'}"
    if handshake.outcome == Outcome.CONNECTED:
        return Status.FAIL, f"{what} was ACCEPTED — authentication bypass"
    if handshake.outcome == Outcome.TIMEOUT:
        return Status.FAIL, (
            f"no answer to {what} within {timeout_s:.1f}s — the server may be waiting on Supabase"
        )
    return Status.FAIL, describe(handshake, timeout_s)


def _is_iso8601(value: object) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def envelope_problems(status: int, body: Any) -> list[str]:
    """What is wrong with a duplicate-entry answer (empty when it is the documented envelope)."""
    if status != 409:
        return [f"answered {status}, expected 409"]
    if not isinstance(body, dict):
        return ["the 409 body is not a JSON object"]
    problems = []
    if body.get("error") != DUPLICATE_CODE:
        problems.append(f"error is {clip(repr(body.get('error')), 40)}, expected {DUPLICATE_CODE}")
    code = body.get("statusCode")
    if isinstance(code, bool) or code != 409:
        problems.append(f"statusCode is {clip(repr(code), 20)}, expected 409")
    for key in ("message", "requestId"):
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key} is missing or empty")
    if not _is_iso8601(body.get("timestamp")):
        problems.append("timestamp is missing or not ISO-8601")
    return problems


@dataclass(frozen=True)
class RateSummary:
    """socket-auth-rate's figures over N concurrent handshakes."""

    connections: int
    connected: int
    wall_s: float
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    failures: tuple[tuple[str, int], ...]

    @property
    def success_rate(self) -> float:
        return self.connected / self.connections if self.connections else 0.0

    @property
    def per_second(self) -> float:
        return self.connected / self.wall_s if self.wall_s > 0 else 0.0

    def metrics(self) -> dict[str, float | int | None]:
        return {
            "connections": self.connections,
            "connected": self.connected,
            "auth_success_rate": round(self.success_rate, 4),
            "handshake_p50_ms": ms(self.p50_s),
            "handshake_p95_ms": ms(self.p95_s),
            "handshake_max_ms": ms(self.max_s),
            "handshakes_per_s": round(self.per_second, 1),
        }


def summarize_rate(results: Sequence[Handshake], wall_s: float, timeout_s: float) -> RateSummary:
    """Success count, latency percentiles and the most common failure reasons."""
    ok = [r.latency_s for r in results if r.outcome == Outcome.CONNECTED]
    reasons = Counter(describe(r, timeout_s) for r in results if r.outcome != Outcome.CONNECTED)
    return RateSummary(
        connections=len(results),
        connected=len(ok),
        wall_s=wall_s,
        p50_s=percentile(ok, 50),
        p95_s=percentile(ok, 95),
        max_s=max(ok) if ok else None,
        failures=tuple(reasons.most_common(3)),
    )


def judge_rate(summary: RateSummary, minimum: float = MIN_AUTH_RATE) -> tuple[Status, str]:
    """socket-auth-rate: FAIL under the minimum success rate."""
    s = summary
    text = (
        f"{s.connected}/{s.connections} connected ({s.success_rate:.1%}) in {s.wall_s:.2f}s, "
        f"{s.per_second:.0f} handshakes/s"
    )
    if s.p50_s is not None and s.p95_s is not None and s.max_s is not None:
        text += (
            f"; handshake p50 {s.p50_s * 1000:.0f} ms, p95 {s.p95_s * 1000:.0f} ms, "
            f"max {s.max_s * 1000:.0f} ms"
        )
    if s.failures:
        text += "; " + ", ".join(f"{n}× {reason}" for reason, n in s.failures)
    if s.success_rate < minimum:
        return Status.FAIL, f"{text} (below {minimum:.0%})"
    return Status.PASS, text


@dataclass(frozen=True)
class PollingAttempt:
    """One handshake over HTTP long-polling: ok, or the step and reason it failed at."""

    ok: bool
    reason: str = ""


def judge_polling(attempts: Sequence[PollingAttempt]) -> tuple[Status, str]:
    """polling-handshake: WARN (never FAIL) when any handshake fails, in plain words."""
    ok = sum(a.ok for a in attempts)
    total = len(attempts)
    if ok == total:
        return Status.PASS, f"{ok}/{total} long-polling handshakes completed"
    reasons = Counter(a.reason for a in attempts if not a.ok)
    top = ", ".join(f"{n}× {clip(r)}" for r, n in reasons.most_common(2))
    text = f"{total - ok}/{total} long-polling handshakes failed ({top})"
    if any(SESSION_UNKNOWN in r for r in reasons):
        text += f" — {POLLING_ADVICE}"
    return Status.WARN, text
