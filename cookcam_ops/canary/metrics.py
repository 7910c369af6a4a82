"""Judging figures against rules (pure): per metric its unit and direction, a group's worst
host, the canary against its baseline, and when a failure is already certain mid-bake.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from cookcam_ops.canary.settings import Metric, Rule
from cookcam_ops.report import Check, Status

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from cookcam_ops.canary.settings import CanaryConfig

# rate: bad answers among all (only their count grows); count: only grows; level: neither.
Kind = Literal["rate", "count", "level"]


@dataclass(frozen=True)
class Spec:
    """How a metric reads: its unit, which way is better, and how it can change."""

    unit: str
    higher_is_better: bool
    kind: Kind
    what: str


SPECS: dict[Metric, Spec] = {
    Metric.SOCKET_AUTH_SUCCESS: Spec(
        "%", True, "rate", "authenticated Socket.IO handshakes answered `connected`"
    ),
    Metric.SOCKET_AUTH_P95: Spec("ms", False, "level", "p95 of those handshakes' latency"),
    Metric.HEALTH_SUCCESS: Spec("%", True, "rate", "health checks answered 200"),
    Metric.HEALTH_P95: Spec("ms", False, "level", "p95 of the health checks' latency"),
    Metric.HTTP_5XX: Spec("%", False, "rate", "probe requests answered 5xx or not at all"),
    Metric.PM2_RESTARTS: Spec("", False, "count", "PM2 restarts of the app's workers"),
    Metric.WORKERS_NOT_ONLINE: Spec("", False, "count", "most workers not online at one look"),
    Metric.MEMORY_GROWTH: Spec("MB", False, "level", "most memory a worker gained"),
    Metric.ERROR_LOG_RATE: Spec("/min", False, "level", "lines PM2's error logs gained a minute"),
}


@dataclass(frozen=True)
class Figure:
    """A metric's value on one host (None: nothing measured), and for rates the counts."""

    value: float | None
    bad: int = 0
    total: int = 0


class MetricStatus(StrEnum):
    """A metric's standing: pass/fail/skip when judged; mid-bake also `failing` (it may still
    recover) and `pending` (nothing measured yet)."""

    PASS = "pass"
    FAIL = "fail"
    FAILING = "failing"
    PENDING = "pending"
    SKIP = "skip"


def worst(metric: Metric, figures: Sequence[Figure]) -> Figure:
    """The worst host's figure of a group (a group is as good as its worst host)."""
    known = [f for f in figures if f.value is not None]
    if not known:
        return Figure(None)
    pick = min if SPECS[metric].higher_is_better else max
    return pick(known, key=lambda f: f.value if f.value is not None else 0.0)


def fmt(metric: Metric, value: float | None) -> str:
    """A figure as people read it: `99.2%`, `100%`, `143 ms`, `2`, `12.5 MB`."""
    if value is None:
        return "-"
    unit = SPECS[metric].unit
    number = f"{value:.0f}" if unit in ("", "ms") else f"{value:.1f}".removesuffix(".0")
    return f"{number}{unit}" if unit in ("%", "/min") else f"{number} {unit}".strip()


def rule_text(metric: Metric, rule: Rule) -> str:
    """`>= 99%`, `<= 0`, `<= baseline x 2 + 250 ms`."""
    if not rule.enabled:
        return "off"
    if rule.min is not None:
        return f">= {fmt(metric, rule.min)}"
    if rule.max is not None:
        return f"<= {fmt(metric, rule.max)}"
    better_up = SPECS[metric].higher_is_better
    text = ">= baseline" if better_up else "<= baseline"
    if rule.ratio is not None and rule.ratio != 1:
        text += f" x {rule.ratio:g}"
    if rule.margin:
        text += f" {'-' if better_up else '+'} {fmt(metric, rule.margin)}"
    return text


def bound(metric: Metric, rule: Rule, baseline: float | None) -> float | None:
    """The figure the canary must reach (higher-is-better) or stay under; None: no baseline."""
    if rule.min is not None:
        return rule.min
    if rule.max is not None:
        return rule.max
    if baseline is None:
        return None
    scaled = baseline * (rule.ratio if rule.ratio is not None else 1.0)
    margin = rule.margin or 0.0
    return scaled - margin if SPECS[metric].higher_is_better else scaled + margin


def judge(metric: Metric, rule: Rule, canary: float | None, baseline: float | None) -> MetricStatus:
    """pass/fail of the canary's figure; skip when the rule is off or has no baseline."""
    if not rule.enabled:
        return MetricStatus.SKIP
    if canary is None:
        return MetricStatus.FAIL  # a canary that could not be measured is never promoted
    limit = bound(metric, rule, baseline)
    if limit is None:
        return MetricStatus.SKIP
    ok = canary >= limit if SPECS[metric].higher_is_better else canary <= limit
    return MetricStatus.PASS if ok else MetricStatus.FAIL


def certain(metric: Metric, rule: Rule, figure: Figure, planned_total: int) -> bool:
    """True when the figure fails its absolute rule whatever the rest of the bake brings.

    Counts only grow; a rate's bad answers only grow too, so once there are more than the rule
    allows among every answer the bake will collect, the end cannot pass.
    """
    spec = SPECS[metric]
    if not rule.enabled or rule.relative or figure.value is None:
        return False
    if spec.kind == "count":
        return rule.max is not None and figure.value > rule.max
    if spec.kind == "rate":
        allowed_pct = (100 - rule.min) if rule.min is not None else (rule.max or 0.0)
        total = max(planned_total, figure.total)
        return figure.bad > math.floor(total * allowed_pct / 100 + 1e-9)
    return False


@dataclass(frozen=True)
class MetricRow:
    """One metric judged: the canary's and the baseline's figures side by side."""

    metric: Metric
    canary: float | None
    baseline: float | None
    rule: str
    status: MetricStatus

    def figures(self, mine: str = "canary", theirs: str = "baseline") -> str:
        """`canary 2, baseline 0 (rule <= 0)`."""
        return (
            f"{mine} {fmt(self.metric, self.canary)}, {theirs} "
            f"{fmt(self.metric, self.baseline)} (rule {self.rule})"
        )

    def line(self) -> str:
        """`pm2-restarts: canary 2, baseline 0 (rule <= 0)`."""
        return f"{self.metric}: {self.figures()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": str(self.metric),
            "canary": _round(self.canary),
            "baseline": _round(self.baseline),
            "rule": self.rule,
            "status": str(self.status),
            "unit": SPECS[self.metric].unit,
        }

    def check(self, name: str, detail: str) -> Check:
        """The row as a check (JSON `checks`, JUnit): failing is a failure, pending a skip."""
        status = {
            MetricStatus.PASS: Status.PASS,
            MetricStatus.SKIP: Status.SKIP,
            MetricStatus.PENDING: Status.SKIP,
        }.get(self.status, Status.FAIL)
        return Check(name, status, detail)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def judge_all(
    settings: CanaryConfig,
    canary: Mapping[Metric, Figure],
    baseline: Mapping[Metric, Figure],
    planned: Mapping[Metric, int] | None = None,
) -> list[MetricRow]:
    """Every metric judged; with `planned` (mid-bake), a failure not yet certain is `failing`."""
    rows = []
    for metric in Metric:
        rule = settings.rule(metric)
        mine = canary.get(metric, Figure(None))
        theirs = baseline.get(metric, Figure(None)).value
        status = judge(metric, rule, mine.value, theirs)
        if (
            planned is not None
            and status is MetricStatus.FAIL
            and not certain(metric, rule, mine, planned.get(metric, 0))
        ):
            status = MetricStatus.PENDING if mine.value is None else MetricStatus.FAILING
        rows.append(MetricRow(metric, mine.value, theirs, rule_text(metric, rule), status))
    return rows


def failed_lines(rows: Sequence[MetricRow]) -> str:
    """The verdict's detail: every failed metric with both figures and its rule."""
    return "; ".join(r.line() for r in rows if r.status is MetricStatus.FAIL)
