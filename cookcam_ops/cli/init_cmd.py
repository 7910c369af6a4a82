"""`cookcam-ops init`: write an ops.yaml, the commented example or one read from a live server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cookcam_ops.cli.common import JsonOpt, conclude
from cookcam_ops.cli.runs import AcceptKeysOpt
from cookcam_ops.errors import ExitCode, UsageError


def init(
    ctx: typer.Context,
    from_host: Annotated[
        str | None,
        typer.Option(
            "--from-host",
            metavar="USER@HOST[:PORT]",
            help="Read the app's settings from this running server (read only).",
        ),
    ] = None,
    environment: Annotated[
        str,
        typer.Option(
            "--environment", "-e", metavar="NAME", help="The environment the host belongs to."
        ),
    ] = "production",
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="PATH", help="Where to write it.")
    ] = Path("ops.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
    identity_file: Annotated[
        str | None,
        typer.Option(
            "--identity-file",
            "-i",
            metavar="PATH",
            help="The SSH key to connect with [default: ssh-agent and ~/.ssh/config].",
        ),
    ] = None,
    known_hosts: Annotated[
        str | None,
        typer.Option(
            "--known-hosts",
            metavar="PATH",
            help="known_hosts to check the host key against [default: ~/.ssh/known_hosts].",
        ),
    ] = None,
    app: Annotated[
        str | None,
        typer.Option(
            "--app",
            metavar="NAME",
            help="The PM2 app to deploy, when PM2 runs several [default: cookcam-api or the only "
            "one].",
        ),
    ] = None,
    accept_new_host_keys: AcceptKeysOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write an ops.yaml: the commented example, or one discovered on a running server.

    With --from-host, connect with strict host keys (an unknown key is shown with its
    fingerprint and trusted only with --accept-new-host-keys), change nothing, and find the
    PM2 app (name, cwd, exec mode, instances, node), the git checkout and the app's directory
    in it, the remote and branch, the port, health path and env file; `checklist NAME` and
    `deploy NAME --dry-run` accept what it writes. Exit 0 written, 2 bad input or PATH exists,
    3 the host could not be reached (or its key is unknown).
    """
    from cookcam_ops.config import NAME_RE

    if not NAME_RE.match(environment):
        raise UsageError(
            f"--environment '{environment}' is not a valid environment name",
            hint="letters, digits, '.', '_' or '-' (at most 63)",
        )
    if output.exists() and not force:
        raise UsageError(
            f"{output} exists; not overwritten",
            hint="pass --force to replace it, or --output another path",
        )
    if from_host is None:
        from cookcam_ops.initconfig import example_text

        text, discovered = example_text(environment), None
    else:
        from cookcam_ops.initconfig import discover_ops_yaml

        text, discovered = discover_ops_yaml(
            from_host,
            environment,
            identity_file=identity_file,
            known_hosts=known_hosts,
            accept_new_host_keys=accept_new_host_keys,
            base_dir=output.parent,
            app_name=app,
        )
    _write(output, text)
    conclude(
        ctx,
        as_json=as_json,
        code=ExitCode.OK,
        render=lambda: _say(output, environment, discovered is not None),
        doc=lambda: {
            "ok": True,
            "checks": [],
            "path": str(output),
            "environment": environment,
            "from_host": from_host,
            "discovered": discovered or {},
        },
    )


def _write(path: Path, text: str) -> None:
    """Write through a temp file renamed into place: never half an ops.yaml."""
    from cookcam_ops.errors import ConfigError

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ConfigError(
            f"{path}: cannot write ({e.strerror or type(e).__name__})",
            hint="check that the directory exists and is writable",
        ) from e


def _say(path: Path, environment: str, discovered: bool) -> None:
    from cookcam_ops import ui

    ui.say(
        f"wrote {path}"
        + ("" if discovered else " (every key commented; fill in environments.*.hosts)")
    )
    ui.say(f"next: cookcam-ops --config {path} checklist {environment}", style="dim")
