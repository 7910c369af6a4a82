"""`cookcam-ops sandbox ...`: a rehearsal target of real parts (sshd, git, npm, PM2) on loopback."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from cookcam_ops.cli.boundary import OpsCommand, OpsGroup
from cookcam_ops.cli.common import JsonOpt, conclude
from cookcam_ops.errors import ExitCode

app = typer.Typer(
    cls=OpsGroup,
    no_args_is_help=True,
    help="Bring up, inspect, change and stop a local sandbox of CookCam API hosts.",
)

DirOpt = Annotated[Path, typer.Option("--dir", metavar="DIR", help="The sandbox's directory.")]
DEFAULT_DIR = Path(".sandbox")


@app.command("up", cls=OpsCommand)
def up(
    ctx: typer.Context,
    directory: DirOpt = DEFAULT_DIR,
    hosts: Annotated[int, typer.Option("--hosts", metavar="N", help="Hosts to run (1-16).")] = 2,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            metavar="STRATEGY",
            help="in-place (a git checkout per host, as the seed's servers) or releases (the same, "
            "then moved by migrate-to-releases to APP/releases + APP/current).",
        ),
    ] = "in-place",
    shape: Annotated[
        str,
        typer.Option(
            "--layout",
            metavar="LAYOUT",
            help="seed (the seed's servers: a monorepo checkout at HOST/var/www/cookcam with the "
            "API in backend/api, node/npm/pm2 from nvm, not on the PATH of `ssh host cmd`) "
            "or flat (the API at the top of HOST/app, node on the ssh PATH).",
        ),
    ] = "seed",
    as_json: JsonOpt = False,
) -> None:
    """Start sshd, PM2 and the API on N loopback hosts, plus the auth stub; write ops.yaml.

    Prints the path of the ops.yaml it wrote (with --json, a document holding it)."""
    from cookcam_ops import ui
    from cookcam_ops.sandbox.manager import start_sandbox

    state = start_sandbox(directory, hosts, progress=ui.say, strategy=strategy, shape=shape)
    ops_yaml = Path(state.dir) / "ops.yaml"
    ui.say(
        f"sandbox up in {state.up_seconds}s: {len(state.hosts)} hosts; "
        f"use it with --config {ops_yaml}",
        style="green",
    )
    conclude(
        ctx,
        as_json=as_json,
        code=ExitCode.OK,
        render=lambda: print(ops_yaml),
        doc=lambda: {
            "ok": True,
            "checks": [],
            "dir": state.dir,
            "ops_yaml": str(ops_yaml),
            "hosts": [h.name for h in state.hosts],
            "up_seconds": state.up_seconds,
        },
    )


@app.command("status", cls=OpsCommand)
def status(ctx: typer.Context, directory: DirOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """Show whether each host's sshd, PM2 and app and the auth stub are up: exit 0 all up, 1 not,
    2 no sandbox."""
    from cookcam_ops.sandbox.render import render_sandbox_status
    from cookcam_ops.sandbox.status import inspect_sandbox

    report = inspect_sandbox(directory)
    conclude(
        ctx,
        as_json=as_json,
        doc=report.to_dict,
        code=ExitCode.OK if report.ok else ExitCode.CHECKS_FAILED,
        render=lambda: render_sandbox_status(report),
    )


@app.command("down", cls=OpsCommand)
def down(
    ctx: typer.Context,
    directory: DirOpt = DEFAULT_DIR,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete DIR.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Stop every process the sandbox started (by pid); keep DIR unless --purge."""
    from cookcam_ops import ui
    from cookcam_ops.sandbox.manager import stop_sandbox

    report = stop_sandbox(directory, purge=purge, progress=ui.say)
    conclude(
        ctx,
        as_json=as_json,
        code=ExitCode.OK,
        doc=lambda: {"ok": True, "checks": [], **asdict(report)},
        render=lambda: ui.say(
            f"stopped {len(report.stopped)} processes"
            + (f"; deleted {report.dir}" if report.purged else "")
        ),
    )


@app.command("change", cls=OpsCommand)
def change(
    ctx: typer.Context,
    kind: Annotated[
        str,
        typer.Argument(
            help="release, broken-build, broken-health, crash-on-start, sigterm-only, "
            "ecosystem-scale (3 instances), ecosystem-fork (fork mode, 1 instance), "
            "kill-timeout-short (kill_timeout 1000 ms, under the app's 8 s drain), late-crash "
            "(workers exit 30 s after start) or late-auth-failure (valid tokens refused 30 s "
            "after start)."
        ),
    ],
    directory: DirOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Push the next release, with the change KIND, to the sandbox's origin; print its SHA.

    Each kind starts from the API as shipped: a `release` after any other kind is the shipped
    API again (2 cluster workers, kill_timeout 10000 ms).
    """
    from cookcam_ops import ui
    from cookcam_ops.sandbox.status import change_sandbox

    result = change_sandbox(directory, kind, progress=ui.say)
    conclude(
        ctx,
        as_json=as_json,
        code=ExitCode.OK,
        render=lambda: print(result.sha),
        doc=lambda: {"ok": True, "checks": [], **asdict(result)},
    )
