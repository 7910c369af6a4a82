"""`cookcam-ops logs` and `cookcam-ops history`: recent PM2 logs, and the audit log."""

from __future__ import annotations

from typing import Annotated

import typer

from cookcam_ops.cli.common import JsonOpt, load
from cookcam_ops.errors import ExitCode

HostOpt = Annotated[str | None, typer.Option(
    "--host", metavar="NAME", help="Only this host (its name from ops.yaml).")]


def logs(
    ctx: typer.Context,
    environment: Annotated[str, typer.Argument(help="Environment from ops.yaml.")],
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, max=10_000,
                                       help="Lines per host.")] = 50,
    host: HostOpt = None,
) -> None:
    """Print the app's recent PM2 logs from each host, each line prefixed by the host's name.

    Exit 3 when a host could not be reached, 1 when a reachable host's logs could not be read
    (pm2 not found there, its daemon not running): the other hosts are still printed.
    """
    from cookcam_ops.logs import fetch_logs
    from cookcam_ops.remote.fanout import select_hosts, ssh_connector, target
    from cookcam_ops.render.history import render_logs

    loaded = load(ctx)
    env = loaded.environment(environment)
    targets = [target(h, loaded.config.app, env) for h in select_hosts(environment, env, host)]
    results = fetch_logs(targets, ssh_connector(loaded, env), lines)
    render_logs(results)
    code = ExitCode.UNREACHABLE if any(r.unreachable for r in results) else \
        ExitCode.CHECKS_FAILED if any(r.error for r in results) else ExitCode.OK
    raise typer.Exit(int(code))


def history(
    ctx: typer.Context,
    environment: Annotated[str, typer.Argument(help="Environment from ops.yaml.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=2000,
                                       help="Show at most this many records.")] = 20,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show every deploy and rollback, newest first: who, when, from -> to, outcome, duration.

    Read from the audit log each host keeps beside the app, merged across hosts.
    Exit 1 when a host's log could not be read.
    """
    from cookcam_ops import ui
    from cookcam_ops.history import read_history
    from cookcam_ops.remote.fanout import select_hosts, ssh_connector, target
    from cookcam_ops.render.history import render_history

    loaded = load(ctx)
    env = loaded.environment(environment)
    targets = [target(h, loaded.config.app, env) for h in select_hosts(environment, env, host)]
    report = read_history(environment, targets, ssh_connector(loaded, env), limit)
    if as_json:
        ui.emit_json(report.to_dict())
    else:
        render_history(report)
    raise typer.Exit(int(ExitCode.OK if report.ok else ExitCode.CHECKS_FAILED))
