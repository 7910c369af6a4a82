"""Rendering deploy, rollback and unlock: live progress on stderr, plans and summaries on stdout.

Progress is a Rich live table (one row per host: step, status, time) on a terminal, plain lines
otherwise. Every remote or user text goes through `Text`, never markup.
"""

from __future__ import annotations

import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar, assert_never

from cookcam_ops import ui
from cookcam_ops.deploy.refs import short
from cookcam_ops.deploy.result import Outcome, StepStatus
from cookcam_ops.render.canary import LiveProgress, render_canary, sample_table

if TYPE_CHECKING:
    from rich.console import RenderableType

    from cookcam_ops.deploy.result import RunResult, StepResult
    from cookcam_ops.deploy.run import Preview
    from cookcam_ops.deploy.unlock import UnlockResult
    from cookcam_ops.runlog import RunLog


def step_style(status: StepStatus) -> str:
    """A step status's colour."""
    match status:
        case StepStatus.OK:
            return "green"
        case StepStatus.WARN:
            return "yellow"
        case StepStatus.FAILED:
            return "bold red"
        case StepStatus.SKIPPED:
            return "dim"
        case StepStatus.PLANNED:
            return "cyan"
        case _:
            assert_never(status)


def outcome_style(outcome: Outcome) -> str:
    """A host's or a run's outcome's colour."""
    match outcome:
        case Outcome.DEPLOYED | Outcome.MIGRATED:
            return "bold green"
        case Outcome.NOTHING_TO_DO:
            return "green"
        case Outcome.ROLLED_BACK:
            return "yellow"
        case Outcome.ROLLBACK_FAILED | Outcome.FAILED | Outcome.UNREACHABLE:
            return "bold red"
        case Outcome.SKIPPED:
            return "dim"
        case Outcome.PLANNED | Outcome.DRY_RUN:
            return "cyan"
        case _:
            assert_never(outcome)


def _style(value: str) -> str:
    """The colour of what a row shows: a step status, an outcome, or "running"."""
    if value == "running":
        return "yellow"
    with suppress(ValueError):
        return step_style(StepStatus(value))
    with suppress(ValueError):
        return outcome_style(Outcome(value))
    return ""


class Progress(LiveProgress):
    """A DeployObserver for people: a live table on a terminal, plain lines otherwise; with
    verbose, every line of step output too, prefixed by its host."""

    refresh_per_second: ClassVar[int] = 8

    def __init__(self, live: bool | None = None, verbose: bool = False) -> None:
        super().__init__(live)
        self._verbose = verbose
        self._rows: dict[str, list[Any]] = {}

    def _renderable(self) -> RenderableType:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, show_header=False, pad_edge=False)
        with self._lock:
            rows, view = list(self._rows.items()), self._view
        for host, (step, status, since, detail) in rows:
            took = f"{time.monotonic() - since:5.1f}s" if status == "running" else ""
            table.add_row(
                Text(host, style="bold"),
                Text(step),
                Text(status, style=_style(status)),
                Text(took),
                Text(detail[:80]),
            )
        if view is None:
            return table
        from rich.console import Group

        return Group(table, sample_table(view))

    def step_started(self, host: str, step: str) -> None:
        self._start_live()
        with self._lock:
            self._rows[host] = [step, "running", time.monotonic(), ""]
        if self._live is None:
            from rich.text import Text

            self._line(Text(f"{host}: {step} ..."))

    def step_output(self, host: str, stream: str, line: str) -> None:
        if self._verbose:
            from rich.text import Text

            from cookcam_ops.logs import clean_line

            self._line(
                Text(f"[{host}] {clean_line(line)}", style="dim" if stream == "out" else "yellow")
            )

    def step_finished(self, host: str, result: StepResult) -> None:
        from rich.text import Text

        with self._lock:
            self._rows[host] = [result.name, result.status, time.monotonic(), result.detail]
        line = Text(f"{host}: {result.name} ")
        line.append(result.status, style=_style(result.status))
        line.append(f" ({result.duration_s:.1f}s)" + (f" {result.detail}" if result.detail else ""))
        self._line(line)

    def host_finished(self, host: str, outcome: str) -> None:
        from rich.text import Text

        with self._lock:
            if host in self._rows:
                self._rows[host][1] = outcome
        line = Text(f"{host}: ")
        line.append(outcome, style=_style(outcome))
        self._line(line)


def _canary(result: RunResult) -> None:
    if result.canary is not None:
        render_canary(result.canary)


def _checks_table(result: RunResult) -> None:
    """The checks worth a look (all of them for a dry run); a canary's are in its own table."""
    checks = [c for c in result.checks if not c.name.startswith("canary:")]
    shown = [c for c in checks if c.status.value != "pass"] if result.plans else []
    shown = shown if result.outcome != Outcome.DRY_RUN else checks
    if not shown:
        return
    table = ui.checks_table(shown, "checks")
    ui.out().print(table)


def render_plan(result: RunResult) -> None:
    """A dry run: each host's from -> to and the exact commands, in order (stdout)."""
    from rich.text import Text

    out = ui.out()
    for p in result.plans:
        head = Text(f"{p.label}: {short(p.from_sha)} -> {short(p.to_sha)}", style="bold")
        if p.action == "migrate":
            head = Text(f"{p.label}: {short(p.from_sha)} in place", style="bold")
            head.append(
                f"  blocked: {p.blocked}"
                if p.blocked
                else f"  -> releases/{p.release}, served from current/"
                if p.steps
                else "  already in the releases layout",
                style="bold red" if p.blocked else "green" if not p.steps else "",
            )
        elif p.blocked:
            head.append(f"  blocked: {p.blocked}", style="bold red")
        elif p.nothing_to_do:
            head.append("  already serves the target: nothing to do", style="green")
        else:
            head.append(
                "  build needed" if p.needs_build else "  the target is kept in prev/: no build"
            )
            head.append(", npm ci (package-lock.json changed)" if p.lockfile_changed else "")
            if p.pm2 is not None and p.pm2.changes:
                head.append(f"\n  {p.pm2.describe()}", style="yellow")
        out.print(head)
        for i, s in enumerate(p.steps, 1):
            line = Text(f"  {i:2}. {s.name}", style="dim" if s.skip else "bold")
            line.append(
                f"  [{s.kind}, timeout {s.timeout:g}s{', switch' if s.switch else ''}]", style="dim"
            )
            out.print(line)
            body = f"skipped: {s.skip}" if s.skip else s.display
            for text_line in body.splitlines():  # never wrapped: commands stay copyable
                out.print(
                    Text(f"        {text_line}", style="dim" if s.skip else ""), soft_wrap=True
                )
    _canary(result)
    _checks_table(result)
    _verdict(result)


def _verdict(result: RunResult) -> None:
    from rich.text import Text

    line = Text(
        result.outcome.upper().replace("_", " "),
        style=_style(result.outcome) if result.ok else "bold red",
    )
    line.append(
        f"  {result.action} {result.environment}, target {short(result.target_sha)}"
        f" ({result.duration_s:.1f}s)"
    )
    if result.interrupted:
        line.append("  interrupted", style="bold red")
    if result.warnings:
        line.append(
            f"  {len(result.warnings)} warning(s): see the table above", style="bold yellow"
        )
    ui.out().print(line)


def render_failures(result: RunResult, log: RunLog) -> None:
    """Each failed step's last lines of output and where its full output is (stderr)."""
    from rich.text import Text

    from cookcam_ops.logs import clean_line

    err = ui.err()
    for h in result.hosts:
        for step in (s for s in h.steps if s.status == "failed"):
            lines = log.tail(h.name, step.name)
            err.print(
                Text(
                    f"{h.name}: {step.name} failed" + ("; its last lines:" if lines else ""),
                    style="bold red",
                )
            )
            for line in lines:
                err.print(Text(f"  | {clean_line(line)}"), soft_wrap=True)
            err.print(Text(f"  full output: {log.host_path(h.name)}"), soft_wrap=True)
    if log.error:
        err.print(Text(f"run log: {log.error}", style="yellow"))


def render_result(result: RunResult) -> None:
    """The summary table of a run (stdout)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"{result.action} {result.environment}"), title_justify="left")
    for col in ("host", "from", "to", "outcome", "detail"):
        table.add_column(col, overflow="fold")
    for h in result.hosts:
        bad = [s for s in h.steps if s.status == StepStatus.FAILED] or [
            s for s in h.steps if s.status == StepStatus.WARN
        ]
        detail = Text(
            "; ".join(f"{s.name}: {s.detail}" for s in bad)
            or f"{sum(s.status == StepStatus.OK for s in h.steps)} steps ok",
            style="yellow" if bad and bad[0].status == StepStatus.WARN else "",
        )
        if h.pm2 is not None and h.pm2.changes:
            detail.append(f"\n{h.pm2.describe()}")
        table.add_row(
            Text(h.name),
            Text(short(h.from_sha)),
            Text(short(h.to_sha)),
            Text(h.outcome, style=_style(h.outcome)),
            detail,
        )
    ui.out().print(table)
    _canary(result)
    _checks_table(result)
    _verdict(result)


def render_preview(preview: Preview) -> None:
    """What is about to happen, before the prompt (stderr)."""
    from rich.text import Text

    err = ui.err()
    err.print(Text(f"{preview.action} {preview.environment}:", style="bold"))
    for p in preview.plans:
        line = Text(
            f"  {p.label}: {short(p.from_sha)}{_who(preview, p.from_sha)} -> "
            f"{short(p.to_sha)}{_who(preview, p.to_sha)}"
        )
        if p.nothing_to_do:
            line.append("  (already there)", style="dim")
        elif p.pm2 is not None and p.pm2.changes:
            line.append(f"\n    {p.pm2.describe()}", style="yellow")
        err.print(line)


def _who(preview: Preview, sha: str | None) -> str:
    rel = preview.releases.get(sha or "")
    if rel is None or not rel.user:
        return ""
    return f" (deployed by {rel.user} at {rel.time})"


def render_locks(result: UnlockResult, *, before: bool = False) -> None:
    """Each host's lock: free, held by whom since when, or broken (stdout; stderr before)."""
    from rich.text import Text

    console = ui.err() if before else ui.out()
    for h in result.locks:
        line = Text(f"{h.host}: ", style="bold")
        if h.error:
            line.append(f"unreachable ({h.error})", style="bold red")
        elif h.holder is None:
            line.append("free", style="green")
        else:
            line.append("broken: " if h.broken else "held by ", style="yellow")
            line.append(h.holder.describe())
        console.print(line)
    for check in result.notified:
        if check.status.value != "pass":
            console.print(Text(f"{check.name}: {check.detail}", style="yellow"))
