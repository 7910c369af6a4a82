"""Figures (pure): paired samples, their ratios, goals, and median [min-max] summaries."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["measured", "error"]


@dataclass(frozen=True)
class Goal:
    """A bound on the ratio ours/theirs: `<=` for times, `>=` for rates."""

    op: Literal["<=", ">="]
    value: float

    def met(self, ratio: float) -> bool:
        """True when the ratio is within the goal."""
        return ratio <= self.value if self.op == "<=" else ratio >= self.value

    def __str__(self) -> str:
        return f"{'≤' if self.op == '<=' else '≥'} {self.value:g}×"


@dataclass(frozen=True)
class Summary:
    """Median, min and max of a list of samples."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, samples: list[float]) -> Summary:
        return cls(statistics.median(samples), min(samples), max(samples))


@dataclass
class Figure:
    """One row of RESULTS.md: ours against theirs, sampled in pairs in the same run."""

    name: str
    title: str
    ours_label: str
    theirs_label: str
    unit: str
    goal: Goal | None
    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    status: Status = "measured"
    notes: str = ""
    analysis: str = ""  # where a goal is missed: what the profile showed, what remains

    def add(self, ours: float, theirs: float) -> None:
        """One pair, measured back to back."""
        self.ours.append(ours)
        self.theirs.append(theirs)

    @property
    def ratios(self) -> list[float]:
        """ours/theirs per pair (pairs ran back to back, so noise hits both alike)."""
        return [o / t for o, t in zip(self.ours, self.theirs, strict=True) if t > 0]

    def ratio(self) -> Summary | None:
        return Summary.of(self.ratios) if self.ratios else None

    def met(self) -> bool | None:
        """Whether the median ratio meets the goal (None: no goal or nothing measured)."""
        ratio = self.ratio()
        if self.goal is None or ratio is None or self.status != "measured":
            return None
        return self.goal.met(ratio.median)

    def to_dict(self) -> dict[str, Any]:
        ratio = self.ratio()
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "ours": {"label": self.ours_label, "unit": self.unit, "samples": self.ours},
            "theirs": {"label": self.theirs_label, "unit": self.unit, "samples": self.theirs},
            "ratio": None
            if ratio is None
            else {
                "median": ratio.median,
                "min": ratio.low,
                "max": ratio.high,
                "samples": self.ratios,
            },
            "goal": None if self.goal is None else {"op": self.goal.op, "value": self.goal.value},
            "met": self.met(),
            "notes": self.notes,
            "analysis": self.analysis,
        }
