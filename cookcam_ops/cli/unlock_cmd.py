"""`cookcam-ops unlock`: break a stale deploy lock, after showing who holds it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cookcam_ops.cli.common import load
from cookcam_ops.cli.deploy_cmd import AcceptKeysOpt, YesOpt, refuse_without_tty

if TYPE_CHECKING:
    from cookcam_ops.deploy.unlock import HostLock


def unlock(
    ctx: typer.Context,
    environment: Annotated[str, typer.Argument(help="Environment from ops.yaml.")],
    yes: YesOpt = False,
    accept_new_host_keys: AcceptKeysOpt = False,
) -> None:
    """Show who holds the deploy lock on each host and break it (only when that run is gone).

    Exit 0 done (or no lock held), 1 not confirmed, 3 a host could not be reached.
    """
    from cookcam_ops.deploy.unlock import UnlockResult, unlock_environment
    from cookcam_ops.render import deploy as render_deploy

    loaded = load(ctx)
    answered: list[bool] = []

    def confirm(held: list[HostLock]) -> bool:
        render_deploy.render_locks(UnlockResult(environment, held), before=True)
        if not yes:
            refuse_without_tty("break the lock")
        answered.append(yes or typer.confirm(
            "break these locks? only do this when the runs holding them are gone",
            default=False, err=True))
        return answered[-1]

    result = unlock_environment(loaded, environment, confirm=confirm,
                                accept_new_host_keys=accept_new_host_keys)
    render_deploy.render_locks(result)
    if not result.ok:
        raise typer.Exit(3)
    raise typer.Exit(1 if answered and not answered[-1] else 0)
