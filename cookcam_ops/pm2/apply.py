"""What a deploy must do so PM2 runs what the target's ecosystem file says (pure).

`pm2 reload NAME` replaces workers with the settings they were started with: it never applies a
changed exec_mode, instance count, kill_timeout, wait_ready, listen_timeout, script or cwd. So a
deploy compares the target commit's file with what PM2 runs and picks the least disruptive way
to apply the difference:

- none: nothing differs; `pm2 reload` (`pm2 restart` in fork mode) as always.
- scale: only the worker count differs (cluster mode); reload, then `pm2 scale NAME N`.
- handover: anything else differs, cluster mode on both sides; the app is started again from
  the file beside the old workers (they share the listening socket), then the old ones stop
  gracefully: no failed request (deploy/handover.py).
- restart: fork mode on either side. A fork-mode process binds the port itself, so old and new
  cannot listen together: the old processes stop (gracefully), then the new ones start. The
  app does not answer for that moment; the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from cookcam_ops.pm2.ecosystem import Pm2Settings

SETTINGS = tuple(f.name for f in fields(Pm2Settings))
_MS = frozenset({"kill_timeout", "listen_timeout"})


class Apply(StrEnum):
    """How the settings are applied (see the module docstring)."""

    NONE = "none"
    SCALE = "scale"
    HANDOVER = "handover"
    RESTART = "restart"


@dataclass(frozen=True)
class Change:
    """One setting that differs: what PM2 runs, and what the file says."""

    setting: str
    before: Any
    after: Any

    def describe(self) -> str:
        unit = " ms" if self.setting in _MS else ""
        return f"{self.setting} {self.before}{unit} -> {self.after}{unit}"

    def to_dict(self) -> dict[str, Any]:
        return {"setting": self.setting, "from": self.before, "to": self.after}


def differences(running: Pm2Settings, wanted: Pm2Settings) -> tuple[Change, ...]:
    """Every setting that differs between what runs and what the file says, in a fixed order."""
    return tuple(
        Change(name, getattr(running, name), getattr(wanted, name))
        for name in SETTINGS
        if getattr(running, name) != getattr(wanted, name)
    )


def describe_changes(changes: tuple[Change, ...]) -> str:
    """'instances 2 -> 3, kill_timeout 10000 ms -> 1000 ms'."""
    return ", ".join(c.describe() for c in changes)


@dataclass(frozen=True)
class ApplyPlan:
    """What a reload must apply on one host, and how."""

    how: Apply
    changes: tuple[Change, ...] = ()
    wanted: Pm2Settings | None = None
    unknown: str | None = None  # why nothing can be compared (nothing is applied then)

    def describe(self) -> str:
        """One line for people: what changes and how, or that nothing does."""
        if self.unknown:
            return f"PM2 settings not compared: {self.unknown}"
        if not self.changes:
            return "PM2 settings unchanged"
        how = {
            Apply.SCALE: "pm2 scale",
            Apply.HANDOVER: "zero-downtime handover",
            Apply.RESTART: "stop, then start: fork mode cannot hand over",
            Apply.NONE: "pm2 reload",
        }[self.how]
        return f"PM2 settings: {describe_changes(self.changes)} ({how})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "apply": self.how.value,
            "changes": [c.to_dict() for c in self.changes],
            "unknown": self.unknown,
        }


def plan_apply(
    running: Pm2Settings | None, wanted: Pm2Settings | None, unknown: str | None = None
) -> ApplyPlan:
    """The plan that makes PM2 run `wanted` (the target's file) instead of `running`."""
    if wanted is None or running is None:
        why = unknown or (
            "PM2 runs no process of the app"
            if running is None
            else "the target's ecosystem file has no entry for the app"
        )
        return ApplyPlan(Apply.NONE, wanted=wanted, unknown=why)
    changes = differences(running, wanted)
    if not changes:
        return ApplyPlan(Apply.NONE, wanted=wanted)
    if "fork" in (running.exec_mode, wanted.exec_mode):
        how = Apply.RESTART
    elif {c.setting for c in changes} == {"instances"}:
        how = Apply.SCALE
    else:
        how = Apply.HANDOVER
    return ApplyPlan(how, changes, wanted)
