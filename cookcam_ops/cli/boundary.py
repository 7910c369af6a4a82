"""The one error boundary: known errors print one line and exit with their code."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from cookcam_ops.errors import ExitCode, OpsError


class OpsGroup(TyperGroup):
    """A Typer group whose invoke() turns our errors into one line and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except OpsError as e:
            from cookcam_ops import ui

            if _debug(ctx):
                traceback.print_exc(file=sys.stderr)
            ui.error_line(str(e))
            raise typer.Exit(int(e.exit_code)) from None
        except KeyboardInterrupt:
            from cookcam_ops import ui

            ui.error_line("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as e:
            if _is_cli_control(e):
                raise
            from cookcam_ops import ui

            if _debug(ctx):
                traceback.print_exc(file=sys.stderr)
            ui.error_line(f"internal error ({type(e).__name__}); this is a bug in cookcam-ops, "
                          "rerun with --debug for the traceback and report it")
            raise typer.Exit(70) from None


def _is_cli_control(e: Exception) -> bool:
    """Typer's (vendored click) exits, aborts and usage errors: Typer renders those itself."""
    return type(e).__module__.split(".")[0] in ("typer", "click")


def _debug(ctx: Any) -> bool:
    root = ctx.find_root()
    return bool(getattr(root.obj, "debug", False))
