"""Human rendering of `history` (a table, newest first) and `logs` (host-prefixed lines)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cookcam_ops import ui

if TYPE_CHECKING:
    from cookcam_ops.history import HistoryReport
    from cookcam_ops.logs import HostLogs

_OUTCOME_STYLE = {"deployed": "green", "ok": "green", "rolled_back": "yellow",
                  "failed": "bold red", "rollback_failed": "bold red"}


def _short(sha: str | None) -> str:
    return sha[:10] if sha else "-"


def render_history(report: HistoryReport) -> None:
    """The merged audit log as a table; unreadable hosts as lines after it."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"history {report.environment}"), title_justify="left")
    for col in ("when", "host", "action", "who", "from -> to", "outcome", "duration", "ref"):
        table.add_column(col, overflow="fold")
    for r in report.records:
        duration = f"{r.duration_s:.1f}s" if r.duration_s is not None else "-"
        table.add_row(Text(r.time), Text(r.server or r.host), Text(r.action), Text(r.user),
                      Text(f"{_short(r.from_sha)} -> {_short(r.to_sha)}"),
                      Text(r.outcome, style=_OUTCOME_STYLE.get(r.outcome, "")),
                      Text(duration), Text(r.ref or "-"))
    ui.out().print(table)
    if not report.records:
        ui.out().print(Text("no deploy or rollback recorded yet", style="dim"))
    for check in report.checks:
        if check.status.value == "fail":
            line = Text(f"{check.host}: ", style="bold red")
            line.append(check.detail)
            ui.err().print(line)


def render_logs(results: list[HostLogs]) -> None:
    """Each host's lines on stdout as `[host] line`; errors on stderr."""
    from rich.text import Text

    for host in results:
        prefix = f"[{host.label}] "
        for line in host.lines:
            ui.out().print(Text(prefix + line), soft_wrap=True, markup=False, highlight=False)
        if host.error:
            ui.error_line(f"{host.label}: {host.error}")
