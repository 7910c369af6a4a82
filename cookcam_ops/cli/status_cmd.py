"""`cookcam-ops status`: what every host serves and how it runs."""

from __future__ import annotations

from typing import Annotated

import typer

from cookcam_ops.cli.common import JsonOpt, load
from cookcam_ops.errors import ExitCode


def status(
    ctx: typer.Context,
    environment: Annotated[str, typer.Argument(help="Environment from ops.yaml.")],
    as_json: JsonOpt = False,
) -> None:
    """Show each host's SHA (and since when), PM2 processes, health and lock holder.

    Hosts are probed in parallel. An unreachable host is reported (reachable: false) rather than
    aborting; where node/pm2 cannot be found, PM2 and health are reported unknown (with how to
    set ssh.path), not unhealthy. Exit 0 when every host is reachable, healthy and online,
    else 1.
    """
    from cookcam_ops import ui
    from cookcam_ops.remote.fanout import ssh_connector, target
    from cookcam_ops.render.status import render_status
    from cookcam_ops.status import collect_status

    loaded = load(ctx)
    env = loaded.environment(environment)
    targets = [target(h, loaded.config.app, env) for h in env.hosts]
    report = collect_status(environment, targets, ssh_connector(loaded, env))
    if as_json:
        ui.emit_json(report.to_dict())
    else:
        render_status(report)
    raise typer.Exit(int(ExitCode.OK if report.ok else ExitCode.CHECKS_FAILED))
