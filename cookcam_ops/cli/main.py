"""cookcam-ops: the top-level command and its global options."""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from cookcam_ops import __version__
from cookcam_ops.cli import (
    checklist_cmd,
    deploy_cmd,
    drain_cmd,
    env_cmd,
    init_cmd,
    logs_cmd,
    migrate_cmd,
    rollback_cmd,
    sandbox_cmd,
    schema_cmd,
    smoke_cmd,
    status_cmd,
    unlock_cmd,
    watch_cmd,
)
from cookcam_ops.cli.boundary import OpsCommand, OpsGroup, command_name

app = typer.Typer(
    name="cookcam-ops",
    cls=OpsGroup,
    help="Deploy and verify the CookCam API over SSH (PM2, Socket.IO, Supabase auth).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class State:
    """Global options, handed to every command through the Typer context."""

    config: Path | None = None
    debug: bool = False


def _version(value: bool) -> None:
    if value:
        print(f"cookcam-ops {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="COOKCAM_OPS_CONFIG",
            help="ops.yaml to use [default: $COOKCAM_OPS_CONFIG, else ./ops.yaml]",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Deploy and verify the CookCam API over SSH."""
    from cookcam_ops import ui

    ui.reset()
    ctx.obj = State(config=config, debug=debug)


app.add_typer(env_cmd.app, name="env")
app.command("checklist", cls=OpsCommand)(checklist_cmd.checklist)
app.command("smoke", cls=OpsCommand)(smoke_cmd.smoke)
app.add_typer(sandbox_cmd.app, name="sandbox")
app.command("deploy", cls=OpsCommand)(deploy_cmd.deploy)
app.command("rollback", cls=OpsCommand)(rollback_cmd.rollback)
app.command("unlock", cls=OpsCommand)(unlock_cmd.unlock)
app.command("status", cls=OpsCommand)(status_cmd.status)
app.command("logs", cls=OpsCommand)(logs_cmd.logs)
app.command("history", cls=OpsCommand)(logs_cmd.history)
app.command("drain", cls=OpsCommand)(drain_cmd.drain)
app.command("migrate-to-releases", cls=OpsCommand)(migrate_cmd.migrate_to_releases)
app.command("schema", cls=OpsCommand)(schema_cmd.schema)
app.command("init", cls=OpsCommand)(init_cmd.init)
app.command("watch", cls=OpsCommand)(watch_cmd.watch)


def only_command(full: typer.Typer, name: str | None) -> typer.Typer:
    """full holding just the command or group `name` (full itself when name is none of them).

    Typer builds the options of every command an app holds on each start (about 0.6 ms a
    command), so run() hands it only the one the command line asks for.
    """
    commands = [c for c in full.registered_commands if c.name == name]
    groups = [g for g in full.registered_groups if g.name == name]
    if not commands and not groups:
        return full
    lean = copy.copy(full)
    lean.registered_commands, lean.registered_groups = commands, groups
    return lean


def run() -> None:
    """Console-script entry point (also `python -m cookcam_ops`)."""
    # pydantic looks for plugins the first time a model is built, by reading the entry points
    # of every installed distribution (~10 ms of each start-up). Our models are internal and
    # take no plugins (Typer disables them for its own adapters the same way); an explicit
    # setting in the user's environment still wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    only_command(app, command_name(sys.argv[1:]))(prog_name="cookcam-ops")
