"""What the commands that change hosts share (deploy, rollback, migrate-to-releases, unlock):
their options, the prompt, the run log and progress, and how a run ends and is announced."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cookcam_ops.cli import boundary
from cookcam_ops.cli.common import conclude
from cookcam_ops.errors import UsageError

if TYPE_CHECKING:
    from cookcam_ops.config import EnvironmentConfig
    from cookcam_ops.deploy.observer import DeployObserver
    from cookcam_ops.deploy.result import RunResult
    from cookcam_ops.deploy.run import Preview
    from cookcam_ops.runlog import RunLog

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AcceptKeysOpt = Annotated[
    bool,
    typer.Option(
        "--accept-new-host-keys", help="Trust and record host keys not yet in known_hosts."
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Stream every step's output live, each line prefixed by its host "
        "(it is always kept in the run log).",
    ),
]


def command_line() -> str:
    """What the lock's info.json says this run is."""
    return " ".join(["cookcam-ops", *sys.argv[1:]])[:200]


def refuse_without_tty(action: str) -> None:
    """A prompt needs a terminal: without one, --yes must say the user means it."""
    if not sys.stdin.isatty():
        raise UsageError(
            f"refusing to {action} without --yes when not on a terminal",
            hint="pass --yes to confirm (e.g. in CI)",
        )


def confirmer(yes: bool, action: str) -> Callable[[Preview], bool]:
    """The confirm callback: show the preview, then ask unless --yes."""
    from cookcam_ops.render import deploy as render_deploy

    def confirm(preview: Preview) -> bool:
        render_deploy.render_preview(preview)
        if yes:
            return True
        try:
            return typer.confirm(f"{action} {preview.environment}?", default=False, err=True)
        except typer.Abort:
            raise KeyboardInterrupt from None

    return confirm


@contextmanager
def observed(
    ctx: typer.Context, action: str, environment: str, verbose: bool
) -> Iterator[tuple[DeployObserver, RunLog]]:
    """Progress for people (-v: every output line too) and the run log, for one run; the run
    log's path goes into the document however the run ends."""
    from cookcam_ops.deploy.observer import Observers
    from cookcam_ops.render import deploy as render_deploy
    from cookcam_ops.runlog import RunLog

    log = RunLog.open(action, environment)
    boundary.note(ctx, run_log=str(log.dir))
    try:
        with render_deploy.Progress(verbose=verbose) as progress:
            yield Observers(progress, log), log
    finally:
        log.close()


def finish_run(
    ctx: typer.Context,
    env: EnvironmentConfig,
    result: RunResult,
    log: RunLog,
    as_json: bool,
    junit: Path | None = None,
) -> NoReturn:
    """Announce the run (webhooks, Sentry: warnings only), print it (JSON, plan or summary,
    then each failed step's last lines and the run log), write JUnit if asked (its checks: the
    gates, a canary's metrics), and exit with its code."""
    from cookcam_ops import ui
    from cookcam_ops.deploy.lock import local_user
    from cookcam_ops.deploy.result import Outcome
    from cookcam_ops.notify import announce_run
    from cookcam_ops.render import deploy as render_deploy

    sent = boundary.build_document(ctx, boundary.command_of(ctx), result.to_dict())
    result.checks.extend(announce_run(env, result, sent, user=local_user(), environ=os.environ))
    render = (
        render_deploy.render_plan
        if result.outcome == Outcome.DRY_RUN
        else render_deploy.render_result
    )

    def show() -> None:
        render(result)
        if result.exit_code:
            render_deploy.render_failures(result, log)

    if junit is not None:
        from cookcam_ops.report import Report, write_junit

        write_junit(
            Report(f"{result.action} {result.environment}", result.checks),
            f"cookcam-ops {result.action}",
            junit,
        )
    if as_json and result.exit_code:
        ui.say(f"full output of every step: {log.dir}")
    conclude(ctx, as_json=as_json, doc=result.to_dict, code=result.exit_code, render=show)
