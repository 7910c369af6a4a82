"""`cookcam-ops checklist`: the seed's pre-deploy checklist."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cookcam_ops.cli.common import JsonOpt, JunitOpt, finish, load
from cookcam_ops.errors import UsageError


def checklist(
    ctx: typer.Context,
    environment: Annotated[str, typer.Argument(help="Environment from ops.yaml.")],
    local: Annotated[bool, typer.Option(
        "--local", help="Only the items that need no server (the .env file given).")] = False,
    env_file: Annotated[Path | None, typer.Option(
        "--env-file", metavar="PATH", help="The .env file to check (with --local).")] = None,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Run the pre-deploy checklist: env vars, JWT secrets, Stripe webhook, Sentry project."""
    from cookcam_ops.checklist import local_checklist
    from cookcam_ops.envfile.schema import load_schema

    loaded = load(ctx)
    if not local:
        raise UsageError("checklist: the server half (over SSH) is not available yet",
                         hint="run with --local --env-file PATH")
    if env_file is None:
        raise UsageError("checklist --local needs --env-file PATH",
                         hint="point it at the .env file you are about to deploy")
    report = local_checklist(loaded, environment, env_file, load_schema(loaded.schema_path()))
    finish(report, as_json=as_json, junit=junit, suite=f"checklist-{environment}")
