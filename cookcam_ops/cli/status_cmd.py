"""`cookcam-ops status`: what every host serves and how it runs."""

from __future__ import annotations

import typer

from cookcam_ops.cli.common import EnvArg, JsonOpt, conclude, load


def status(
    ctx: typer.Context,
    environment: EnvArg,
    as_json: JsonOpt = False,
) -> None:
    """Show each host's SHA (and since when), PM2 processes, health, lock holder, and whether
    PM2's saved list (what a reboot brings back) matches what runs.

    Hosts are probed in parallel. An unreachable host is reported (reachable: false) beside the
    others; where node/pm2 cannot be found, PM2 and health are reported unknown (with how to
    set ssh.path), not unhealthy. Exit 0 when every host is healthy and online, 3 when a host
    could not be reached (or its key is unknown), else 1.
    """
    from cookcam_ops.remote.fanout import ssh_connector, targets_for
    from cookcam_ops.render.status import render_status
    from cookcam_ops.status import collect_status

    loaded = load(ctx)
    env = loaded.environment(environment)
    report = collect_status(environment, targets_for(loaded, env), ssh_connector(loaded, env))
    conclude(
        ctx,
        as_json=as_json,
        doc=report.to_dict,
        code=report.exit_code,
        render=lambda: render_status(report),
    )
