"""`cookcam-ops checklist`: the seed's pre-deploy checklist, on the servers or locally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cookcam_ops.cli.common import EnvArg, JsonOpt, JunitOpt, finish, load
from cookcam_ops.errors import UsageError


def checklist(
    ctx: typer.Context,
    environment: EnvArg,
    local: Annotated[
        bool,
        typer.Option("--local", help="Only the items that need no server (the .env file given)."),
    ] = False,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", metavar="PATH", help="The .env file to check (with --local)."),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref",
            metavar="REF",
            help="The ref you are about to deploy [default: app.branch from ops.yaml].",
        ),
    ] = None,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Run the pre-deploy checklist on every host over SSH (or --local on a .env file).

    On each host: where node, npm and pm2 were found (`toolchain`: ssh.path, the PATH, the PM2
    daemon's node, nvm, volta, asdf, /usr/local/bin), the .env against the schema (read into
    memory, never printed), JWT, Stripe and Sentry items, the PM2 ecosystem file served and the
    target ref's (kill_timeout must be above app.drain_deadline_ms), what PM2 runs against it
    and what a deploy would change, the startup unit and the saved process list (reboots), git
    state of the whole checkout, the target ref, node/npm against package.json engines, free
    disk, the deploy lock, health, and PM2's kill signal against the app's signal handlers.
    Exit 0 when nothing failed (warnings allowed), 1 otherwise (a host without node/npm/pm2
    too), 2 for a bad config or ref.
    """
    from cookcam_ops.envfile.schema import load_schema

    loaded = load(ctx)
    schema = load_schema(loaded.schema_path())
    if local:
        from cookcam_ops.checklist.local import local_checklist

        if env_file is None:
            raise UsageError(
                "checklist --local needs --env-file PATH",
                hint="point it at the .env file you are about to deploy",
            )
        report = local_checklist(loaded, environment, env_file, schema)
    else:
        from cookcam_ops.checklist.remote import ChecklistOptions, remote_checklist
        from cookcam_ops.deploy.refs import ref_candidates, validate_ref
        from cookcam_ops.remote.fanout import ssh_connector, targets_for

        app = loaded.config.app
        env = loaded.environment(environment)
        opts = ChecklistOptions(
            environment,
            validate_ref(ref or app.branch),
            schema,
            env.sentry_project_id,
            target=tuple(ref_candidates(ref, app.remote, app.branch)),
        )
        report = remote_checklist(targets_for(loaded, env), ssh_connector(loaded, env), opts)
    finish(ctx, report, as_json=as_json, junit=junit, suite=f"checklist-{environment}")
