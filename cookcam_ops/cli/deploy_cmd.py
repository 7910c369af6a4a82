"""`cookcam-ops deploy`: build aside, switch, reload, check; put everything back on failure."""

from __future__ import annotations

from typing import Annotated

import typer

from cookcam_ops.cli.common import EnvArg, JsonOpt, JunitOpt, load
from cookcam_ops.cli.runs import (
    AcceptKeysOpt,
    VerboseOpt,
    YesOpt,
    command_line,
    confirmer,
    finish_run,
    observed,
    refuse_without_tty,
)


def deploy(
    ctx: typer.Context,
    environment: EnvArg,
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref",
            metavar="REF",
            help="Branch, tag or commit to deploy [default: the remote's branch from ops.yaml].",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Connect, gather facts and print the exact commands; change nothing."
        ),
    ] = False,
    yes: YesOpt = False,
    batch: Annotated[
        int | None,
        typer.Option(
            "--batch", min=1, metavar="N", help="Hosts deployed at a time [default: batch_size]."
        ),
    ] = None,
    no_auto_rollback: Annotated[
        bool,
        typer.Option(
            "--no-auto-rollback", help="On failure after the switch, leave hosts as they are."
        ),
    ] = False,
    canary: Annotated[
        bool,
        typer.Option(
            "--canary",
            help="Deploy the first host(s) alone, watch them against the hosts still on "
            "the old release for the bake time, then promote to the rest or put them back.",
        ),
    ] = False,
    canary_hosts: Annotated[
        int | None,
        typer.Option(
            "--canary-hosts",
            min=1,
            metavar="N",
            help="Hosts in the canary (implies --canary) [default: canary.hosts, 1].",
        ),
    ] = None,
    bake: Annotated[
        float | None,
        typer.Option(
            "--bake",
            min=0,
            max=3600,
            metavar="SECONDS",
            help="How long the canary bakes (implies --canary; 0: no bake) [default: "
            "canary.bake_s, 300].",
        ),
    ] = None,
    accept_new_host_keys: AcceptKeysOpt = False,
    verbose: VerboseOpt = False,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Deploy a ref to every host; a failure after the switch rolls the fleet back by itself.

    What the commit changes in ecosystem.config.js (instances, exec_mode, kill_timeout, ...)
    is applied at the reload (pm2 scale, or the app started again beside the old workers), and
    PM2's process list is saved for reboots. A kill_timeout not above app.drain_deadline_ms in
    the target's file stops the deploy before anything changes; a worker PM2 SIGKILLs during
    the reload is a warning in the summary and the JSON (`warnings`).

    With --canary the first host(s) deploy alone and bake: Socket.IO auth success and latency,
    health, 5xx answers, PM2 restarts and workers not online, memory growth and error-log lines
    are sampled on the canary and on the hosts still on the old release (on one host: its own
    figures before the switch) and judged by ops.yaml's canary rules; a failed metric puts the
    canary back (exit 1) and leaves the rest untouched.

    Ctrl-C stops at the next safe point and puts back what changed (during a bake: the canary);
    a second Ctrl-C cuts the steps still running before their host's switch (a long npm ci),
    never a switch or reload. Every step's full output is kept in a run log (its path is
    printed on failure); the webhooks and Sentry project of ops.yaml are told what happened.

    Exit 0 deployed (or nothing to do), 1 failed and rolled back healthy, 2 bad input, 3 host
    unreachable, 4 the rollback failed too, 5 another run holds the lock, 130 interrupted.
    """
    from cookcam_ops.deploy.service import DeployRequest, deploy_environment

    loaded = load(ctx)
    env = loaded.environment(environment)
    if not (yes or dry_run):
        refuse_without_tty("deploy")
    req = DeployRequest(
        environment=environment,
        ref=ref,
        dry_run=dry_run,
        batch=batch,
        auto_rollback=not no_auto_rollback,
        accept_new_host_keys=accept_new_host_keys,
        command_line=command_line(),
        canary=canary or canary_hosts is not None or bake is not None,
        canary_hosts=canary_hosts,
        bake_s=bake,
    )
    with observed(ctx, "deploy", environment, verbose) as (observer, log):
        result = deploy_environment(
            loaded, req, observer=observer, confirm=confirmer(yes, "deploy")
        )
    finish_run(ctx, env, result, log, as_json, junit)
