"""`cookcam-ops drain`: measure a graceful worker swap on one host under load."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cookcam_ops.cli.common import EnvArg, JsonOpt, JunitOpt, finish, load


def drain(
    ctx: typer.Context,
    environment: EnvArg,
    host: Annotated[
        str | None,
        typer.Option("--host", metavar="NAME", help="The host to drain [default: the first one]."),
    ] = None,
    via: Annotated[
        str,
        typer.Option(
            "--via",
            metavar="reload|restart|signal",
            help="pm2 reload, pm2 restart, or PM2's kill signal sent to each worker.",
        ),
    ] = "reload",
    duration: Annotated[
        float, typer.Option("--duration", metavar="S", help="Seconds of load (2-120).")
    ] = 10.0,
    concurrency: Annotated[
        int, typer.Option("--concurrency", metavar="C", help="Keep-alive HTTP connections (1-256).")
    ] = 16,
    sockets: Annotated[
        int,
        typer.Option(
            "--sockets", metavar="N", min=0, max=50, help="Socket.IO clients held open (0 to skip)."
        ),
    ] = 4,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Swap one host's PM2 workers under HTTP keep-alive load and open Socket.IO clients.

    Reports requests, failures (non-2xx, 5xx, refused, reset, timed out), the longest gap
    without a successful answer, the rate, latency, Socket.IO disconnects and reconnect time,
    and whether every old worker logged the four graceful-shutdown lines in order within
    kill_timeout. Fails on any failed request under reload, on a missing or misordered
    shutdown line, and on a worker killed mid-drain. Exit 0 pass, 1 fail, 3 unreachable.
    """
    from cookcam_ops import ui
    from cookcam_ops.drain import DrainOptions, Via, run_drain
    from cookcam_ops.drain.service import drain_token
    from cookcam_ops.remote.fanout import open_host, select_hosts, ssh_connector, target
    from cookcam_ops.render.drain import render_drain

    loaded = load(ctx)
    env = loaded.environment(environment)
    chosen = target(select_hosts(environment, env, host)[0], loaded.config.app, env)
    opts = DrainOptions(
        environment,
        via=Via.parse(via),
        duration_s=duration,
        concurrency=concurrency,
        socket_clients=sockets,
    ).validate()
    token, token_checks = drain_token(loaded, os.environ) if sockets else (None, [])
    transport, chosen = open_host(ssh_connector(loaded, env), chosen)
    try:
        report = run_drain(
            chosen, transport, opts, token, progress=ui.say, extra_checks=token_checks
        )
    finally:
        transport.close()
    if not as_json:
        render_drain(report)
    finish(ctx, report, as_json=as_json, junit=junit, suite=f"drain-{environment}")
