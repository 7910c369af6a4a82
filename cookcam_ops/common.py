"""Small things several packages share, kept here so none of them imports another for it:
`Secret` (smoke, drain and canary hold credentials in it), `percentile` (their figures) and
`parallel_map` (every fan-out over hosts, sessions or samplers)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from cookcam_ops.masking import MASK

T = TypeVar("T")
R = TypeVar("R")
MAX_PARALLEL = 16  # threads of one fan-out (hosts are I/O bound: SSH round trips)


class Secret:
    """A secret value whose str, repr and format are masked; `reveal()` at the transport only."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself: call only where it leaves the process (a header, an auth packet)."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def text_field(doc: dict[str, Any], key: str) -> str:
    """A JSON object's scalar field as text ('' when missing or not a string or number): how the
    tolerant readers of host files (audit log, lock) keep a field."""
    value = doc.get(key)
    return str(value) if isinstance(value, str | int | float) else ""


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (pct in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def parallel_map(items: Sequence[T], work: Callable[[T], R]) -> list[R]:
    """work(item) for each item, on a thread pool of its own; results in order (an exception
    is raised from the first item that raised). Waits in short slices, so signals stay
    responsive in the main thread."""
    if not items:
        return []
    if len(items) == 1:
        return [work(items[0])]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items))) as pool:
        futures: list[Future[R]] = [pool.submit(work, item) for item in items]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.2)
        return [f.result() for f in futures]
