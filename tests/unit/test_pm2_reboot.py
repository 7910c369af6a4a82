"""Reboot survival and what a reload did: PM2's log, the boot unit, the saved list, settling."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cookcam_ops.deploy.persist import parse_settled, settle_script
from cookcam_ops.pm2.daemonlog import Sigkill, sigkill_lines_command, sigkills
from cookcam_ops.pm2.ecosystem import Pm2Settings
from cookcam_ops.pm2.procs import parse_jlist
from cookcam_ops.pm2.reboot import (
    compare_saved,
    judge_startup,
    parse_startup,
    startup_command,
)
from cookcam_ops.remote import composite
from cookcam_ops.report import Status
from tests.unit.pm2_fakes import APP_DIR, NO_SAVED, SCRIPT, jlist, saved
from tests.unit.test_status_service import sections

SENTINEL = "S3NT1N3L-dump"
# PM2 7's own lines, as a reload under a drain longer than kill_timeout wrote them.
PM2_LOG = """\
2026-12-03T09:58:28: PM2 log: App [cookcam-api:2] starting in -cluster mode-
2026-12-03T09:58:30: PM2 log: Process with pid 2589 still alive after 1000ms, sending SIGKILL to 1 remaining pids...
2026-12-03T09:58:30: PM2 log: App [cookcam-api:_old_0] exited with code [0] via signal [SIGKILL]
2026-12-03T09:58:30: PM2 log: App [other-app:3] exited with code [0] via signal [SIGKILL]
2026-12-03T09:58:31: PM2 log: App [cookcam-api:_old_1] exited with code [0] via signal [SIGINT]
2026-12-03T09:58:31: PM2 log: Process with pid 2637 still alive after 1600ms, sending SIGKILL to 1 remaining pids...
2026-12-03T09:58:31: PM2 log: App [cookcam-api:4] exited with code [0] via signal [SIGKILL]
"""  # noqa: E501
RUNS = Pm2Settings("cluster", 2, 10000, True, 10000, SCRIPT, APP_DIR)


def procs(text: str) -> list:  # type: ignore[type-arg]
    found, error = parse_jlist(json.loads(text))
    assert error is None
    return found


def test_sigkills_of_the_app_are_found_in_pm2s_log() -> None:
    assert sigkills(PM2_LOG, "cookcam-api") == [Sigkill(0, 1000), Sigkill(4, 1600)]
    assert sigkills(PM2_LOG, "other-app") == [Sigkill(3, None)]
    assert (
        sigkills("App [cookcam-api:1] exited with code [0] via signal [SIGINT]", "cookcam-api")
        == []
    )
    assert Sigkill(0, 1000).describe() == "worker 0 after 1000 ms"


def test_only_the_log_written_since_the_offset_is_read(tmp_path: Path) -> None:
    log = tmp_path / "pm2.log"
    log.write_text("App [cookcam-api:9] exited with code [0] via signal [SIGKILL]\n")
    offset = log.stat().st_size
    with log.open("a") as fh:
        fh.write("2026: PM2 log: App [cookcam-api:2] online\n" + PM2_LOG)
    env = {**os.environ, "PM2_HOME": str(tmp_path)}
    done = subprocess.run(
        ["sh", "-c", sigkill_lines_command(offset)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "online" not in done.stdout and "cookcam-api:9" not in done.stdout
    assert sigkills(done.stdout, "cookcam-api") == [Sigkill(0, 1000), Sigkill(4, 1600)]
    rotated = subprocess.run(
        ["sh", "-c", sigkill_lines_command(10**9)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "cookcam-api:9" in rotated.stdout  # a log smaller than the offset was rotated
    gone = subprocess.run(
        ["sh", "-c", sigkill_lines_command(0)],
        env={**env, "PM2_HOME": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert gone.stdout == ""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_saved_list_leaves_the_host_through_the_same_whitelist(tmp_path: Path) -> None:
    release = tmp_path / "releases" / "20260101000000-abc"
    release.mkdir(parents=True)
    (tmp_path / "current").symlink_to(release)
    entry = {
        "name": "cookcam-api",
        "pm_cwd": str(tmp_path / "current"),
        "exec_mode": "cluster_mode",
        "kill_timeout": 10000,
        "env": {"JWT_SECRET": SENTINEL},
        "JWT_SECRET": SENTINEL,
        "pm_exec_path": str(tmp_path / "current/dist/index.js"),
        "status": "online",
    }
    (tmp_path / "dump.pm2").write_text(json.dumps([entry, entry], indent=2))
    env = {**os.environ, "PM2_HOME": str(tmp_path)}
    done = subprocess.run(
        ["sh", "-c", composite.pm2_saved()], env=env, capture_output=True, text=True, check=True
    )
    assert SENTINEL not in done.stdout
    found = procs(done.stdout)
    assert len(found) == 2 and found[0].pid is None
    assert found[0].cwd == str(release)  # where `pm2 resurrect` would start it, resolved now
    (tmp_path / "dump.pm2").unlink()
    none = subprocess.run(
        ["sh", "-c", composite.pm2_saved()], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(none.stdout) == {"error": f"no saved process list ({tmp_path}/dump.pm2)"}


def test_a_saved_list_that_would_bring_back_something_else_is_named() -> None:
    running = procs(jlist())
    assert compare_saved(procs(saved()), running, "cookcam-api").matches is True
    fewer = compare_saved(procs(saved(3)), running, "cookcam-api")
    assert fewer.matches is False and "instances 3 (runs 2)" in fewer.detail
    old = f"/srv/api/releases/20260101000000-{'a' * 10}"
    new = f"/srv/api/releases/20260202000000-{'b' * 10}"
    other = compare_saved(procs(saved(cwd=old)), procs(jlist(cwd=new)), "cookcam-api")
    assert other.matches is False
    assert f"20260101000000-{'a' * 10} (runs 20260202000000-{'b' * 10})" in other.detail
    missing = compare_saved("no saved process list", running, "cookcam-api")
    assert missing.matches is None and "a reboot starts nothing" in missing.detail
    stranger = compare_saved(procs(saved(name="other")), running, "cookcam-api")
    assert stranger.matches is False and "has no cookcam-api" in stranger.detail


UNIT = (
    "[Service]\nUser=deploy\nEnvironment=PM2_HOME=/home/deploy/.pm2\n"
    "PIDFile=/home/deploy/.pm2/pm2.pid\nExecStart=/usr/lib/node_modules/pm2/bin/pm2 "
    "resurrect\nExecStop=/usr/lib/node_modules/pm2/bin/pm2 kill\n"
)


def test_startup_units_are_found_by_what_they_run(tmp_path: Path) -> None:
    units = tmp_path / "system"
    units.mkdir()
    (units / "pm2-deploy.service").write_text(UNIT)
    (units / "nginx.service").write_text("[Service]\nExecStart=/usr/sbin/nginx\n")
    (units / "multi-user.target.wants").mkdir()
    home = tmp_path / "home" / ".pm2"
    home.mkdir(parents=True)
    done = subprocess.run(
        ["sh", "-c", startup_command((str(units),))],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PM2_HOME": str(home)},
    )
    found_home, found = parse_startup(done.stdout)
    assert found_home == str(home)
    assert [(u.path, u.home, u.enabled) for u in found] == [
        (str(units / "pm2-deploy.service"), "/home/deploy/.pm2", True)
    ]


@pytest.mark.parametrize(
    ("text", "status", "words"),
    [
        (
            "home|/home/deploy/.pm2\nunit|/etc/systemd/system/pm2-deploy.service|"
            "/home/deploy/.pm2|1",
            Status.PASS,
            "runs `pm2 resurrect` for /home/deploy/.pm2",
        ),
        (
            "home|/home/deploy/.pm2\nunit|/etc/systemd/system/pm2-deploy.service|"
            "/home/deploy/.pm2|0",
            Status.WARN,
            "not enabled (`systemctl enable pm2-deploy.service`)",
        ),
        (
            "home|/srv/pm2\nunit|/etc/systemd/system/pm2-root.service|/root/.pm2|1",
            Status.WARN,
            "resurrect(s) another home",
        ),
        ("home|/root/.pm2\nunit|crontab @reboot||1", Status.PASS, "crontab @reboot"),
        ("home|/root/.pm2", Status.WARN, "no PM2 startup unit: after a reboot"),
    ],
)
def test_startup_judgments(text: str, status: Status, words: str) -> None:
    check = judge_startup(text, "h")
    assert check.status is status and words in check.detail
    assert judge_startup(None, "h").status is Status.WARN


def settled(**parts: tuple[str, int]) -> str:
    base = {"kills": ("", 0), "save": ("saved", 0), "saved": (saved(), 0), "pm2": (jlist(), 0)}
    base.update(parts)
    return sections(**base)


def test_settling_warns_on_a_sigkill_and_fails_on_settings_not_applied() -> None:
    ok = parse_settled(settled(), "cookcam-api", RUNS).verdict()
    assert ok == ("ok", "saved for reboots (pm2 save: 2 worker(s))")
    killed = parse_settled(settled(kills=(PM2_LOG, 0)), "cookcam-api", RUNS).verdict()
    assert killed[0] == "warn"
    assert (
        "PM2 SIGKILLed 2 worker(s) mid-drain (worker 0 after 1000 ms, worker 4 after "
        "1600 ms)" in killed[1]
    )
    scaled = Pm2Settings("cluster", 3, 10000, True, 10000, SCRIPT, APP_DIR)
    left = parse_settled(settled(), "cookcam-api", scaled).verdict()
    assert left == (
        "failed",
        "PM2 still runs instances 2 -> 3 (runs -> file) after applying the ecosystem file",
    )
    unsaved = parse_settled(
        settled(save=("", 1), saved=(NO_SAVED, 0)), "cookcam-api", None
    ).verdict()
    assert unsaved[0] == "warn" and "`pm2 save` failed" in unsaved[1]
    stale = parse_settled(settled(saved=(saved(3), 0)), "cookcam-api", None).verdict()
    assert stale[0] == "warn" and "would bring back instances 3 (runs 2)" in stale[1]


def test_the_settle_script_reads_the_log_only_when_an_offset_is_known() -> None:
    assert "still alive after" in settle_script(120)
    assert "still alive after" not in settle_script(None)
    assert "pm2 save" in settle_script(None)


def test_waits_pair_with_sigkills_in_order() -> None:
    two = (
        "Process with pid 1 still alive after 1000ms, sending SIGKILL to 1 remaining pids\n"
        "Process with pid 2 still alive after 1200ms, sending SIGKILL to 1 remaining pids\n"
        "App [cookcam-api:5] exited with code [0] via signal [SIGKILL]\n"
        "App [cookcam-api:4] exited with code [0] via signal [SIGKILL]\n"
    )
    assert sigkills(two, "cookcam-api") == [Sigkill(5, 1000), Sigkill(4, 1200)]
