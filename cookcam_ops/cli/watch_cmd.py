"""`cookcam-ops watch`: the canary's metrics sampled on every host, without deploying."""

from __future__ import annotations

from typing import Annotated

import typer

from cookcam_ops.cli.common import EnvArg, JsonOpt, JunitOpt, finish, load
from cookcam_ops.cli.runs import AcceptKeysOpt
from cookcam_ops.errors import ExitCode


def watch(
    ctx: typer.Context,
    environment: EnvArg,
    duration: Annotated[
        float,
        typer.Option(
            "--duration",
            min=1,
            max=86400,
            metavar="S",
            help="Seconds to sample every host (every canary.interval_s).",
        ),
    ] = 60.0,
    accept_new_host_keys: AcceptKeysOpt = False,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Sample the canary's metrics on every host for a while; judge them by the canary rules.

    Socket.IO auth success and latency, health, 5xx answers to a light probe load, PM2
    restarts and workers not online, memory growth and error-log lines, per host: absolute
    rules as written, relative ones against the other hosts. Changes nothing, takes no lock.

    Exit 0 every rule held, 1 a rule failed, 2 bad input, 3 a host unreachable, 130
    interrupted (Ctrl-C reports what was seen so far).
    """
    from cookcam_ops.render.canary import WatchProgress, render_watch
    from cookcam_ops.watch import WatchRequest, watch_environment

    loaded = load(ctx)
    req = WatchRequest(environment, duration, accept_new_host_keys)
    with WatchProgress() as progress:
        result = watch_environment(loaded, req, observer=progress)
    interrupted = bool(result.report.extra["watch"]["interrupted"])
    finish(
        ctx,
        result.report,
        as_json=as_json,
        junit=junit,
        suite=f"watch-{environment}",
        fail_code=ExitCode.INTERRUPTED if interrupted else ExitCode.CHECKS_FAILED,
        render=lambda report: render_watch(result.view, report),
    )
