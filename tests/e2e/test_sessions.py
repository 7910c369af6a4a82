"""One SSH session per host per run, counted for real: every session that starts the host's
login shell runs its ~/.bashrc (bash does so for `ssh host cmd`), which here counts itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

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
REQUESTS = "agent-requests"
END = "@@end of request@@"


@contextmanager
def bashrc_first(sb: Sandbox, line: str) -> Iterator[dict[str, Path]]:
    """While the block runs, each host's ~/.bashrc starts with line (restored however the
    block ends); the hosts' homes by name."""
    homes = {h.name: Path(h.home) for h in sb.state.hosts}
    saved = {name: (home / ".bashrc").read_text(encoding="utf-8") for name, home in homes.items()}
    for name, home in homes.items():
        (home / ".bashrc").write_text(f"{line}\n{saved[name]}", encoding="utf-8")
    try:
        yield homes
    finally:
        for name, home in homes.items():
            (home / ".bashrc").write_text(saved[name], encoding="utf-8")


@contextmanager
def counted(sb: Sandbox) -> Iterator[dict[str, int]]:
    """While the block runs, each host's ~/.bashrc counts its runs; the counts when it ends."""
    for h in sb.state.hosts:
        (Path(h.home) / COUNTER).unlink(missing_ok=True)
    counts: dict[str, int] = {}
    with bashrc_first(sb, f'echo x >> "$HOME/{COUNTER}"') as homes:
        yield counts
    for name, home in homes.items():
        counter = home / COUNTER
        counts[name] = len(counter.read_text().splitlines()) if counter.exists() else 0
        counter.unlink(missing_ok=True)


@contextmanager
def requests_run(sb: Sandbox) -> Iterator[dict[str, list[str]]]:
    """While the block runs, each host logs every command its session's agent runs: ~/.bashrc
    (run once per session, by the launcher) exports BASH_ENV, which each non-interactive bash
    the agent starts for a request sources first; it logs that bash's command and unsets
    BASH_ENV, so what the command itself starts is not counted. The commands by host."""
    for h in sb.state.hosts:
        home = Path(h.home)
        (home / REQUESTS).unlink(missing_ok=True)
        (home / "log-request.sh").write_text(
            f'printf \'%s\\n%s\\n\' "$BASH_EXECUTION_STRING" {q(END)} >> "$HOME/{REQUESTS}"\n'
            "unset BASH_ENV\n",
            encoding="utf-8",
        )
    ran: dict[str, list[str]] = {}
    with bashrc_first(sb, 'export BASH_ENV="$HOME/log-request.sh"') as homes:
        yield ran
    for name, home in homes.items():
        log = home / REQUESTS
        text = log.read_text(encoding="utf-8") if log.exists() else ""
        ran[name] = [c.strip("\n") for c in text.split(END + "\n") if c.strip()]
        log.unlink(missing_ok=True)
        (home / "log-request.sh").unlink(missing_ok=True)


def test_a_deploys_first_and_last_round_trips_each_do_the_work_of_three(fleet: Sandbox) -> None:
    """Lock, facts and the checklist's server half in one request to each host (the lock
    leader first takes its lock alone: no other host is tried before it is held; its facts
    then go beside the others' requests); the last batch's audit records and the locks'
    release in their last (an earlier batch's host records at once: a later batch may still
    fail and put it back). Counted on the hosts."""
    # The leader is first in lock_order: every host is 127.0.0.1, so the lowest SSH port (the
    # sandbox's ports are the kernel's pick, so it is host1 or host2); batches follow ops.yaml.
    leader = min(fleet.state.hosts, key=lambda h: h.ssh_port).name
    sha = change(fleet, "release")
    with requests_run(fleet) as ran:
        done = deploy(fleet, "--batch", "1")
    assert done.code == 0, done.stderr[-3000:]
    assert_fleet_on(fleet, sha)
    run_id = history(fleet, "host1")[-1]["id"]
    opens = {host: 2 if host == leader else 1 for host in ran}
    for host, commands in ran.items():
        opening = commands[: opens[host]]
        *_, first = opening
        assert "lock_acquire.sh" in opening[0], host
        for section in ("git", "fetch", "target", "pm2", "node", "npm", "health", "pm2-saved"):
            assert f"@@cookcam-ops begin {section}@@" in first, (host, section)
        assert first.count("@@cookcam-ops begin pm2@@") == 1  # facts and checklist share it
        steps, last = commands[len(opening) : -1], commands[-1]
        assert steps, "the steps ran on the same session"
        assert not [c for c in steps if "lock_acquire.sh" in c or "begin fetch@@" in c]
        assert run_id in last and "/lock" in last and "lock_acquire.sh" not in last, host
    assert "@@cookcam-ops begin" not in ran[leader][0]  # the leader's lock, alone
    # host1, the first batch, recorded in a step; host2, the last, with its release
    assert [c for c in ran["host1"][opens["host1"] : -1] if "history.jsonl" in c] != []
    assert "history.jsonl" not in ran["host1"][-1]
    assert [c for c in ran["host2"][opens["host2"] : -1] if "history.jsonl" in c] == []
    assert "history.jsonl" in ran["host2"][-1]
    assert [r["to_sha"] for r in (history(fleet, h)[-1] for h in ("host1", "host2"))] == [sha] * 2
    assert_no_secrets(fleet, done.stdout, done.stderr)


def test_a_lone_hosts_deploy_takes_its_lock_and_facts_in_one_request(fleet: Sandbox) -> None:
    """With no other host to order against, the lock leader's facts and checklist ride in its
    lock's request, and its record in the release's: two requests around the steps."""
    sha = change(fleet, "release")
    solo = fleet.dir / "ops-solo.yaml"
    doc = yaml.safe_load((fleet.dir / "ops.yaml").read_text(encoding="utf-8"))
    hosts = doc["environments"]["sandbox"]["hosts"]
    doc["environments"]["sandbox"]["hosts"] = hosts[:1]
    solo.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with requests_run(fleet) as ran:
        done = deploy(fleet, config=solo)
    assert done.code == 0, done.stderr[-3000:]
    first, last = ran["host1"][0], ran["host1"][-1]
    assert "lock_acquire.sh" in first and "@@cookcam-ops begin fetch@@" in first
    assert "history.jsonl" in last and "/lock" in last
    assert not [c for c in ran["host1"][1:-1] if "history.jsonl" in c or "lock_acquire" in c]
    assert ran["host2"] == []
    assert history(fleet, "host1")[-1]["to_sha"] == sha
    done = deploy(fleet)  # the whole fleet on one release again, for the next tests
    assert done.code == 0, done.stderr[-3000:]


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
