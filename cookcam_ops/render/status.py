"""Human rendering of `status`: a host table, the PM2 processes, and a verdict (stdout).

Remote text (SHAs, lock owners, process names, details) is always wrapped in Text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cookcam_ops import ui

if TYPE_CHECKING:
    from rich.text import Text

    from cookcam_ops.pm2.procs import Pm2Process
    from cookcam_ops.status import HostStatus, StatusReport


def _yes_no(value: bool | None, yes: str = "yes", no: str = "no") -> Text:
    from rich.text import Text

    if value is None:
        return Text("-", style="dim")
    return Text(yes, style="green") if value else Text(no, style="bold red")


def human_bytes(n: int | None) -> str:
    """1536 -> '1.5 KiB'."""
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def human_duration(seconds: float | None) -> str:
    """3725 -> '1h02m'."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def _host_row(host: HostStatus) -> list[Text]:
    from rich.text import Text

    if not host.reachable:
        return [
            Text(host.name),
            _yes_no(False),
            Text("-"),
            Text("-"),
            Text("-"),
            Text("-"),
            Text(host.error or "", style="red"),
        ]
    online = sum(p.online for p in host.processes)
    modes = "/".join(sorted({p.exec_mode for p in host.processes}))
    procs = Text(
        f"{online}/{len(host.processes)} online ({modes})"
        if host.processes
        else (host.pm2_error or "none")
    )
    since = (
        host.since.replace("T", " ")[:16]
        + (f" UTC by {host.since_by}" if host.since_by else " UTC")
        if host.since
        else "-"
    )
    lock = Text(host.lock.describe(), style="yellow") if host.lock else Text("free", style="dim")
    return [
        Text(host.name),
        _yes_no(True),
        Text((host.sha or "?")[:10]),
        Text(since),
        procs,
        _yes_no(host.healthy, "healthy", "UNHEALTHY"),
        lock,
    ]


def _runs_in(host: HostStatus, p: Pm2Process) -> Text:
    """The release a worker runs (releases; red when it is not current's), else its cwd."""
    from rich.text import Text

    if host.strategy != "releases":
        return Text(p.cwd or "-", style="dim")
    if p.release is None:
        return Text(p.cwd or "unknown", style="bold red")
    stale = host.release is not None and p.release != host.release
    return Text(
        p.release + (" (NOT current)" if stale else ""), style="bold red" if stale else "green"
    )


def render_status(report: StatusReport) -> None:
    """Hosts, then processes, then the verdict."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    hosts = Table(title=Text(f"status {report.environment}"), title_justify="left")
    for col in ("host", "reachable", "sha", "since", "pm2", "health", "lock"):
        hosts.add_column(col, overflow="fold", no_wrap=col in ("host", "sha", "health"))
    for host in report.hosts:
        hosts.add_row(*_host_row(host))
    ui.out().print(hosts)
    procs = Table(
        title=Text("pm2 processes"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in ("host", "name", "id", "pid", "status", "restarts", "up", "mem", "runs in"):
        procs.add_column(col, no_wrap=col != "runs in", overflow="fold")
    for host in report.hosts:
        for p in host.processes:
            procs.add_row(
                Text(host.name),
                Text(p.name),
                Text(str(p.pm_id)),
                Text(str(p.pid)),
                Text(p.status, style="green" if p.online else "bold red"),
                Text(str(p.restarts)),
                Text(human_duration(p.uptime_s)),
                Text(human_bytes(p.memory_bytes)),
                _runs_in(host, p),
            )
    if procs.row_count:
        ui.out().print(procs)
    failed = [c for c in report.checks if c.status.value == "fail"]
    warned = [c for c in report.checks if c.status.value == "warn"]
    verdict = Text("OK" if report.ok else "FAILED", style="bold green" if report.ok else "bold red")
    for check in failed:
        verdict.append(f"\n  {check.host or 'fleet'}: {check.name}: ")
        verdict.append(check.detail)
    for check in warned:
        verdict.append(f"\n  {check.host or 'fleet'}: {check.name}: ", style="yellow")
        verdict.append(check.detail)
    verdict.append(f"  ({report.duration_s:.1f}s)" if report.ok and not warned else "")
    ui.out().print(verdict)
