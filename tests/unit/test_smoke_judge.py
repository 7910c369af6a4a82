"""Pure smoke judgements: percentiles, the 409 envelope, refusals, rates, polling advice."""

from __future__ import annotations

import pytest

from cookcam_ops.common import percentile
from cookcam_ops.report import Status
from cookcam_ops.smoke.http_checks import unique_body
from cookcam_ops.smoke.judge import (
    POLLING_ADVICE,
    Handshake,
    Outcome,
    PollingAttempt,
    clip,
    envelope_problems,
    judge_polling,
    judge_rate,
    judge_refusal,
    judge_valid,
    summarize_rate,
)

GOOD = {
    "error": "DUPLICATE_ENTRY",
    "message": "Resource already exists",
    "statusCode": 409,
    "requestId": "req-1",
    "timestamp": "2025-01-31T12:00:00.123Z",
}


@pytest.mark.parametrize(("pct", "expected"), [(0, 1), (50, 5), (90, 9), (95, 10), (100, 10)])
def test_percentile_nearest_rank(pct: float, expected: float) -> None:
    assert percentile([float(v) for v in range(10, 0, -1)], pct) == expected


def test_percentile_edges() -> None:
    assert percentile([], 50) is None
    assert percentile([0.25], 95) == 0.25
    assert percentile([1.0, 2.0], 50) == 1.0


def test_good_envelope_has_no_problems() -> None:
    assert envelope_problems(409, GOOD) == []
    assert envelope_problems(409, {**GOOD, "timestamp": "2025-01-31T12:00:00+00:00"}) == []


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (201, GOOD, "answered 201, expected 409"),
        (409, ["not", "an", "object"], "not a JSON object"),
        (409, None, "not a JSON object"),
        (409, {**GOOD, "error": "CONFLICT"}, "expected DUPLICATE_ENTRY"),
        (409, {**GOOD, "statusCode": "409"}, "statusCode is '409'"),
        (409, {**GOOD, "statusCode": True}, "statusCode is True"),
        (409, {**GOOD, "message": ""}, "message is missing or empty"),
        (409, {k: v for k, v in GOOD.items() if k != "requestId"}, "requestId is missing"),
        (409, {**GOOD, "requestId": "  "}, "requestId is missing or empty"),
        (409, {**GOOD, "timestamp": "yesterday"}, "timestamp is missing or not ISO-8601"),
        (409, {**GOOD, "timestamp": "2025-01-31"}, "not ISO-8601"),
        (409, {**GOOD, "timestamp": 1738324800}, "not ISO-8601"),
    ],
)
def test_envelope_problems(status: int, body: object, problem: str) -> None:
    problems = envelope_problems(status, body)
    assert len(problems) == 1 and problem in problems[0]


def test_valid_token_timeout_says_supabase() -> None:
    status, detail = judge_valid(Handshake(Outcome.TIMEOUT, 5.0), 5.0)
    assert status is Status.FAIL
    assert detail == "no `connected` within 5.0s — the server may be waiting on Supabase"
    status, detail = judge_valid(Handshake(Outcome.CONNECTED, 0.0421), 5.0)
    assert (status, detail) == (Status.PASS, "`connected` received in 42 ms")


def test_refusal_passes_and_acceptance_is_a_bypass() -> None:
    refused = Handshake(Outcome.REFUSED, 0.01, "Authentication failed: invalid token")
    assert judge_refusal(refused, 5, "a bogus token") == (
        Status.PASS,
        "a bogus token refused: Authentication failed: invalid token",
    )
    status, detail = judge_refusal(Handshake(Outcome.CONNECTED, 0.01), 5, "no token")
    assert status is Status.FAIL and "ACCEPTED" in detail and "bypass" in detail
    status, detail = judge_refusal(Handshake(Outcome.TIMEOUT, 5), 2.5, "no token")
    assert status is Status.FAIL and "within 2.5s" in detail
    status, detail = judge_refusal(Handshake(Outcome.ERROR, 0, "Connection error"), 5, "x")
    assert status is Status.FAIL and "Connection error" in detail


def rate(ok: int, failed: int) -> list[Handshake]:
    good = [Handshake(Outcome.CONNECTED, (i + 1) / 1000) for i in range(ok)]
    return good + [Handshake(Outcome.TIMEOUT, 5.0)] * failed


def test_rate_at_99_percent_passes_and_reports_figures() -> None:
    summary = summarize_rate(rate(99, 1), wall_s=2.0, timeout_s=5.0)
    assert summary.success_rate == 0.99
    status, detail = judge_rate(summary)
    assert status is Status.PASS
    assert "99/100 connected (99.0%)" in detail and "p50 50 ms, p95 95 ms, max 99 ms" in detail
    assert "1× no `connected` within 5.0s" in detail
    assert summary.metrics() == {
        "connections": 100,
        "connected": 99,
        "auth_success_rate": 0.99,
        "handshake_p50_ms": 50.0,
        "handshake_p95_ms": 95.0,
        "handshake_max_ms": 99.0,
        "handshakes_per_s": 49.5,
    }


def test_rate_under_99_percent_fails() -> None:
    status, detail = judge_rate(summarize_rate(rate(98, 2), wall_s=1.0, timeout_s=5.0))
    assert status is Status.FAIL and "below 99%" in detail


def test_rate_with_nothing_connected() -> None:
    summary = summarize_rate(rate(0, 3), wall_s=5.0, timeout_s=5.0)
    assert judge_rate(summary)[0] is Status.FAIL
    assert summary.metrics()["handshake_p50_ms"] is None


def test_polling_warns_in_plain_words_and_never_fails() -> None:
    assert judge_polling([PollingAttempt(True)] * 10) == (
        Status.PASS,
        "10/10 long-polling handshakes completed",
    )
    attempts = [PollingAttempt(True)] * 6 + [PollingAttempt(False, "400 Session ID unknown")] * 4
    status, detail = judge_polling(attempts)
    assert status is Status.WARN
    assert detail.startswith("4/10 long-polling handshakes failed (4× 400 Session ID unknown)")
    assert POLLING_ADVICE in detail and "@socket.io/pm2" in detail
    status, detail = judge_polling([PollingAttempt(False, "open answered 502")])
    assert status is Status.WARN and POLLING_ADVICE not in detail


def test_unique_body_suffixes_every_string() -> None:
    body = {"title": "cookcam-ops smoke", "servings": 2, "tags": ["a"], "meta": {"b": "c"}}
    assert unique_body(body, "s1") == {
        "title": "cookcam-ops smoke s1",
        "servings": 2,
        "tags": ["a s1"],
        "meta": {"b": "c s1"},
    }


def test_clip_flattens_remote_text() -> None:
    assert clip("a\nb\x1b[31m") == "a b [31m"
    assert clip("x" * 100, 10) == "x" * 9 + "…"
