"""The smoke service: `run_smoke(targets, creds, options, progress) -> Report`.

Used by `cookcam-ops smoke` and, as a gate, by deploy. It never prints: progress goes to the
callback it is given. Tokens are revealed only at the transport (a header or an auth packet).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cookcam_ops.common import Secret
from cookcam_ops.masking import MASK
from cookcam_ops.report import Check, Report, Status
from cookcam_ops.smoke import judge
from cookcam_ops.smoke.credentials import Credentials

if TYPE_CHECKING:
    from cookcam_ops.config import ProbeConfig, SmokeConfig
    from cookcam_ops.smoke.targets import SmokeTarget

Progress = Callable[[str], None]
AFTER_HEALTH = (
    "socket-auth-valid",
    "socket-auth-invalid",
    "socket-auth-missing",
    "error-envelope",
    "socket-auth-rate",
    "polling-handshake",
)
POLLING_ATTEMPTS = 10


@dataclass(frozen=True)
class SmokeOptions:
    """How hard to push: per-step timeout, concurrent connections, the duplicate probe."""

    timeout_s: float = 10.0
    connections: int = 100
    polling_attempts: int = POLLING_ATTEMPTS
    duplicate_probe: ProbeConfig | None = None
    min_auth_rate: float = judge.MIN_AUTH_RATE

    @classmethod
    def from_config(
        cls, smoke: SmokeConfig, *, timeout_s: float | None = None, connections: int | None = None
    ) -> SmokeOptions:
        """ops.yaml's smoke settings, with command-line overrides where given."""
        return cls(
            timeout_s=timeout_s if timeout_s is not None else smoke.timeout_s,
            connections=connections if connections is not None else smoke.connections,
            duplicate_probe=smoke.duplicate_probe,
        )


def _ignore(_message: str) -> None:
    return None


def _sign_in(creds: Credentials, timeout_s: float) -> tuple[Check, Secret | None]:
    """The sign-in check; bad credentials raise ConfigError, an unreachable server is a FAIL."""
    from cookcam_ops.smoke.credentials import SignInUnavailable, sign_in

    started = time.monotonic()
    try:
        result = sign_in(creds, timeout_s)
    except SignInUnavailable as e:
        return Check("sign-in", Status.FAIL, str(e), duration_s=time.monotonic() - started), None
    return Check("sign-in", Status.PASS, result.detail, duration_s=result.duration_s), result.token


class _HostRun:
    """The checks of one target, collected in order, with that target's metrics."""

    def __init__(
        self, target: SmokeTarget, token: Secret | None, options: SmokeOptions, progress: Progress
    ) -> None:
        self.target, self.token, self.options = target, token, options
        self.progress = progress
        self.checks: list[Check] = []
        self.metrics: dict[str, Any] = {"url": target.base_url}

    def add(self, name: str, status: Status, detail: str, duration_s: float | None) -> None:
        if self.token:  # a server that echoes the token back must not get it into the report
            detail = detail.replace(self.token.reveal(), MASK)
        self.checks.append(
            Check(name, status, detail, host=self.target.check_host, duration_s=duration_s or 0.0)
        )

    def say(self, step: str) -> None:
        self.progress(f"{self.target.label}: {step}")

    def run(self) -> None:
        if not self.health():
            for name in AFTER_HEALTH:
                self.add(
                    name, Status.SKIP, "skipped: the API did not answer the health check", None
                )
            return
        self.auth()
        self.envelope()
        self.rate()
        self.polling()

    def health(self) -> bool:
        from cookcam_ops.smoke.http_checks import check_health

        self.say(f"GET {self.target.health_url}")
        result = check_health(self.target.health_url, self.options.timeout_s)
        self.add(
            "health", Status.PASS if result.ok else Status.FAIL, result.detail, result.latency_s
        )
        self.metrics["health_ms"] = judge.ms(result.latency_s) if result.reachable else None
        return result.reachable

    def auth(self) -> None:
        from cookcam_ops.smoke.socket_checks import run_auth_checks

        self.say("Socket.IO auth with a valid, a bogus and no token")
        timeout = self.options.timeout_s
        token = self.token.reveal() if self.token else None
        results = run_auth_checks(self.target.base_url, token, timeout)
        if results.valid is None:
            self.add("socket-auth-valid", Status.SKIP, "skipped: no token (sign-in failed)", None)
        else:
            self.add(
                "socket-auth-valid",
                *judge.judge_valid(results.valid, timeout),
                results.valid.latency_s,
            )
        self.add(
            "socket-auth-invalid",
            *judge.judge_refusal(results.invalid, timeout, "a bogus token"),
            results.invalid.latency_s,
        )
        self.add(
            "socket-auth-missing",
            *judge.judge_refusal(results.missing, timeout, "no token"),
            results.missing.latency_s,
        )

    def envelope(self) -> None:
        probe = self.options.duplicate_probe
        if probe is None:
            self.add(
                "error-envelope",
                Status.SKIP,
                "skipped: smoke.duplicate_probe is not configured in ops.yaml",
                None,
            )
            return
        if self.token is None:
            self.add("error-envelope", Status.SKIP, "skipped: no token (sign-in failed)", None)
            return
        self.say(f"{probe.method} {probe.path} twice (duplicate entry)")
        started = time.monotonic()
        status, detail = judge_probe(
            self.target.base_url, self.token, probe, self.options.timeout_s
        )
        self.add("error-envelope", status, detail, time.monotonic() - started)

    def rate(self) -> None:
        from cookcam_ops.smoke.socket_checks import run_rate

        n, timeout = self.options.connections, self.options.timeout_s
        if self.token is None:
            self.add("socket-auth-rate", Status.SKIP, "skipped: no token (sign-in failed)", None)
            return
        self.say(f"{n} concurrent authenticated websocket connections")
        results, wall = run_rate(self.target.base_url, self.token.reveal(), n, timeout)
        summary = judge.summarize_rate(results, wall, timeout)
        status, detail = judge.judge_rate(summary, self.options.min_auth_rate)
        self.add("socket-auth-rate", status, detail, wall)
        self.metrics.update(summary.metrics())

    def polling(self) -> None:
        from cookcam_ops.smoke.http_checks import run_polling

        n = self.options.polling_attempts
        self.say(f"{n} long-polling handshakes")
        started = time.monotonic()
        token = self.token.reveal() if self.token else None
        attempts = run_polling(self.target.base_url, token, n, self.options.timeout_s)
        status, detail = judge.judge_polling(attempts)
        self.add("polling-handshake", status, detail, time.monotonic() - started)
        self.metrics["polling_ok"] = sum(a.ok for a in attempts)
        self.metrics["polling_total"] = len(attempts)


def judge_probe(
    base_url: str, token: Secret, probe: ProbeConfig, timeout_s: float
) -> tuple[Status, str]:
    """error-envelope: the probe's first call succeeds, its second is the 409 envelope."""
    from cookcam_ops.smoke.http_checks import send_probe_twice

    what = f"{probe.method} {probe.path}"
    answers = send_probe_twice(base_url, token.reveal(), probe, timeout_s)
    if isinstance(answers, str):
        return Status.FAIL, answers
    if answers.first_status >= 300:
        return Status.FAIL, (
            f"the first {what} answered {answers.first_status} "
            f"(expected 2xx with a new, unique body)"
        )
    problems = judge.envelope_problems(answers.second_status, answers.second_body)
    if problems:
        return Status.FAIL, f"the repeated {what}: " + "; ".join(problems)
    return Status.PASS, (
        f"the repeated {what} answered 409 {judge.DUPLICATE_CODE} with "
        "message, requestId and an ISO-8601 timestamp"
    )


def _target_doc(targets: Sequence[SmokeTarget]) -> dict[str, Any]:
    environment = targets[0].environment if targets else None
    return {"environment": environment, "hosts": {t.label: t.base_url for t in targets}}


def run_smoke(
    targets: Sequence[SmokeTarget],
    creds: Credentials,
    options: SmokeOptions,
    progress: Progress = _ignore,
) -> Report:
    """Sign in once, then smoke-test each target in turn; one Report with per-host metrics."""
    started = time.monotonic()
    progress("signing in")
    sign_in_check, token = _sign_in(creds, options.timeout_s)
    checks = [sign_in_check]
    metrics: dict[str, Any] = {}
    for target in targets:
        run = _HostRun(target, token, options, progress)
        run.run()
        checks.extend(run.checks)
        metrics[target.label] = run.metrics
    doc = _target_doc(targets)
    name = doc["environment"] or ", ".join(t.base_url for t in targets)
    return Report(
        title=f"smoke {name}",
        checks=checks,
        extra={"target": doc, "metrics": metrics},
        duration_s=time.monotonic() - started,
    )
