"""The human view of `sandbox status`: a Rich table on stdout (through the ui module's console)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cookcam_ops.sandbox.status import SandboxStatus


def _mark(up: bool) -> tuple[str, str]:
    return ("up", "green") if up else ("down", "bold red")


def render_sandbox_status(status: SandboxStatus) -> None:
    """A table of hosts (sshd, PM2, app) and the auth stub, then a one-line verdict."""
    from rich.table import Table
    from rich.text import Text

    from cookcam_ops import ui

    table = Table(title=Text(f"sandbox {status.dir}"), title_justify="left")
    for column in ("host", "ssh", "sshd", "pm2", "app", "base_url"):
        table.add_column(column)
    for h in status.hosts:
        cells = [Text(h.name), Text(f"127.0.0.1:{h.ssh_port}")]
        for up in (h.sshd_up, h.pm2_up, h.app_up):
            cells.append(Text(*_mark(up)))
        cells.append(Text(h.base_url))
        table.add_row(*cells)
    table.add_row(
        Text("auth stub"),
        Text(""),
        Text(""),
        Text(""),
        Text(*_mark(status.auth_up)),
        Text(status.auth_url),
    )
    ui.out().print(table)
    ui.out().print(Text("OK", style="bold green") if status.ok else Text("DOWN", style="bold red"))
