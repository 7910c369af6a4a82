"""RESULTS.md and results.json from the figures of one run (rendering is pure)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.figures import Figure, Summary


@dataclass(frozen=True)
class Machine:
    """Where the numbers came from."""

    cores: int
    cpu: str
    python: str
    node: str
    os: str
    date_utc: str


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _node_version() -> str:
    try:
        done = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return done.stdout.strip() or "unknown"


def this_machine() -> Machine:
    """Cores, CPU model, Python and Node versions, OS, and the UTC date now."""
    return Machine(
        cores=os.cpu_count() or 0,
        cpu=_cpu_model(),
        python=platform.python_version(),
        node=_node_version(),
        os=f"{platform.system()} {platform.release()}",
        date_utc=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def spread(s: Summary, unit: str = "", ratio: bool = False) -> str:
    """Median and range: `1.02× [0.97–1.10]` for ratios, `3.41 s [3.30–3.60]` for values."""  # noqa: RUF002
    if ratio:
        return f"{s.median:.2f}× [{s.low:.2f}–{s.high:.2f}]"
    suffix = f" {unit}" if unit else ""
    return f"{_num(s.median)}{suffix} [{_num(s.low)}–{_num(s.high)}]"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def row(f: Figure) -> str:
    """One table row: figure, ours, theirs, ratio, goal, met?, notes."""
    ratio = f.ratio()
    ours = spread(Summary.of(f.ours), f.unit) if f.ours else f.status
    theirs = spread(Summary.of(f.theirs), f.unit) if f.theirs else f.status
    met = {True: "yes", False: "**no**", None: "—"}[f.met()]
    cells = [
        f.title,
        f"{f.ours_label}: {ours}",
        f"{f.theirs_label}: {theirs}",
        spread(ratio, ratio=True) if ratio else f.status,
        str(f.goal) if f.goal else "—",
        met,
        f.notes,
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def render_markdown(
    figures: list[Figure], machine: Machine, command: str, wall_s: float, runs_note: str
) -> str:
    """The whole of RESULTS.md."""
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` in {wall_s / 60:.1f} min on {machine.date_utc}. "
        "Every ratio is ours/theirs from pairs measured back to back in this run; "
        f"median [min–max] over the pairs. {runs_note}",
        "",
        f"Machine: {machine.cores} cores, {machine.cpu}; Python {machine.python}; "
        f"Node {machine.node}; {machine.os}.",
        "",
        "| figure | ours | theirs | ratio median [min–max] | goal | met? | notes |",
        "|---|---|---|---|---|---|---|",
        *(row(f) for f in figures),
        "",
    ]
    missed = [f for f in figures if f.analysis and f.met() is False]
    if missed:
        lines += ["## Where a goal is missed", ""]
        lines += [
            f"- **{f.title}** ({spread(r, ratio=True)}, goal {f.goal}): {f.analysis}"
            for f in missed
            if (r := f.ratio()) is not None
        ]
        lines.append("")
    return "\n".join(lines)


def write_results(
    out_dir: Path,
    figures: list[Figure],
    machine: Machine,
    command: str,
    wall_s: float,
    runs_note: str,
) -> tuple[Path, Path]:
    """Write RESULTS.md and results.json into out_dir; their paths."""
    md = out_dir / "RESULTS.md"
    md.write_text(render_markdown(figures, machine, command, wall_s, runs_note), encoding="utf-8")
    js = out_dir / "results.json"
    doc = {
        "machine": asdict(machine),
        "command": command,
        "wall_s": round(wall_s, 1),
        "figures": [f.to_dict() for f in figures],
    }
    js.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return md, js
