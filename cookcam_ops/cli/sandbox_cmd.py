"""`cookcam-ops sandbox ...`: a rehearsal target of real parts (sshd, git, npm, PM2) on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cookcam_ops.cli.boundary import OpsGroup
from cookcam_ops.cli.common import JsonOpt
from cookcam_ops.errors import ExitCode

app = typer.Typer(cls=OpsGroup, no_args_is_help=True,
                  help="Bring up, inspect, change and stop a local sandbox of CookCam API hosts.")

DirOpt = Annotated[Path, typer.Option(
    "--dir", metavar="DIR", help="The sandbox's directory.")]
DEFAULT_DIR = Path(".sandbox")


@app.command("up")
def up(
    directory: DirOpt = DEFAULT_DIR,
    hosts: Annotated[int, typer.Option("--hosts", metavar="N", help="Hosts to run (1-16).")] = 2,
    strategy: Annotated[str, typer.Option(
        "--strategy", metavar="STRATEGY",
        help="in-place (a git checkout per host, as the seed's servers) or releases (the same, "
             "then moved by migrate-to-releases to APP/releases + APP/current).")
    ] = "in-place",
    shape: Annotated[str, typer.Option(
        "--layout", metavar="LAYOUT",
        help="seed (the seed's servers: a monorepo checkout at HOST/var/www/cookcam with the "
             "API in backend/api, node/npm/pm2 from nvm, not on the PATH of `ssh host cmd`) "
             "or flat (the API at the top of HOST/app, node on the ssh PATH).")
    ] = "seed",
) -> None:
    """Start sshd, PM2 and the API on N loopback hosts, plus the auth stub; write ops.yaml."""
    from cookcam_ops import ui
    from cookcam_ops.sandbox.manager import start_sandbox

    state = start_sandbox(directory, hosts, progress=ui.say, strategy=strategy, shape=shape)
    ops_yaml = Path(state.dir) / "ops.yaml"
    ui.say(f"sandbox up in {state.up_seconds}s: {len(state.hosts)} hosts; "
           f"use it with --config {ops_yaml}", style="green")
    print(ops_yaml)


@app.command("status")
def status(directory: DirOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """Show whether each host's sshd, PM2 and app and the auth stub are up: exit 0 all up, 1 not,
    2 no sandbox."""
    from cookcam_ops import ui
    from cookcam_ops.sandbox.render import render_sandbox_status
    from cookcam_ops.sandbox.status import inspect_sandbox

    report = inspect_sandbox(directory)
    if as_json:
        ui.emit_json(report.to_dict())
    else:
        render_sandbox_status(report)
    raise typer.Exit(int(ExitCode.OK if report.ok else ExitCode.CHECKS_FAILED))


@app.command("down")
def down(
    directory: DirOpt = DEFAULT_DIR,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete DIR.")] = False,
) -> None:
    """Stop every process the sandbox started (by pid); keep DIR unless --purge."""
    from cookcam_ops import ui
    from cookcam_ops.sandbox.manager import stop_sandbox

    report = stop_sandbox(directory, purge=purge, progress=ui.say)
    ui.say(f"stopped {len(report.stopped)} processes" + (f"; deleted {report.dir}"
                                                         if report.purged else ""))


@app.command("change")
def change(
    kind: Annotated[str, typer.Argument(
        help="release, broken-build, broken-health, crash-on-start, sigterm-only, late-crash "
             "(workers exit 30 s after start) or late-auth-failure (valid tokens refused 30 s "
             "after start).")],
    directory: DirOpt = DEFAULT_DIR,
) -> None:
    """Push the next release, with the defect KIND, to the sandbox's origin; print its SHA."""
    from cookcam_ops import ui
    from cookcam_ops.sandbox.status import change_sandbox

    result = change_sandbox(directory, kind, progress=ui.say)
    print(result.sha)
