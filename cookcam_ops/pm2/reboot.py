"""Reboot survival: the boot unit that runs `pm2 resurrect`, and the list it would restore.

`pm2 startup` installs a boot unit (systemd `pm2-USER.service`, an init.d script, rc.d, or a
crontab `@reboot` line) that runs `pm2 resurrect` with a PM2_HOME; resurrect starts what the last
`pm2 save` wrote to `$PM2_HOME/dump.pm2`, with the cwd, script and settings saved then. The
saved list is read through the same whitelisting filter as `pm2 jlist` (it holds each app's
environment). Judgments are pure; a unit's file is never printed, only its path and PM2_HOME.
"""

from __future__ import annotations

from dataclasses import dataclass

from cookcam_ops.layout.releases import release_of_link
from cookcam_ops.pm2 import ecosystem
from cookcam_ops.pm2.apply import differences
from cookcam_ops.pm2.procs import Pm2Process, parse_jlist
from cookcam_ops.remote.protocol import q, sh_program
from cookcam_ops.report import Check, Status

UNIT_DIRS = (
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/etc/init.d",
    "/usr/local/etc/rc.d",
    "/etc/rc.d",
)
MAX_UNITS = 20


def startup_command(unit_dirs: tuple[str, ...] = UNIT_DIRS) -> str:
    """Print `home|<this PM2_HOME, resolved>`, then `unit|<path>|<its PM2_HOME>|<1 if enabled>`
    for each boot unit that runs `pm2 ... resurrect`, and `unit|crontab @reboot||1` for a
    crontab line (hostside/pm2_startup_units.sh); only paths and PM2_HOME values print."""
    return f"{sh_program('pm2_startup_units.sh')} {q(MAX_UNITS, *unit_dirs)}"


HINT = (
    "run `pm2 startup` as the user that runs PM2 (then the command it prints, as root), "
    "and `pm2 save`"
)


@dataclass(frozen=True)
class StartupUnit:
    """A boot unit that runs `pm2 resurrect`."""

    path: str
    home: str | None
    enabled: bool


def parse_startup(text: str) -> tuple[str | None, list[StartupUnit]]:
    """STARTUP_SH's output -> (this PM2_HOME, the units found)."""
    home: str | None = None
    units = []
    for line in text.splitlines():
        kind, _, rest = line.partition("|")
        if kind == "home":
            home = rest.strip().rstrip("/") or None
        elif kind == "unit":
            path, _, tail = rest.partition("|")
            unit_home, _, on = tail.partition("|")
            units.append(
                StartupUnit(path, unit_home.strip().rstrip("/") or None, on.strip() == "1")
            )
    return home, units


def _restores(unit: StartupUnit, home: str | None) -> bool:
    """Does the unit resurrect this PM2_HOME? No PM2_HOME in it means the default ~/.pm2."""
    if unit.home is None:
        return home is None or home.endswith("/.pm2")
    return home is None or unit.home == home


def judge_startup(text: str | None, host: str) -> Check:
    """`pm2-startup`: a boot unit brings this PM2 daemon (and its saved list) back."""
    if text is None:
        return Check("pm2-startup", Status.WARN, "could not look for a PM2 startup unit", host)
    home, units = parse_startup(text)
    mine = [u for u in units if _restores(u, home)]
    on = [u for u in mine if u.enabled]
    if on:
        return Check(
            "pm2-startup",
            Status.PASS,
            f"{on[0].path} runs `pm2 resurrect` for {home or 'this PM2_HOME'} at boot",
            host,
        )
    if mine:
        return Check(
            "pm2-startup",
            Status.WARN,
            f"{mine[0].path} would resurrect "
            f"{home or 'this PM2_HOME'} but is not enabled (`systemctl enable "
            f"{mine[0].path.rsplit('/', 1)[-1]}`)",
            host,
        )
    if units:
        others = ", ".join(f"{u.path} ({u.home or '~/.pm2'})" for u in units[:3])
        return Check(
            "pm2-startup",
            Status.WARN,
            f"no startup unit for PM2_HOME {home}: {others} resurrect(s) another home; {HINT}",
            host,
        )
    return Check(
        "pm2-startup",
        Status.WARN,
        "no PM2 startup unit: after a reboot PM2 and the "
        f"app stay down until someone runs `pm2 resurrect`; {HINT}",
        host,
    )


@dataclass(frozen=True)
class SavedVerdict:
    """Would `pm2 resurrect` (a reboot) bring back what runs now?"""

    matches: bool | None  # None: nothing to compare (no saved list, or nothing runs)
    detail: str
    workers: int = 0  # how many workers of the app the saved list holds

    def to_dict(self) -> dict[str, object]:
        return {"matches": self.matches, "workers": self.workers, "detail": self.detail}


def read_saved(doc: object) -> list[Pm2Process] | str:
    """The saved list from the whitelisting filter's document, or why there is none."""
    if not isinstance(doc, dict):
        return "could not read PM2's saved process list (dump.pm2)"
    procs, error = parse_jlist(doc)
    return error if error is not None else procs


def _where(procs: list[Pm2Process]) -> str | None:
    """The release (or directory) the processes run in, resolved."""
    dirs = sorted({p.cwd for p in procs if p.cwd})
    if not dirs:
        return None
    names = [release_of_link(d) or d for d in dirs]
    return ", ".join(names)


def compare_saved(
    saved: list[Pm2Process] | str, running: list[Pm2Process], app_name: str
) -> SavedVerdict:
    """The app in the saved list against the app as PM2 runs it (saved: processes or error)."""
    if isinstance(saved, str):
        return SavedVerdict(
            None, f"{saved}: a reboot starts nothing; a deploy saves it, or run `pm2 save`"
        )
    mine = [p for p in saved if p.name == app_name]
    if not mine:
        return SavedVerdict(
            False, f"the saved list (dump.pm2) has no {app_name}: a reboot would not start the app"
        )
    now = [p for p in running if p.name == app_name]
    was, runs = ecosystem.from_processes(mine), ecosystem.from_processes(now)
    if was is None or runs is None:
        return SavedVerdict(
            None, f"PM2 runs no {app_name} to compare the saved list with", len(mine)
        )
    there, here = _where(mine), _where(now)
    diffs = [f"the code in {there} (runs {here})"] if there != here and there and here else []
    diffs += [f"{c.setting} {c.after} (runs {c.before})" for c in differences(runs, was)]
    if diffs:
        return SavedVerdict(
            False, "a reboot (`pm2 resurrect`) would bring back " + "; ".join(diffs), len(mine)
        )
    return SavedVerdict(
        True,
        f"the saved list brings back the {len(mine)} worker(s) that run"
        + (f", in {here}" if here else ""),
        len(mine),
    )


def saved_check(verdict: SavedVerdict, host: str, name: str = "pm2-saved") -> Check:
    """The verdict as a check: a saved list that differs (or is missing) is a warning."""
    return Check(name, Status.PASS if verdict.matches else Status.WARN, verdict.detail, host)
