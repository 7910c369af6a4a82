"""`cookcam-ops deploy`: build aside, switch, reload, check; put everything back on failure."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cookcam_ops.cli.common import JsonOpt, JunitOpt, load
from cookcam_ops.errors import UsageError

if TYPE_CHECKING:
    from cookcam_ops.deploy.result import RunResult
    from cookcam_ops.deploy.service import Preview

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AcceptKeysOpt = Annotated[bool, typer.Option(
    "--accept-new-host-keys", help="Trust and record host keys not yet in known_hosts.")]


def command_line() -> str:
    """What the lock's info.json says this run is."""
    return " ".join(["cookcam-ops", *sys.argv[1:]])[:200]


def refuse_without_tty(action: str) -> None:
    """A prompt needs a terminal: without one, --yes must say the user means it."""
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {action} without --yes when not on a terminal",
                         hint="pass --yes to confirm (e.g. in CI)")


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


def finish_run(result: RunResult, as_json: bool, junit: Path | None = None) -> NoReturn:
    """Print the result (JSON, plan or summary), write JUnit if asked, exit with its code."""
    from cookcam_ops import ui
    from cookcam_ops.render import deploy as render_deploy

    if junit is not None:
        from cookcam_ops.report import Report, write_junit

        write_junit(Report(f"{result.action} {result.environment}", result.checks),
                    f"cookcam-ops {result.action}", junit)
    if as_json:
        ui.emit_json(result.to_dict())
    elif result.outcome == "dry_run":
        render_deploy.render_plan(result)
    else:
        render_deploy.render_result(result)
    raise typer.Exit(int(result.exit_code))


def deploy(
    ctx: typer.Context,
    environment: Annotated[str, typer.Argument(help="Environment from ops.yaml.")],
    ref: Annotated[str | None, typer.Option(
        "--ref", metavar="REF",
        help="Branch, tag or commit to deploy [default: the remote's branch from ops.yaml].")
    ] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Connect, gather facts and print the exact commands; change nothing.")
    ] = False,
    yes: YesOpt = False,
    batch: Annotated[int | None, typer.Option(
        "--batch", min=1, metavar="N", help="Hosts deployed at a time [default: batch_size].")
    ] = None,
    no_auto_rollback: Annotated[bool, typer.Option(
        "--no-auto-rollback", help="On failure after the switch, leave hosts as they are.")
    ] = False,
    canary: Annotated[bool, typer.Option(
        "--canary", help="Deploy the first host(s) alone, watch them against the hosts still on "
        "the old release for the bake time, then promote to the rest or put them back.")
    ] = False,
    canary_hosts: Annotated[int | None, typer.Option(
        "--canary-hosts", min=1, metavar="N",
        help="Hosts in the canary (implies --canary) [default: canary.hosts, 1].")] = None,
    bake: Annotated[float | None, typer.Option(
        "--bake", min=0, max=3600, metavar="SECONDS",
        help="How long the canary bakes (implies --canary; 0: no bake) [default: "
             "canary.bake_s, 300].")] = None,
    accept_new_host_keys: AcceptKeysOpt = False,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Deploy a ref to every host; a failure after the switch rolls the fleet back by itself.

    With --canary the first host(s) deploy alone and bake: Socket.IO auth success and latency,
    health, 5xx answers, PM2 restarts and workers not online, memory growth and error-log lines
    are sampled on the canary and on the hosts still on the old release (on one host: its own
    figures before the switch) and judged by ops.yaml's canary rules; a failed metric puts the
    canary back (exit 1) and leaves the rest untouched.

    Ctrl-C stops at the next safe point and puts back what changed (during a bake: the canary);
    a second Ctrl-C cuts the steps still running before their host's switch (a long npm ci),
    never a switch or reload.

    Exit 0 deployed (or nothing to do), 1 failed and rolled back healthy, 2 bad input, 3 host
    unreachable, 4 the rollback failed too, 5 another run holds the lock, 130 interrupted.
    """
    from cookcam_ops.deploy.service import DeployRequest, deploy_environment
    from cookcam_ops.render import deploy as render_deploy

    loaded = load(ctx)
    if not (yes or dry_run):
        refuse_without_tty("deploy")
    req = DeployRequest(environment=environment, ref=ref, dry_run=dry_run, batch=batch,
                        auto_rollback=not no_auto_rollback,
                        accept_new_host_keys=accept_new_host_keys, command_line=command_line(),
                        canary=canary or canary_hosts is not None or bake is not None,
                        canary_hosts=canary_hosts, bake_s=bake)
    with render_deploy.Progress() as progress:
        result = deploy_environment(loaded, req, observer=progress,
                                    confirm=confirmer(yes, "deploy"))
    finish_run(result, as_json, junit)
