"""`cookcam-ops env ...`: .env validation against the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cookcam_ops.cli.boundary import OpsCommand, OpsGroup
from cookcam_ops.cli.common import EnvArg, JsonOpt, JunitOpt, finish

app = typer.Typer(
    cls=OpsGroup, no_args_is_help=True, help="Validate .env files against the env schema."
)


def schema_for(ctx: typer.Context, schema: Path | None) -> Path:
    """--schema, else the schema ops.yaml names (when there is an ops.yaml), else the default."""
    from cookcam_ops.configpath import config_path
    from cookcam_ops.resources import default_playbook

    if schema is not None:
        return schema
    path = config_path(ctx.find_root().obj.config)
    if path.exists():  # only then pay for loading ops.yaml's models
        from cookcam_ops.config import load_config

        return load_config(path).schema_path()
    return default_playbook("env.schema.yaml")


@app.command("validate", cls=OpsCommand)
def validate(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The .env file to check.")],
    schema: Annotated[
        Path | None,
        typer.Option(
            "--schema",
            metavar="PATH",
            help="Env schema [default: ops.yaml's env_schema, else the built-in one].",
        ),
    ] = None,
    environment: Annotated[
        str | None,
        typer.Option(
            "--environment",
            "-e",
            metavar="NAME",
            help="Apply the schema's rules for this environment (e.g. production).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Check a .env file as the API reads it: exit 0 valid, 1 invalid, 2 unreadable."""
    from cookcam_ops.envfile.schema import load_schema
    from cookcam_ops.envfile.validate import validate_env_file

    report = validate_env_file(path, load_schema(schema_for(ctx, schema)), environment)
    finish(ctx, report, as_json=as_json, junit=junit, suite="env-validate")


@app.command("check", cls=OpsCommand)
def check(
    ctx: typer.Context,
    environment: EnvArg,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Check each host's .env over SSH (read into memory, never printed): exit 0 valid, 1 not,
    3 a host could not be reached."""
    from cookcam_ops.checklist.remote import ChecklistOptions, remote_env_check
    from cookcam_ops.cli.common import load
    from cookcam_ops.envfile.schema import load_schema
    from cookcam_ops.remote.fanout import ssh_connector, targets_for

    loaded = load(ctx)
    env = loaded.environment(environment)
    opts = ChecklistOptions(
        environment,
        loaded.config.app.branch,
        load_schema(loaded.schema_path()),
        env.sentry_project_id,
    )
    report = remote_env_check(targets_for(loaded, env), ssh_connector(loaded, env), opts)
    finish(ctx, report, as_json=as_json, junit=junit, suite=f"env-check-{environment}")
