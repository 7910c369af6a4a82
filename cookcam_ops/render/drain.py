"""Human rendering of `drain`: the measured figures, before the checks table (stdout)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cookcam_ops import ui

if TYPE_CHECKING:
    from cookcam_ops.report import Report


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def render_drain(report: Report) -> None:
    """A two-column table of the drain's metrics."""
    from rich.table import Table
    from rich.text import Text

    m = report.extra.get("metrics") or {}
    lat = m.get("latency_ms") or {}
    sio = m.get("socketio") or {}
    table = Table(
        title=Text(f"{report.title}: {report.extra.get('url', '')}"),
        title_justify="left",
        show_header=False,
    )
    table.add_column("figure")
    table.add_column("value", overflow="fold")
    rows = [
        ("requests", _fmt(m.get("requests"))),
        (
            "2xx / non-2xx / 5xx",
            f"{_fmt(m.get('ok_2xx'))} / {_fmt(m.get('non_2xx'))} / {_fmt(m.get('status_5xx'))}",
        ),
        (
            "refused / reset (retried) / timed out",
            f"{_fmt(m.get('refused'))} / {_fmt(m.get('reset'))} ({_fmt(m.get('reset_retried'))})"
            f" / {_fmt(m.get('timeouts'))}",
        ),
        ("failed", _fmt(m.get("failed"))),
        ("rate", _fmt(m.get("rate_rps"), " req/s")),
        ("downtime (longest gap)", _fmt(m.get("downtime_ms"), " ms")),
        (
            "latency p50 / p95 / max",
            f"{_fmt(lat.get('p50'))} / {_fmt(lat.get('p95'))} / {_fmt(lat.get('max'))} ms",
        ),
    ]
    if sio:
        reasons = ", ".join(f"{n}x {r}" for r, n in (sio.get("disconnects") or {}).items())
        rows.append(("socket.io disconnects", reasons or "none"))
        rows.append(
            ("socket.io slowest reconnect", _fmt((sio.get("reconnect_ms") or {}).get("max"), " ms"))
        )
    for name, value in rows:
        table.add_row(Text(name), Text(value))
    ui.out().print(table)
