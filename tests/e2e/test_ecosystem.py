"""The ecosystem file as deployed code, and reboot survival, on the shared sandbox.

A commit that changes ecosystem.config.js (instances, exec_mode, kill_timeout) is applied by its
deploy and undone by its rollback; a kill_timeout under the drain stops the deploy; a reload
that gets a worker SIGKILLed says so; after a deploy `pm2 kill` + `pm2 resurrect` (a reboot)
brings back the deployed release. The tests run in any order: each starts from a fleet healthy
on a `release` (`ready`: the shipped settings), deployed first only when the hosts are not so;
the `fleet` fixture ends the module on a fresh `release`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.helpers import (
    Cli,
    Load,
    assert_fleet_on,
    change,
    deploy,
    history,
    locks,
    ops_copy,
    playbook_without,
    ready,
    run_cli,
    served,
)

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e
APP = "cookcam-api"
SLOW_MS = 5000  # in-flight requests a worker must drain: longer than kill_timeout 1000
SLOW_CLIENTS = 6  # per host, started SLOW_MS / SLOW_CLIENTS apart: at any moment some request
# has most of its time still to run (clients started together would finish together, and a
# stop that came just before they did would drain in time)


def workers(sb: Sandbox, host: str) -> list[dict[str, Any]]:
    return [a for a in sb.pm2_apps(host) if a["name"] == APP]


def modes(sb: Sandbox) -> dict[str, tuple[str, int]]:
    """Each host's (exec_mode, number of workers) as PM2 runs the app."""
    out = {}
    for h in sb.state.hosts:
        mine = workers(sb, h.name)
        assert all(a["status"] == "online" for a in mine), mine
        out[h.name] = (str(mine[0]["exec_mode"]).removesuffix("_mode"), len(mine))
    return out


def pm2_of(run: Cli) -> dict[str, dict[str, Any]]:
    return {h["name"]: h["pm2"] for h in run.doc["hosts"]}


def step(run: Cli, host: str, name: str) -> dict[str, Any]:
    h = next(h for h in run.doc["hosts"] if h["name"] == host)
    return next(s for s in h["steps"] if s["name"] == name)


def wait_serving(sb: Sandbox, host: str, sha: str, timeout: float = 60.0) -> None:
    url = sb.host(host).base_url + "/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200 and r.json().get("commit") == sha:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{host} does not serve {sha[:10]} after {timeout:.0f}s")


@contextmanager
def slow_requests(sb: Sandbox) -> Iterator[Load]:
    """Requests that take SLOW_MS each, always in flight on every host, until the block ends."""
    load = Load([f"{h.base_url}/api/v1/slow?ms={SLOW_MS}" for h in sb.state.hosts])

    def client(url: str, delay: float) -> None:
        if not load.stop.wait(delay):
            load.worker(url)

    threads = [
        threading.Thread(target=client, args=(url, i * SLOW_MS / 1000 / SLOW_CLIENTS), daemon=True)
        for url in load.urls
        for i in range(SLOW_CLIENTS)
    ]
    for t in threads:
        t.start()
    time.sleep(SLOW_MS / 1000)
    try:
        yield load
    finally:
        load.stop.set()
        for t in threads:
            t.join(timeout=15)


def test_a_commit_that_scales_to_3_runs_3_workers_a_reboot_keeps_them_a_rollback_2(
    fleet: Sandbox,
) -> None:
    ready(fleet)
    assert set(modes(fleet).values()) == {("cluster", 2)}
    sha = change(fleet, "ecosystem-scale")
    done = deploy(fleet, "--batch", "2")
    assert done.code == 0, done.stderr[-3000:]
    assert done.doc["outcome"] == "deployed" and done.doc["warnings"] == []
    for name, plan in pm2_of(done).items():
        assert plan == {
            "apply": "scale",
            "changes": [{"setting": "instances", "from": 2, "to": 3}],
            "unknown": None,
        }, name
        assert "saved for reboots (pm2 save: 3 worker(s))" in step(done, name, "reload")["detail"]
    assert_fleet_on(fleet, sha)
    assert set(modes(fleet).values()) == {("cluster", 3)}
    status = run_cli(fleet.dir / "ops.yaml", "status", "sandbox", "--json")
    assert status.code == 0
    assert {h["name"]: h["saved"]["matches"] for h in status.doc["hosts"]} == {
        h.name: True for h in fleet.state.hosts
    }

    fleet.reboot("host1")  # pm2 kill + pm2 resurrect: what the boot unit does
    wait_serving(fleet, "host1", sha)
    assert modes(fleet)["host1"] == ("cluster", 3)

    back = run_cli(fleet.dir / "ops.yaml", "rollback", "sandbox", "--yes", "--json")
    assert back.code == 0, back.stderr[-3000:]
    assert {p["apply"] for p in pm2_of(back).values()} == {"scale"}
    assert set(modes(fleet).values()) == {("cluster", 2)}
    assert history(fleet, "host1")[-1]["action"] == "rollback"
    fleet.reboot("host2")  # the rollback saved its list too
    wait_serving(fleet, "host2", back.doc["target_sha"])
    assert modes(fleet)["host2"] == ("cluster", 2)


def test_ecosystem_fork_is_started_again_in_fork_mode_and_rolled_back_to_cluster(
    fleet: Sandbox,
) -> None:
    """Fork mode cannot share the port, so the switch is a stop-then-start: host by host (the
    other host serves), the gap reported; the human report names the change."""
    ready(fleet)
    sha = change(fleet, "ecosystem-fork")
    done = deploy(fleet)
    assert done.code == 0, done.stderr[-3000:]
    for name, plan in pm2_of(done).items():
        assert plan["apply"] == "restart"
        assert {c["setting"]: (c["from"], c["to"]) for c in plan["changes"]} == {
            "exec_mode": ("cluster", "fork"),
            "instances": (2, 1),
        }
        assert "new connections were refused for up to" in step(done, name, "reload")["detail"]
    assert_fleet_on(fleet, sha)
    assert set(modes(fleet).values()) == {("fork", 1)}
    back = run_cli(fleet.dir / "ops.yaml", "rollback", "sandbox", "--yes")
    assert back.code == 0, back.stderr[-3000:]
    said = " ".join(back.stderr.split())  # the preview names what changes, before the prompt
    assert "PM2 settings: exec_mode fork -> cluster, instances 1 -> 2" in said
    assert set(modes(fleet).values()) == {("cluster", 2)}
    assert locks(fleet) == []


def test_kill_timeout_short_is_a_checklist_fail_that_changes_nothing(fleet: Sandbox) -> None:
    ready(fleet)
    before = served(fleet)
    pids = {
        h.name: sorted(str(a["pid"]) for a in workers(fleet, h.name)) for h in fleet.state.hosts
    }
    records = {h.name: len(history(fleet, h.name)) for h in fleet.state.hosts}
    change(fleet, "kill-timeout-short")
    done = deploy(fleet)
    assert done.code == 1, done.stderr[-3000:]
    failed = [(c["host"], c["name"]) for c in done.doc["checks"] if c["status"] == "fail"]
    assert failed == [
        (h.name, "checklist:target-ecosystem-kill-timeout") for h in fleet.state.hosts
    ]
    detail = next(c["detail"] for c in done.doc["checks"] if c["status"] == "fail")
    assert "kill_timeout 1000 ms is not above the app's 8000 ms drain deadline" in detail
    assert all(s["name"] in ("lock", "checklist") for h in done.doc["hosts"] for s in h["steps"])
    assert served(fleet) == before and locks(fleet) == []
    assert {
        h.name: sorted(str(a["pid"]) for a in workers(fleet, h.name)) for h in fleet.state.hosts
    } == pids
    assert {h.name: len(history(fleet, h.name)) for h in fleet.state.hosts} == records


def careless(sb: Sandbox, tmp_path: Path) -> Path:
    """An ops.yaml whose deploy playbook skips the checklist (an operator in a hurry)."""
    book = playbook_without(tmp_path, ("checklist",))
    return ops_copy(sb, tmp_path, lambda d: d.update(playbooks={"deploy": str(book)}))


def test_a_reload_that_gets_workers_sigkilled_is_reported(fleet: Sandbox, tmp_path: Path) -> None:
    """A careless deploy puts kill_timeout 1000 on the hosts; the next reload under 5 s
    requests SIGKILLs the draining workers (PM2's log says so): DEPLOYED with a warning, never
    a silent success. Then the fix, deployed under the same load, replaces the short-fused
    workers: that handover's SIGKILLs are reported too, in the JSON."""
    ready(fleet)
    config = careless(fleet, tmp_path)
    change(fleet, "kill-timeout-short")
    first = deploy(fleet, "--batch", "2", config=config)
    assert first.code == 0, first.stderr[-3000:]
    assert {p["apply"] for p in pm2_of(first).values()} == {"handover"}
    assert first.doc["warnings"] == []  # the old workers had kill_timeout 10000: no SIGKILL
    for h in fleet.state.hosts:
        assert "kill_timeout: 1000," in (Path(h.app_path) / "ecosystem.config.js").read_text()

    change(fleet, "kill-timeout-short")  # the same file in a new commit: a plain pm2 reload
    with slow_requests(fleet) as load:
        again = run_cli(config, "deploy", "sandbox", "--yes", "--batch", "2")
    assert again.code == 0, again.stderr[-3000:]
    verdict = again.stdout.strip().splitlines()[-1]
    assert verdict.startswith("DEPLOYED") and "2 warning(s)" in verdict, verdict
    progress = " ".join(again.stderr.split())
    for host in ("host1", "host2"):
        assert f"{host}: reload warn" in progress
    assert progress.count("PM2 SIGKILLed") == 2 and "PM2 settings:" not in progress
    assert load.failures, "the SIGKILLs cut no request: nothing was draining"

    sha = change(fleet, "release")
    with slow_requests(fleet) as load:
        fix = deploy(fleet, "--batch", "2")
    assert fix.code == 0, fix.stderr[-3000:]
    assert fix.doc["outcome"] == "deployed" and fix.doc["ok"] is True
    assert {p["apply"] for p in pm2_of(fix).values()} == {"handover"}
    warned = {w["host"]: w for w in fix.doc["warnings"]}
    assert set(warned) == {"host1", "host2"}, fix.doc["warnings"]
    for w in warned.values():
        assert w["step"] == "reload" and "PM2 SIGKILLed" in w["detail"]
        assert "after 1000 ms" in w["detail"]
    assert load.failures, "the SIGKILLs cut no request: nothing was draining"
    gate = {(c.get("host"), c["name"]): c for c in fix.doc["checks"]}
    runtime = gate[("host1", "checklist:ecosystem-runtime")]
    assert runtime["status"] == "warn" and "kill_timeout 1000 ms" in runtime["detail"]
    assert gate[("host1", "checklist:ecosystem-kill-timeout")]["status"] == "warn"
    assert gate[("host1", "checklist:target-ecosystem-kill-timeout")]["status"] == "pass"
    assert_fleet_on(fleet, sha)


def test_a_drift_by_hand_shows_in_status_and_checklist_and_the_next_deploy_ends_it(
    fleet: Sandbox,
) -> None:
    ready(fleet)
    scaled = fleet.ssh("host1", f"pm2 scale {APP} 3 >/dev/null")
    assert scaled.returncode == 0
    status = run_cli(fleet.dir / "ops.yaml", "status", "sandbox")
    assert status.code == 0
    text = " ".join(status.stdout.split())
    assert (
        "host1: saved-list: a reboot (`pm2 resurrect`) would bring back instances 2 "
        "(runs 3)" in text
    )
    checklist = run_cli(fleet.dir / "ops.yaml", "checklist", "sandbox", "--json")
    items = {(c.get("host"), c["name"]): c for c in checklist.doc["checks"]}
    assert items[("host1", "pm2-saved")]["status"] == "warn"
    assert "instances 3 -> 2" in items[("host1", "ecosystem-runtime")]["detail"]
    assert items[("host2", "pm2-saved")]["status"] == "pass"
    for h in fleet.state.hosts:
        startup = items[(h.name, "pm2-startup")]
        assert startup["status"] == "warn" and "no PM2 startup unit" in startup["detail"]
    sha = change(fleet, "release")
    done = deploy(fleet, "--batch", "2")
    assert done.code == 0, done.stderr[-3000:]
    assert pm2_of(done)["host1"]["apply"] == "scale"
    assert pm2_of(done)["host2"]["apply"] == "none"
    assert_fleet_on(fleet, sha)
    assert set(modes(fleet).values()) == {("cluster", 2)}
    after = run_cli(fleet.dir / "ops.yaml", "status", "sandbox", "--json")
    assert all(h["saved"]["matches"] for h in after.doc["hosts"]), json.dumps(after.doc)
