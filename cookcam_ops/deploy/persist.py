"""After PM2 changed on a host: what the change did, and the process list saved for reboots.

One round trip after a verified reload (or handover): the lines PM2's log gained since the
reload began that say it SIGKILLed a worker of the app (its drain cut short: a warning, never
a silent success), `pm2 save` (so the boot unit's `pm2 resurrect` brings back this release with
these settings), the saved list read back through the whitelisting filter, and what PM2 runs
now, compared with the settings the target's ecosystem file asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cookcam_ops.deploy.result import StepStatus
from cookcam_ops.pm2 import ecosystem
from cookcam_ops.pm2.apply import Change, describe_changes, differences
from cookcam_ops.pm2.daemonlog import Sigkill, sigkill_lines_command, sigkills
from cookcam_ops.pm2.procs import of_app, parse_jlist
from cookcam_ops.pm2.reboot import SavedVerdict, compare_saved, read_saved
from cookcam_ops.remote import composite

if TYPE_CHECKING:
    from cookcam_ops.deploy.session import Runner

SETTLE_TIMEOUT_S = 60.0
SAVE = "pm2 save >/dev/null 2>&1 && echo saved"


def settle_script(log_offset: int | None) -> str:
    """SIGKILL lines since log_offset (when given), then save, read the saved list, jlist."""
    sections = [("kills", sigkill_lines_command(log_offset))] if log_offset is not None else []
    return composite.script(
        [
            *sections,
            ("save", SAVE),
            ("saved", composite.pm2_saved()),
            ("pm2", composite.pm2_jlist()),
        ]
    )


@dataclass(frozen=True)
class Settled:
    """What the round trip found."""

    sigkills: tuple[Sigkill, ...]
    saved: SavedVerdict
    save_failed: bool
    left: tuple[Change, ...]  # settings PM2 still runs differently from what was wanted
    workers: int

    def verdict(self) -> tuple[StepStatus, str]:
        """(step status, detail): failed when settings were not applied, warn on a SIGKILL or
        a saved list that would not bring this back, else ok."""
        if self.left:
            return StepStatus.FAILED, (
                f"PM2 still runs {describe_changes(self.left)} "
                "(runs -> file) after applying the ecosystem file"
            )
        warnings = []
        if self.sigkills:
            who = ", ".join(k.describe() for k in self.sigkills[:4])
            warnings.append(
                f"PM2 SIGKILLed {len(self.sigkills)} worker(s) mid-drain ({who}): "
                "requests they still served were cut; kill_timeout must be above "
                "the app's drain deadline"
            )
        if self.save_failed:
            warnings.append("`pm2 save` failed: a reboot would bring back the list saved before")
        elif self.saved.matches is not True:
            warnings.append(self.saved.detail)
        if warnings:
            return StepStatus.WARN, "; ".join(warnings)
        return StepStatus.OK, f"saved for reboots (pm2 save: {self.workers} worker(s))"


def parse_settled(stdout: str, app_name: str, wanted: ecosystem.Pm2Settings | None) -> Settled:
    """The settle script's output (pure)."""
    sections = composite.parse(stdout)
    kills = sections.get("kills")
    save = sections.get("save")
    procs, error = parse_jlist(composite.json_section(sections, "pm2"))
    running = [] if error else procs
    runs = ecosystem.from_processes(of_app(running, app_name))
    left = differences(runs, wanted) if runs is not None and wanted is not None else ()
    return Settled(
        sigkills=tuple(sigkills(kills.text if kills else "", app_name)),
        saved=compare_saved(
            read_saved(composite.json_section(sections, "saved")), running, app_name
        ),
        save_failed=save is None or not save.ok,
        left=left,
        workers=len(of_app(running, app_name)),
    )


def settle(
    runner: Runner, app_name: str, log_offset: int | None, wanted: ecosystem.Pm2Settings | None
) -> Settled:
    """Run the settle round trip on a host (see the module docstring)."""
    result = runner.run(settle_script(log_offset), timeout=SETTLE_TIMEOUT_S)
    return parse_settled(result.stdout, app_name, wanted)
