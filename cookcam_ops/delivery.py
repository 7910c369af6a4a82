"""Delivering notifications: JSON POSTs as jobs run in parallel within one time budget.

A job that fails or is slow becomes a warning check, never a failed or slow run; a check names
what was sent and the status code, never the URL (a secret) or the answer's body.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cookcam_ops.report import Check, Status

DELIVERY_BUDGET_S = 5.0  # the most a run waits for every notification together
HTTP_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Job:
    """One delivery: the check it reports as, and the work that returns that check."""

    name: str
    run: Callable[[], Check]


def post(
    name: str,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    what: str,
    accept: frozenset[int] = frozenset({200, 201, 202, 204}),
) -> Check:
    """POST JSON; a check saying it was sent, or why not (status or error class: never the URL
    or the answer's body)."""
    import httpx

    try:
        with httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as client:
            answer = client.post(url, json=body, headers=headers)
    except httpx.InvalidURL:
        return Check(name, Status.WARN, "the URL is not valid; nothing sent")
    except httpx.HTTPError as e:
        return Check(name, Status.WARN, f"not sent ({type(e).__name__})")
    if answer.status_code not in accept:
        return Check(name, Status.WARN, f"refused (HTTP {answer.status_code})")
    return Check(name, Status.PASS, f"{what} (HTTP {answer.status_code})")


def deliver(jobs: list[Job], budget_s: float = DELIVERY_BUDGET_S) -> list[Check]:
    """Run the jobs in parallel; what has not answered within budget_s becomes a warning.

    Threads are daemons: one that hangs past the budget is left behind, never waited for.
    """
    results: list[Check | None] = [None] * len(jobs)

    def run(i: int, job: Job) -> None:
        try:
            results[i] = job.run()
        except Exception as e:  # a notification must never fail the run
            results[i] = Check(job.name, Status.WARN, f"not sent ({type(e).__name__})")

    threads = [
        threading.Thread(target=run, args=(i, job), daemon=True) for i, job in enumerate(jobs)
    ]
    deadline = time.monotonic() + budget_s
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return [
        r or Check(job.name, Status.WARN, f"no answer within {budget_s:g}s; given up")
        for r, job in zip(results, jobs, strict=True)
    ]
