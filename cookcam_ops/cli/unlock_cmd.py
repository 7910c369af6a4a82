"""`cookcam-ops unlock`: break a stale deploy lock, after showing who holds it."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

import typer

from cookcam_ops.cli.boundary import build_document, command_of
from cookcam_ops.cli.common import EnvArg, JsonOpt, conclude, load
from cookcam_ops.cli.runs import AcceptKeysOpt, YesOpt, refuse_without_tty

if TYPE_CHECKING:
    from cookcam_ops.deploy.unlock import HostLock


def unlock(
    ctx: typer.Context,
    environment: EnvArg,
    yes: YesOpt = False,
    accept_new_host_keys: AcceptKeysOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show who holds the deploy lock on each host and break it (only when that run is gone).

    A lock broken is told to the webhooks of ops.yaml that want `unlock` events.
    Exit 0 done (or no lock held), 1 not confirmed, 3 a host could not be reached.
    """
    from cookcam_ops.deploy.lock import local_user
    from cookcam_ops.deploy.unlock import UnlockResult, unlock_environment
    from cookcam_ops.notify import announce, unlock_event
    from cookcam_ops.render import deploy as render_deploy

    loaded = load(ctx)

    def confirm(held: list[HostLock]) -> bool:
        render_deploy.render_locks(UnlockResult(environment, held), before=True)
        if yes:
            return True
        refuse_without_tty("break the lock")
        return typer.confirm(
            "break these locks? only do this when the runs holding them are gone",
            default=False,
            err=True,
        )

    result = unlock_environment(
        loaded, environment, confirm=confirm, accept_new_host_keys=accept_new_host_keys
    )
    event = unlock_event(
        result, build_document(ctx, command_of(ctx), result.to_dict()), local_user()
    )
    if event is not None:
        result = replace(
            result, notified=tuple(announce(loaded.environment(environment), event, os.environ))
        )
    conclude(
        ctx,
        as_json=as_json,
        doc=result.to_dict,
        code=result.exit_code,
        render=lambda: render_deploy.render_locks(result),
    )
