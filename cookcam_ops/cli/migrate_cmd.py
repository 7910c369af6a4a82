"""`cookcam-ops migrate-to-releases`: in-place hosts to the releases layout, with no downtime."""

from __future__ import annotations

from typing import Annotated

import typer

from cookcam_ops.cli.common import EnvArg, JsonOpt, load
from cookcam_ops.cli.runs import (
    AcceptKeysOpt,
    VerboseOpt,
    YesOpt,
    command_line,
    finish_run,
    observed,
    refuse_without_tty,
)
from cookcam_ops.errors import ChecksFailed


def migrate_to_releases(
    ctx: typer.Context,
    environment: EnvArg,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Connect, read each host's layout and print the exact commands; "
            "change nothing, take no lock.",
        ),
    ] = False,
    yes: YesOpt = False,
    accept_new_host_keys: AcceptKeysOpt = False,
    verbose: VerboseOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Turn each host's checkout into APP/releases, APP/shared, APP/current; move PM2 to it.

    One host at a time, under the deploy lock: the served commit becomes the first release
    (its dist, node_modules and .env), tested on a spare port; the old checkout is kept in
    APP.ops/inplace-<time>; PM2 is handed over to APP/current with no failed request, and its
    process list saved (a reboot starts the app from APP/current); the migration is recorded
    in the audit log. A host already migrated is left alone; a host that cannot be migrated
    as it is stops the run before any host changes. Then set `strategy: releases` for the
    environment. --dry-run prints each host's steps and the exact commands the run sends.
    Exit 0 migrated (or already), 1 failed and put back, 2 bad input, 3 host unreachable,
    4 a host could not be put back, 5 another run holds the lock, 130 interrupted.
    """
    from cookcam_ops.deploy.migrate import MigrateRequest, migrate_environment

    loaded = load(ctx)
    env = loaded.environment(environment)
    if not (yes or dry_run):
        refuse_without_tty("migrate")
        if not typer.confirm(
            f"migrate every host of {environment} to the releases layout?", default=False, err=True
        ):
            raise ChecksFailed("migrate-to-releases not confirmed; nothing changed")
    req = MigrateRequest(
        environment=environment,
        accept_new_host_keys=accept_new_host_keys,
        command_line=command_line(),
        dry_run=dry_run,
    )
    with observed(ctx, "migrate", environment, verbose) as (observer, log):
        result = migrate_environment(loaded, req, observer=observer)
    finish_run(ctx, env, result, log, as_json)
