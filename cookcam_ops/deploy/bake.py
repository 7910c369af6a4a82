"""The canary's place in a run (deploy --canary): the first batch is the canary; after it passes
the usual gates a bake hook watches it against the baseline and either lets the batch loop go
on or has the engine put the canary back (and never touch the rest).

The engine needs only `BakeHook`; what samples and judges is `cookcam_ops.canary.bake.Bake`
(the canary package depends on deploy's run machinery nowhere: deploy composes it).
The verdict is recorded in each canary host's audit log (action `canary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from cookcam_ops.errors import HostError

if TYPE_CHECKING:
    from cookcam_ops.canary.bake import BakeVerdict
    from cookcam_ops.deploy.plan import HostPlan
    from cookcam_ops.deploy.session import HostSession
    from cookcam_ops.deploy.steps import RunContext

T = TypeVar("T")


class BakeHook(Protocol):
    """Called by the engine around the canary batch (host labels in, verdict out)."""

    hosts: int

    def before_switch(self, canary: list[str], rest: list[str]) -> None:
        """Before the canary switches: sample it when no host stays on the old release."""

    def after_switch(self, canary: list[str], rest: list[str]) -> BakeVerdict:
        """After the canary passed its gates: bake, and judge it against the baseline."""


def batches(todo: Sequence[T], batch_size: int, canary: int | None) -> list[list[T]]:
    """todo in batches of batch_size, the first one of `canary` hosts when baking."""
    first = canary if canary is not None else batch_size
    head, rest = list(todo[:first]), list(todo[first:])
    return ([head] if head else []) + [
        rest[i : i + batch_size] for i in range(0, len(rest), batch_size)
    ]


def bake_canary(
    ctx: RunContext, sessions: dict[str, HostSession], canary: list[HostPlan], rest: list[HostPlan]
) -> bool:
    """Run the bake; record its verdict on the canary hosts; True to go on with the rest."""
    from cookcam_ops.deploy.steps import record

    assert ctx.bake is not None
    verdict = ctx.bake.after_switch([p.label for p in canary], [p.label for p in rest])
    ctx.observer.phase(f"canary {verdict.outcome}: {verdict.detail}")
    for p in canary:
        session = sessions[p.label]
        try:
            if session.ensure():
                record(
                    session,
                    p,
                    ctx,
                    action="canary",
                    outcome=verdict.outcome,
                    from_sha=p.from_sha,
                    to_sha=p.to_sha,
                    duration_s=verdict.elapsed_s,
                    detail=verdict.detail,
                )
        except HostError:
            pass  # a record must not mask the verdict; the rollback records its own
    return verdict.promote
