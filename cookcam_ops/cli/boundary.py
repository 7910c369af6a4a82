"""The one error boundary: every ending of a command is one line for people and an exit code,
and with --json exactly one JSON document on stdout, whatever the exit code.

Commands run as `OpsCommand`: their known errors (OpsError), Ctrl-C and bugs end here. Usage
errors (a bad flag, a missing argument, no such command) happen while a group parses its
command line, before any command runs: `OpsGroup` gives them their document. A command that
ends normally emits its own document (cli/common.py `emit`); the boundary only writes one when
none was written.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from cookcam_ops.errors import ExitCode, OpsError

JSON_FLAG = "--json"
VALUE_OPTIONS = frozenset({"--config", "-c"})  # global options that take a separate value
META_JSON = "cookcam_ops.json"  # whether this command line asked for --json
META_EMITTED = "cookcam_ops.emitted"  # a document was written: never a second one
META_FIELDS = "cookcam_ops.fields"  # what the run knew so far (run log path, ...)


def command_name(args: list[str]) -> str | None:
    """The command a command line runs: its first word that is not a global option."""
    words = iter(args)
    for word in words:
        if word in VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def wants_json(args: list[str]) -> bool:
    """--json among the options (before a `--`, after which words are arguments)."""
    return JSON_FLAG in (args[: args.index("--")] if "--" in args else args)


def command_of(ctx: Any, sub: str | None = None) -> str:
    """The command's name as documents and `schema` know it: `deploy`, `env validate`."""
    words = ctx.command_path.split()[1:] + ([sub] if sub else [])
    return " ".join(words)


def note(ctx: Any, **fields: Any) -> None:
    """Remember fields a failure's document should carry (e.g. the run log's path)."""
    ctx.meta.setdefault(META_FIELDS, {}).update(fields)


def build_document(ctx: Any, command: str, body: dict[str, Any]) -> dict[str, Any]:
    """The document of this run: schema_version and command first, the body, what the run
    knew besides (its environment, its run log)."""
    from cookcam_ops.report import document

    return document(command, {**body, **_known(ctx, body)})


def emit_document(ctx: Any, command: str, body: dict[str, Any]) -> None:
    """Write the one JSON document of this run on stdout (never a second one)."""
    from cookcam_ops import ui

    if ctx.meta.get(META_EMITTED):
        return
    ctx.meta[META_EMITTED] = True
    ui.emit_json(build_document(ctx, command, body))


def _known(ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
    known = dict(ctx.meta.get(META_FIELDS, {}))
    environment = ctx.params.get("environment") if hasattr(ctx, "params") else None
    if isinstance(environment, str) and "environment" not in body:
        known["environment"] = environment
    return {k: v for k, v in known.items() if k not in body}


def _fail(
    ctx: Any,
    command: str,
    code: int,
    kind: str,
    message: str,
    hint: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    if ctx.meta.get(META_JSON):
        from cookcam_ops.report import error_body

        emit_document(ctx, command, error_body(code, kind, message, hint, details or {}))


class OpsCommand(TyperCommand):
    """A command whose every ending goes through the boundary."""

    def invoke(self, ctx: Any) -> Any:
        ctx.meta[META_JSON] = bool(ctx.params.get("as_json"))
        try:
            return super().invoke(ctx)
        except OpsError as e:
            _debug_trace(ctx)
            _fail(ctx, command_of(ctx), int(e.exit_code), e.kind, e.message, e.hint, e.details())
            _stop(str(e), int(e.exit_code))
        except (KeyboardInterrupt, typer.Abort):
            _fail(
                ctx, command_of(ctx), int(ExitCode.INTERRUPTED), "interrupted", "interrupted", None
            )
            _stop("interrupted", int(ExitCode.INTERRUPTED))
        except Exception as e:
            if _is_cli_control(e) or isinstance(e, BrokenPipeError):
                raise  # Typer renders its own; a closed stdout (`| head`) ends quietly
            _debug_trace(ctx)
            _fail(
                ctx,
                command_of(ctx),
                int(ExitCode.INTERNAL),
                "internal",
                f"internal error ({type(e).__name__})",
                "rerun with --debug and report it",
            )
            _stop(
                f"internal error ({type(e).__name__}); this is a bug in cookcam-ops, "
                "rerun with --debug for the traceback and report it",
                int(ExitCode.INTERNAL),
            )


class OpsGroup(TyperGroup):
    """A group that documents usage errors (found while parsing, before a command runs)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.parent is None:
            ctx.meta[META_JSON] = wants_json(args)
        try:
            return super().parse_args(ctx, args)
        except Exception as e:
            _usage_document(ctx, e, command_name(args) or "")
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as e:
            _usage_document(ctx, e, command_of(ctx, ctx.invoked_subcommand))
            raise


def _usage_document(ctx: Any, e: Exception, command: str) -> None:
    """Typer (vendored click) shows its usage errors itself; with --json, the document too."""
    if _is_cli_control(e) and hasattr(e, "format_message"):
        code = int(getattr(e, "exit_code", ExitCode.USAGE))
        words = " ".join(["cookcam-ops", *command.split(), "--help"])
        _fail(ctx, command, code, "usage", e.format_message(), f"see `{words}`")


def _stop(line: str, code: int) -> NoReturn:
    from cookcam_ops import ui

    ui.error_line(line)
    raise typer.Exit(code) from None


def _is_cli_control(e: Exception) -> bool:
    """Typer's (vendored click) exits and usage errors: Typer renders those itself."""
    return type(e).__module__.split(".")[0] in ("typer", "click")


def _debug_trace(ctx: Any) -> None:
    root = ctx.find_root()
    if getattr(root.obj, "debug", False):
        traceback.print_exc(file=sys.stderr)
