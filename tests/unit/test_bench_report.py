"""The benchmark suite's pure parts: ratios, goals, summaries and RESULTS.md (no timing here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.figures import Figure, Goal, Summary
from bench.report import Machine, render_markdown, spread, write_results

MACHINE = Machine(
    cores=2,
    cpu="Test CPU",
    python="3.11.7",
    node="v20.0.0",
    os="Linux",
    date_utc="2026-01-01 00:00 UTC",
)


def figure(ours: list[float], theirs: list[float], goal: Goal | None) -> Figure:
    f = Figure("f", "A figure", "ours", "theirs", "s", goal)
    for o, t in zip(ours, theirs, strict=True):
        f.add(o, t)
    return f


def not_measured(goal: Goal | None) -> Figure:
    """A figure whose measurement failed, as run.py records it."""
    return Figure(
        "f",
        "A figure",
        "ours",
        "theirs",
        "s",
        goal,
        status="error",
        notes="error: the sandbox went away",
    )


def test_ratios_are_per_pair_and_summarised_as_median_min_max() -> None:
    f = figure([1.0, 3.0, 2.0], [1.0, 2.0, 4.0], Goal("<=", 1.25))
    assert f.ratios == [1.0, 1.5, 0.5]
    assert f.ratio() == Summary(1.0, 0.5, 1.5)
    assert f.met() is True


def test_goal_direction_for_times_and_rates() -> None:
    assert Goal("<=", 1.15).met(1.15) and not Goal("<=", 1.15).met(1.16)
    assert Goal(">=", 0.5).met(0.5) and not Goal(">=", 0.5).met(0.49)
    assert str(Goal("<=", 0.2)) == "≤ 0.2×"
    assert figure([2.0], [1.0], Goal(">=", 3.0)).met() is False


def test_a_figure_without_goal_or_samples_has_no_verdict() -> None:
    assert figure([1.0], [2.0], None).met() is None
    f = not_measured(Goal("<=", 0.2))
    assert f.met() is None and f.ours == [] and f.status == "error"


def test_spread_formats_ratios_and_values() -> None:
    assert spread(Summary(1.0234, 0.97, 1.1), ratio=True) == "1.02× [0.97–1.10]"
    assert spread(Summary(3.414, 3.3, 3.6), "s") == "3.41 s [3.3–3.6]"
    assert spread(Summary(12345.0, 9000.0, 15000.0), "req/s") == "12,345 req/s [9,000–15,000]"


def test_markdown_has_the_table_machine_and_missed_goal_analysis() -> None:
    missed = figure([2.0, 2.2], [1.0, 1.0], Goal("<=", 1.15))
    missed.analysis = "the profile says why"
    gone = not_measured(Goal("<=", 0.2))
    text = render_markdown([missed, gone], MACHINE, "make bench", 125.0, "3 pairs.")
    assert "| figure | ours | theirs | ratio median [min–max] | goal | met? | notes |" in text
    assert (
        "| A figure | ours: 2.1 s [2–2.2] | theirs: 1 s [1–1] | 2.10× [2.00–2.20] | ≤ 1.15× "
        "| **no** |" in text
    )
    assert "| error | ≤ 0.2× | — | error: the sandbox went away |" in text
    assert "2 cores, Test CPU; Python 3.11.7; Node v20.0.0" in text
    assert "2026-01-01 00:00 UTC" in text and "2.1 min" in text
    assert "## Where a goal is missed" in text and "the profile says why" in text


def test_results_json_carries_samples_and_verdicts(tmp_path: Path) -> None:
    f = figure([1.0, 1.2], [1.0, 1.0], Goal("<=", 1.25))
    md, js = write_results(tmp_path, [f], MACHINE, "make bench", 60.0, "")
    doc = json.loads(js.read_text(encoding="utf-8"))
    assert md.read_text(encoding="utf-8").startswith("# Benchmarks")
    assert doc["machine"]["cores"] == 2
    assert doc["figures"][0]["ratio"]["samples"] == [1.0, 1.2]
    assert doc["figures"][0]["met"] is True
