"""`cookcam-ops smoke`: health, Socket.IO auth, the error envelope and a connection burst."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from cookcam_ops.cli.common import JsonOpt, JunitOpt, complete_environment, finish, load

if TYPE_CHECKING:
    from cookcam_ops.config import LoadedConfig


def _optional_config(ctx: typer.Context) -> LoadedConfig | None:
    """ops.yaml when one was named or ./ops.yaml exists; None lets --url run without one."""
    from cookcam_ops.configpath import DEFAULT_CONFIG

    if ctx.find_root().obj.config is None and not DEFAULT_CONFIG.exists():
        return None
    return load(ctx)


def smoke(
    ctx: typer.Context,
    environment: Annotated[
        str | None,
        typer.Argument(
            help="Environment from ops.yaml (or give --url).", autocompletion=complete_environment
        ),
    ] = None,
    *,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", metavar="URL", help="Test this running API instead of an environment."
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", metavar="NAME", help="Only this host of the environment (its label)."
        ),
    ] = None,
    connections: Annotated[
        int | None,
        typer.Option(
            "--connections",
            min=1,
            max=2000,
            metavar="N",
            help="Concurrent websocket connections [default: smoke.connections, 100].",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.1,
            max=300,
            metavar="S",
            help="Seconds per request or handshake [default: smoke.timeout_s, 10].",
        ),
    ] = None,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Smoke-test a running API: health, Socket.IO auth, the 409 envelope, connection rate."""
    from cookcam_ops import ui
    from cookcam_ops.smoke import plan_smoke, run_smoke

    plan = plan_smoke(
        _optional_config(ctx),
        environment,
        url=url,
        host=host,
        timeout_s=timeout,
        connections=connections,
        environ=os.environ,
    )
    report = run_smoke(
        plan.targets, plan.creds, plan.options, progress=lambda step: ui.say(step, style="dim")
    )
    suite = f"smoke-{environment}" if environment else "smoke"
    finish(ctx, report, as_json=as_json, junit=junit, suite=suite)
