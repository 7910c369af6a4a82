"""`cookcam-ops rollback`: every host back to the previous release (or --to SHA)."""

from __future__ import annotations

from typing import Annotated

import typer

from cookcam_ops.cli.common import EnvArg, JsonOpt, load
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


def rollback(
    ctx: typer.Context,
    environment: EnvArg,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="SHA",
            help="Roll back to this commit [default: the release before the current one, from "
            "the hosts' audit logs].",
        ),
    ] = None,
    yes: YesOpt = False,
    accept_new_host_keys: AcceptKeysOpt = False,
    verbose: VerboseOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Roll every host back to the release before the current one, and check its health.

    Shows each host's from -> to with who deployed each and when, and asks unless --yes. PM2
    settings the release changed (ecosystem.config.js) are put back too, and saved for reboots.
    Exit 0 rolled back, 1 failed (hosts left as they were), 3 a host could not be reached,
    4 a host could not be put back, 5 another run holds the lock, 130 interrupted.
    """
    from cookcam_ops.deploy.rollback import RollbackRequest, rollback_environment

    loaded = load(ctx)
    env = loaded.environment(environment)
    if not yes:
        refuse_without_tty("roll back")
    req = RollbackRequest(
        environment=environment,
        to=to,
        accept_new_host_keys=accept_new_host_keys,
        command_line=command_line(),
    )
    with observed(ctx, "rollback", environment, verbose) as (observer, log):
        result = rollback_environment(
            loaded, req, observer=observer, confirm=confirmer(yes, "roll back")
        )
    finish_run(ctx, env, result, log, as_json)
