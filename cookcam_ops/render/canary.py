"""Rendering canary bakes and `watch`: the live table of metrics (stderr), plain lines when not on
a terminal, and the canary's verdict table after a deploy (stdout). Remote and user text goes
through `Text`, never markup.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from cookcam_ops import ui

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live
    from rich.table import Table
    from rich.text import Text

    from cookcam_ops.canary.bake import CanaryReport
    from cookcam_ops.canary.view import SampleView
    from cookcam_ops.report import Report

STYLE = {
    "pass": "green",
    "fail": "bold red",
    "failing": "yellow",
    "pending": "dim",
    "skip": "dim",
    "promoted": "bold green",
    "rolled_back": "bold yellow",
    "failed": "bold red",
    "interrupted": "bold red",
    "not_baked": "dim",
    "planned": "cyan",
}


def sample_table(view: SampleView, title: str | None = None) -> Table:
    """The metrics by column; the title says the time left (or is given)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    left = f"{view.left_s:.0f}s left" if view.left_s > 0 else "done"
    head = title or f"{view.title}: {view.elapsed_s:.0f}s of {view.total_s:g}s, {left}"
    table = Table(title=Text(head), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("metric", *view.columns, "rule", "status"):
        table.add_column(col, no_wrap=col != "rule", overflow="fold")
    for row in view.rows:
        table.add_row(
            Text(row.metric),
            *(Text(v) for v in row.values),
            Text(row.rule),
            Text(row.status, style=STYLE.get(row.status, "")),
        )
    return table


def plain_line(view: SampleView) -> Text:
    """One line per round off a terminal: the time, and what fails so far."""
    from rich.text import Text

    return Text(view.summary(), style="yellow" if view.failing else "")


def render_canary(report: CanaryReport) -> None:
    """After a deploy: the verdict, and the metrics when there was a bake (stdout)."""
    from rich.text import Text

    out = ui.out()
    if report.metrics:
        from cookcam_ops.canary.view import bake_view

        view = bake_view("canary", report.elapsed_s, report.bake_s, report.metrics)
        out.print(
            sample_table(
                view,
                f"canary {', '.join(report.hosts)}: baked "
                f"{report.elapsed_s:.0f}s of {report.bake_s:g}s, "
                f"{report.samples} samples",
            )
        )
    line = Text("canary ", style="bold")
    line.append(str(report.verdict), style=STYLE.get(str(report.verdict), ""))
    baseline = ", ".join(report.baseline_hosts) or "its figures before the switch"
    line.append(f"  {', '.join(report.hosts) or '-'} against {baseline}: {report.detail}")
    out.print(line)


def render_watch(view: SampleView, report: Report) -> None:
    """`watch`'s figures by host, the checks that did not pass, and the verdict (stdout)."""
    out = ui.out()
    shown = min(view.elapsed_s, view.total_s)
    out.print(sample_table(view, f"{view.title}: sampled {shown:.0f}s of {view.total_s:g}s"))
    failed = [c for c in report.checks if c.status.value == "fail"]
    if failed:
        out.print(ui.checks_table(failed, "failed"))
    ui.render_verdict(report)


class LiveProgress(ABC):
    """Progress on stderr: a Rich live table on a terminal, started by the first update (after
    any prompt, which it would garble), else plain lines; a context manager that stops the
    table. `deploy`'s Progress and `watch`'s WatchProgress are this with their own table."""

    refresh_per_second: ClassVar[int] = 4

    def __init__(self, live: bool | None = None) -> None:
        self._live_wanted = ui.err().is_terminal if live is None else live
        self._live: Live | None = None
        self._view: SampleView | None = None  # the last sampling round (a bake, or watch)
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    @abstractmethod
    def _renderable(self) -> RenderableType:
        """What the live table shows now (called from Rich's refresh thread)."""

    def _start_live(self) -> None:
        if self._live_wanted and self._live is None:
            from rich.live import Live

            self._live = Live(
                get_renderable=self._renderable,
                console=ui.err(),
                refresh_per_second=self.refresh_per_second,
                transient=False,
            )
            self._live.start()

    def _line(self, text: Any) -> None:
        (self._live.console if self._live is not None else ui.err()).print(text)

    def phase(self, message: str) -> None:
        from rich.text import Text

        self._line(Text(message, style="dim"))

    def sampled(self, view: SampleView) -> None:
        """A sampling round: into the live table, else one plain line."""
        self._start_live()
        with self._lock:
            self._view = view
        if self._live is None:
            self._line(plain_line(view))


class WatchProgress(LiveProgress):
    """A SamplingObserver for `watch`: a live table on a terminal, plain lines otherwise."""

    def _renderable(self) -> RenderableType:
        from rich.text import Text

        with self._lock:
            view = self._view
        return sample_table(view) if view is not None else Text("")
