"""Human rendering of `history` (a table, newest first) and `logs` (host-prefixed lines)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cookcam_ops import ui
from cookcam_ops.deploy.refs import FULL_SHA_RE, short

if TYPE_CHECKING:
    from cookcam_ops.history import HistoryReport
    from cookcam_ops.logs import HostLogs

_OUTCOME_STYLE = {
    "deployed": "green",
    "ok": "green",
    "rolled_back": "yellow",
    "failed": "bold red",
    "rollback_failed": "bold red",
}


def _ref(ref: str | None) -> str:
    """A ref as given; a full SHA (rollback --to, say) as its first 7 characters."""
    if not ref:
        return "-"
    return short(ref, 7) if FULL_SHA_RE.match(ref) else ref


def _when(iso: str) -> str:
    """`2026-11-26T00:55:06Z` as `2026-11-26 00:55` (UTC; --json has the full time)."""
    return iso.replace("T", " ")[:16]


def render_history(report: HistoryReport) -> None:
    """The merged audit log as a table; unreadable hosts as lines after it."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    cols = ["when (UTC)", "host", "action", "who", "from→to", "outcome", "took"]
    with_ref = any(r.ref for r in report.records)
    table = Table(
        title=Text(f"history {report.environment}"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in cols + (["ref"] if with_ref else []):
        table.add_column(col, no_wrap=col != "ref", overflow="fold")
    for r in report.records:
        duration = f"{r.duration_s:.1f}s" if r.duration_s is not None else "-"
        row = [
            Text(_when(r.time)),
            Text(r.server or r.host),
            Text(r.action),
            Text(r.user),
            Text(f"{short(r.from_sha, 7)}→{short(r.to_sha, 7)}"),
            Text(r.outcome, style=_OUTCOME_STYLE.get(r.outcome, "")),
            Text(duration),
        ]
        table.add_row(*row, *([Text(_ref(r.ref))] if with_ref else []))
    ui.out().print(table)
    if not report.records:
        ui.out().print(Text("no deploy or rollback recorded yet", style="dim"))
    for check in report.checks:
        if check.status.value == "fail":
            line = Text(f"{check.host}: ", style="bold red")
            line.append(check.detail)
            ui.err().print(line)


def render_followed(kind: str, text: str) -> None:
    """A followed line (stdout) or a note about a host (stderr), as it comes."""
    from rich.text import Text

    if kind == "line":
        ui.out().print(Text(text), soft_wrap=True, markup=False, highlight=False)
    else:
        ui.say(text, style="yellow")


def render_logs(results: list[HostLogs]) -> None:
    """Each host's lines on stdout as `[host] line`; errors on stderr."""
    from rich.text import Text

    for host in results:
        prefix = f"[{host.label}] "
        for line in host.lines:
            ui.out().print(Text(prefix + line), soft_wrap=True, markup=False, highlight=False)
        if host.error:
            ui.error_line(f"{host.label}: {host.error}")
