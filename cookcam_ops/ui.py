"""The one place that owns Rich consoles: data goes to stdout, people's messages to stderr.

Rich honours NO_COLOR and writes no ANSI codes when the stream is not a terminal. Remote or
user text is always passed as `Text` (never interpolated into markup).
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console
    from rich.table import Table

    from cookcam_ops.report import Check, Report

_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
# Not on a terminal (a CI log, a pipe, a file) nothing reads a width: tables are laid out this
# wide, so no value is ever broken across lines.
UNWRAPPED_WIDTH = 10_000


@lru_cache(maxsize=1)
def out() -> Console:
    """The console for a command's data (stdout): the terminal's width on a terminal, else wide
    enough that tables never wrap a value."""
    from rich.console import Console

    console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = UNWRAPPED_WIDTH
    return console


@lru_cache(maxsize=1)
def err() -> Console:
    """The console for people: progress, hints and error lines (stderr)."""
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def reset() -> None:
    """Forget cached consoles (sys.stdout/sys.stderr may have been swapped, e.g. by CliRunner)."""
    out.cache_clear()
    err.cache_clear()


def emit_json(doc: dict[str, Any]) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    sys.stdout.flush()


def say(message: str, style: str | None = None) -> None:
    """One plain line for people, on stderr."""
    from rich.text import Text

    err().print(Text(message, style=style or ""))


def error_line(message: str) -> None:
    """The one-line error format: `error: what, where; what to do`."""
    from rich.text import Text

    line = Text("error: ", style="bold red")
    line.append(message)
    err().print(line, soft_wrap=True)


def checks_table(checks: Sequence[Check], title: str) -> Table:
    """Checks as a table: host (when any has one), check, status, detail (only detail wraps)."""
    from rich.table import Table
    from rich.text import Text

    has_host = any(c.host for c in checks)
    table = Table(title=Text(title), title_justify="left", show_lines=False)
    for col in (["host"] if has_host else []) + ["check", "status"]:
        table.add_column(col, no_wrap=True)
    table.add_column("detail", overflow="fold")
    for check in checks:
        row = [
            Text(check.name),
            Text(check.status.value, style=_STATUS_STYLE[check.status.value]),
            Text(check.detail),
        ]
        if has_host:
            row.insert(0, Text(check.host or ""))
        table.add_row(*row)
    return table


def render_report(report: Report) -> None:
    """A human table of a report's checks on stdout, with a one-line verdict."""
    out().print(checks_table(report.checks, report.title))
    render_verdict(report)


def render_verdict(report: Report) -> None:
    """`OK  18 pass  (11.3s)` or `FAILED  1 fail, 17 pass` on stdout."""
    from rich.text import Text

    counts = {s: sum(c.status.value == s for c in report.checks) for s in _STATUS_STYLE}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    verdict = Text("OK" if report.ok else "FAILED", style="bold green" if report.ok else "bold red")
    verdict.append(f"  {summary}" if summary else "", style="")
    if report.duration_s is not None:
        verdict.append(f"  ({report.duration_s:.1f}s)")
    out().print(verdict)
