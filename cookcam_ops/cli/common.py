"""Options and endings shared by every report command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cookcam_ops.errors import ExitCode

if TYPE_CHECKING:
    from cookcam_ops.config import LoadedConfig
    from cookcam_ops.report import Report

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
JunitOpt = Annotated[Path | None, typer.Option(
    "--junit", metavar="PATH", help="Also write a JUnit XML file (one testcase per check).")]


def load(ctx: typer.Context) -> LoadedConfig:
    """Load ops.yaml from --config, $COOKCAM_OPS_CONFIG or ./ops.yaml."""
    from cookcam_ops.config import load_config
    from cookcam_ops.configpath import config_path

    return load_config(config_path(ctx.find_root().obj.config))


def finish(report: Report, *, as_json: bool, junit: Path | None = None,
           suite: str = "cookcam-ops", fail_code: ExitCode = ExitCode.CHECKS_FAILED,
           render: Callable[[Report], None] | None = None) -> NoReturn:
    """Render a report (JSON, else `render` or the checks table), write JUnit if asked, exit 0
    or fail_code."""
    from cookcam_ops import ui
    from cookcam_ops.report import write_junit

    if junit is not None:
        write_junit(report, suite, junit)
    if as_json:
        ui.emit_json(report.to_dict())
    else:
        (render or ui.render_report)(report)
    raise typer.Exit(int(ExitCode.OK if report.ok else fail_code))
