"""`cookcam-ops migrate-to-releases`: in-place hosts to the releases layout, with no downtime."""

from __future__ import annotations

from typing import Annotated

import typer

from cookcam_ops.cli.common import JsonOpt, load
from cookcam_ops.cli.deploy_cmd import (
    AcceptKeysOpt,
    YesOpt,
    command_line,
    finish_run,
    refuse_without_tty,
)


def migrate_to_releases(
    ctx: typer.Context,
    environment: Annotated[str, typer.Argument(help="Environment from ops.yaml.")],
    yes: YesOpt = False,
    accept_new_host_keys: AcceptKeysOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Turn each host's checkout into APP/releases, APP/shared, APP/current; move PM2 to it.

    One host at a time, under the deploy lock: the served commit becomes the first release
    (its dist, node_modules and .env), tested on a spare port; the old checkout is kept in
    APP.ops/inplace-<time>; PM2 is handed over to APP/current with no failed request, and its
    process list saved (a reboot starts the app from APP/current). A host
    already migrated is left alone. Then set `strategy: releases` for the environment.
    Exit 0 migrated (or already), 1 failed and put back, 2 bad input, 3 host unreachable,
    4 a host could not be put back, 5 another run holds the lock, 130 interrupted.
    """
    from cookcam_ops import ui
    from cookcam_ops.deploy.migrate import MigrateRequest, migrate_environment
    from cookcam_ops.render import deploy as render_deploy

    loaded = load(ctx)
    loaded.environment(environment)
    if not yes:
        refuse_without_tty("migrate")
        if not typer.confirm(f"migrate every host of {environment} to the releases layout?",
                             default=False, err=True):
            ui.err().print("not confirmed; nothing changed")
            raise typer.Exit(1)
    req = MigrateRequest(environment=environment, accept_new_host_keys=accept_new_host_keys,
                         command_line=command_line())
    with render_deploy.Progress() as progress:
        result = migrate_environment(loaded, req, observer=progress)
    finish_run(result, as_json)
