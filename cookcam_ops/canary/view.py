"""What the live view shows after each round (pure): a table of metrics by column, time left.

The bake's columns are the canary and its baseline; `watch`'s are the hosts. Observers get a
`SampleView`; the renderers (cookcam_ops.render.canary) draw it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from cookcam_ops.canary.metrics import Figure, MetricRow, MetricStatus, fmt
from cookcam_ops.canary.settings import Metric

_RANK = {
    MetricStatus.FAIL: 0,
    MetricStatus.FAILING: 1,
    MetricStatus.PENDING: 2,
    MetricStatus.PASS: 3,
    MetricStatus.SKIP: 4,
}


@dataclass(frozen=True)
class ViewRow:
    """One metric: its figures by column, its rule and its standing."""

    metric: str
    values: tuple[str, ...]
    rule: str
    status: str


@dataclass(frozen=True)
class SampleView:
    """The live table after a round."""

    title: str
    elapsed_s: float
    total_s: float
    columns: tuple[str, ...]
    rows: tuple[ViewRow, ...]

    @property
    def left_s(self) -> float:
        return max(0.0, self.total_s - self.elapsed_s)

    @property
    def failing(self) -> list[ViewRow]:
        return [r for r in self.rows if r.status in (MetricStatus.FAIL, MetricStatus.FAILING)]

    def summary(self) -> str:
        """One line: the time, and what fails so far with every column's figure."""
        head = f"{self.title}: {self.elapsed_s:.0f}s of {self.total_s:g}s: "
        if not self.failing:
            return head + "every metric within its rule"
        return head + "; ".join(
            f"{r.metric} {r.status} ("
            + ", ".join(f"{c} {v}" for c, v in zip(self.columns, r.values, strict=True))
            + f"; rule {r.rule})"
            for r in self.failing
        )


class SamplingObserver(Protocol):
    """Receives a bake's or a watch's progress (thread-safe; plain text, never markup)."""

    def phase(self, message: str) -> None:
        """A one-line message: sampling starts, a verdict."""

    def sampled(self, view: SampleView) -> None:
        """A round of samples is in: the table as it stands."""


def bake_view(
    title: str, elapsed_s: float, total_s: float, rows: Sequence[MetricRow]
) -> SampleView:
    """The bake's table: canary and baseline side by side."""
    return SampleView(
        title,
        elapsed_s,
        total_s,
        ("canary", "baseline"),
        tuple(
            ViewRow(
                str(r.metric),
                (fmt(r.metric, r.canary), fmt(r.metric, r.baseline)),
                r.rule,
                str(r.status),
            )
            for r in rows
        ),
    )


def hosts_view(
    title: str,
    elapsed_s: float,
    total_s: float,
    figures: Mapping[str, Mapping[Metric, Figure]],
    rows: Mapping[str, Sequence[MetricRow]],
) -> SampleView:
    """`watch`'s table: each host's figure; the status is the worst host's."""
    labels = tuple(figures)
    out = []
    for i, metric in enumerate(Metric):
        statuses = [rows[label][i].status for label in labels]
        worst = min(statuses, key=lambda s: _RANK[s]) if statuses else MetricStatus.SKIP
        rule = rows[labels[0]][i].rule if labels else ""
        out.append(
            ViewRow(
                str(metric),
                tuple(fmt(metric, figures[label][metric].value) for label in labels),
                rule,
                str(worst),
            )
        )
    return SampleView(title, elapsed_s, total_s, labels, tuple(out))
