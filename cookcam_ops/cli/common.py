"""Options and endings shared by every command: one JSON document or a human rendering, then
the exit code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from cookcam_ops.cli import boundary
from cookcam_ops.errors import ExitCode

if TYPE_CHECKING:
    from cookcam_ops.config import LoadedConfig
    from cookcam_ops.report import Report


def complete_environment(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion: the environment names of ops.yaml (--config, $COOKCAM_OPS_CONFIG or
    ./ops.yaml), read without validating it; nothing when it cannot be read."""
    from cookcam_ops.configpath import config_path
    from cookcam_ops.errors import OpsError
    from cookcam_ops.yamlfile import load_yaml

    config = ctx.find_root().params.get("config")
    try:
        data = load_yaml(config_path(config), "ops.yaml").data
    except OpsError:
        return []
    envs = data.get("environments") if isinstance(data, dict) else None
    return (
        sorted(n for n in envs if isinstance(n, str) and n.startswith(incomplete))
        if isinstance(envs, dict)
        else []
    )


EnvArg = Annotated[
    str, typer.Argument(help="Environment from ops.yaml.", autocompletion=complete_environment)
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout, whatever the exit code.")
]
JunitOpt = Annotated[
    Path | None,
    typer.Option(
        "--junit", metavar="PATH", help="Also write a JUnit XML file (one testcase per check)."
    ),
]


def load(ctx: typer.Context) -> LoadedConfig:
    """Load ops.yaml from --config, $COOKCAM_OPS_CONFIG or ./ops.yaml."""
    from cookcam_ops.config import load_config
    from cookcam_ops.configpath import config_path

    return load_config(config_path(ctx.find_root().obj.config))


def emit(ctx: typer.Context, body: dict[str, Any]) -> None:
    """The command's one JSON document on stdout."""
    boundary.emit_document(ctx, boundary.command_of(ctx), body)


def conclude(
    ctx: typer.Context,
    *,
    as_json: bool,
    doc: Callable[[], dict[str, Any]],
    code: int,
    render: Callable[[], None],
) -> NoReturn:
    """End a command: its JSON document (--json) or its human rendering, then its exit code.

    With --json, the hosts that could not be reached are still named on stderr for people
    reading a CI log."""
    if as_json:
        body = doc()
        emit(ctx, body)
        from cookcam_ops import ui

        for lost in body.get("unreachable") or []:
            ui.error_line(lost["reason"])
    else:
        render()
    raise typer.Exit(int(code))


def finish(
    ctx: typer.Context,
    report: Report,
    *,
    as_json: bool,
    junit: Path | None = None,
    suite: str = "cookcam-ops",
    fail_code: ExitCode = ExitCode.CHECKS_FAILED,
    render: Callable[[Report], None] | None = None,
) -> NoReturn:
    """Render a report (JSON, else `render` or the checks table), write JUnit if asked; exit 0,
    3 (unreachable) or fail_code."""
    from cookcam_ops import ui
    from cookcam_ops.report import write_junit

    if junit is not None:
        write_junit(report, suite, junit)
    show = render or ui.render_report
    conclude(
        ctx,
        as_json=as_json,
        doc=report.to_dict,
        code=report.exit_code(fail_code),
        render=lambda: show(report),
    )
