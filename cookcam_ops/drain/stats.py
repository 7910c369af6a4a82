"""Pure figures from a load run: percentiles, the longest gap without a success, the rate."""

from __future__ import annotations

from collections.abc import Sequence

from cookcam_ops.common import percentile


def longest_gap(success_times: Sequence[float], start: float, end: float) -> tuple[float, float]:
    """(gap seconds, when it began) of the longest stretch in [start, end] with no success.

    The window's edges count: no success at all means the whole window was down.
    """
    best, began = 0.0, start
    previous = start
    for t in sorted(success_times):
        if t - previous > best:
            best, began = t - previous, previous
        previous = max(previous, t)
    if end - previous > best:
        best, began = end - previous, previous
    return best, began


def rate(count: int, seconds: float) -> float:
    """count per second (0 for an empty window)."""
    return count / seconds if seconds > 0 else 0.0


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and max in ms, rounded to 0.1 ms."""

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return {
        "p50": r(percentile(latencies_ms, 50)),
        "p95": r(percentile(latencies_ms, 95)),
        "max": r(max(latencies_ms) if latencies_ms else None),
    }
