"""run() hands Typer only the command asked for; the module's app still holds every command."""

from __future__ import annotations

import typer.main

from cookcam_ops.cli.boundary import command_name
from cookcam_ops.cli.main import app, only_command


def names(built: typer.Typer) -> set[str]:
    return set(typer.main.get_group(built).commands)


def test_command_name_skips_global_options_and_their_values() -> None:
    assert command_name(["env", "validate", ".env"]) == "env"
    assert command_name(["--config", "deploy", "status", "prod"]) == "status"
    assert command_name(["-c", "x.yaml", "--debug", "deploy", "prod"]) == "deploy"
    assert command_name(["--config=ops.yaml", "logs"]) == "logs"
    assert command_name(["--help"]) is None
    assert command_name([]) is None


def test_only_the_named_command_or_group_is_built_and_anything_else_builds_all() -> None:
    every = names(app)
    assert {"env", "sandbox", "deploy", "rollback", "drain"} <= every
    assert names(only_command(app, "env")) == {"env"}
    assert names(only_command(app, "deploy")) == {"deploy"}
    assert names(only_command(app, None)) == every
    assert names(only_command(app, "nosuch")) == every
    assert names(app) == every  # the full app is left as it was
