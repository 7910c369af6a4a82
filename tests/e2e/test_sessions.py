"""One SSH session per host per run, counted for real: every session that starts the host's
login shell runs its ~/.bashrc (bash does so for `ssh host cmd`), which here counts itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cookcam_ops.hostside import script
from cookcam_ops.remote.protocol import q
from tests.e2e.helpers import (
    assert_fleet_on,
    assert_no_secrets,
    change,
    deploy,
    history,
    ready,
    run_cli,
    served,
)

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e
COUNTER = "rc-runs"


@contextmanager
def counted(sb: Sandbox) -> Iterator[dict[str, int]]:
    """While the block runs, each host's ~/.bashrc counts its runs; the counts when it ends."""
    homes = {h.name: Path(h.home) for h in sb.state.hosts}
    saved = {name: (home / ".bashrc").read_text(encoding="utf-8") for name, home in homes.items()}
    for name, home in homes.items():
        (home / COUNTER).unlink(missing_ok=True)
        (home / ".bashrc").write_text(
            f'echo x >> "$HOME/{COUNTER}"\n' + saved[name], encoding="utf-8"
        )
    counts: dict[str, int] = {}
    try:
        yield counts
    finally:
        for name, home in homes.items():
            (home / ".bashrc").write_text(saved[name], encoding="utf-8")
            counter = home / COUNTER
            counts[name] = len(counter.read_text().splitlines()) if counter.exists() else 0
            counter.unlink(missing_ok=True)


def test_a_deploy_and_its_rollback_open_one_session_per_host(fleet: Sandbox) -> None:
    ready(fleet)
    old = set(served(fleet).values())
    sha = change(fleet, "release")
    with counted(fleet) as deploy_sessions:
        done = deploy(fleet, "-v")
    assert done.code == 0, done.stderr[-3000:]
    assert deploy_sessions == {"host1": 1, "host2": 1}
    assert_fleet_on(fleet, sha)
    assert_no_secrets(fleet, done.stdout, done.stderr)
    with counted(fleet) as rollback_sessions:
        back = run_cli(fleet.dir / "ops.yaml", "rollback", "sandbox", "--yes", "--json")
    assert back.code == 0, back.stderr[-3000:]
    assert rollback_sessions == {"host1": 1, "host2": 1}
    assert set(served(fleet).values()) == old
    assert history(fleet, "host1")[-1]["action"] == "rollback"


@pytest.mark.parametrize("command", [("status",), ("checklist",), ("history",), ("env", "check")])
def test_read_only_commands_open_one_session_per_host(
    fleet: Sandbox, command: tuple[str, ...]
) -> None:
    with counted(fleet) as sessions:
        done = run_cli(fleet.dir / "ops.yaml", *command, "sandbox", "--json")
    assert done.code == 0, done.stderr[-3000:]
    assert sessions == {"host1": 1, "host2": 1}
    assert_no_secrets(fleet, done.stdout, done.stderr)


def test_pm2s_list_is_asked_of_the_daemon_as_pm2_jlist_gives_it(fleet: Sandbox) -> None:
    """hostside/pm2_list.js (no pm2 CLI start) answers what `pm2 jlist` prints; where it
    cannot, it prints nothing and fails, so `pm2 jlist` runs instead."""
    listed = fleet.ssh("host1", f"node -e {q(script('pm2_list.js'))}")
    assert listed.returncode == 0, listed.stderr
    ours = {(p["name"], p["pid"]) for p in json.loads(listed.stdout)}
    assert ours == {(str(p["name"]), p["pid"]) for p in fleet.pm2_apps("host1")}
    elsewhere = fleet.ssh(
        "host1", f"PATH=/usr/bin:/bin node -e {q(script('pm2_list.js'))} || echo fell back"
    )
    assert elsewhere.stdout.strip() == "fell back"  # and printed nothing before failing
