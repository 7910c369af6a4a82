"""Canary deploys and `watch` end to end on the session's 2-host sandbox (sshd, git, npm, PM2).

host1 is the canary, host2 the baseline. Releases that break about 30 s after their workers
start pass the build test, health and the smoke right after the switch, and are caught by the
bake and put back with only the canary ever switched: host2's commit, workers and audit log do
not change, and steady load on host2 sees no failed request. A clean release bakes and goes on
to host2. The tests run in any order, each from a healthy fleet on one release (`ready`); the
module leaves the fleet so.
"""

from __future__ import annotations

import json
import signal
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.helpers import (
    Cli,
    LiveCli,
    assert_no_secrets,
    change,
    history,
    locks,
    no_failures,
    ready,
    run_cli,
    served,
    steady_load,
)

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e
METRICS = {
    "socket-auth-success",
    "socket-auth-p95-ms",
    "health-success",
    "health-p95-ms",
    "http-5xx",
    "pm2-restarts",
    "workers-not-online",
    "memory-growth-mb",
    "error-log-lines-per-min",
}


@dataclass(frozen=True)
class HostSnapshot:
    """What would show that a host was switched, reloaded or recorded."""

    commit: str
    history: bytes
    workers: list[tuple[object, object, object]]


def snapshot(sb: Sandbox, host: str) -> HostSnapshot:
    log = sb.ops_dir(host) / "history.jsonl"
    workers = sorted(
        (a["pm_id"], a["pid"], a["restart_time"])
        for a in sb.pm2_apps(host)
        if a["name"] == "cookcam-api"
    )
    return HostSnapshot(served(sb)[host], log.read_bytes() if log.exists() else b"", workers)


@pytest.fixture(scope="module")
def fleet(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox; left on one healthy release whatever the tests did."""
    yield sandbox
    if len(set(served(sandbox).values())) != 1 or locks(sandbox):
        change(sandbox, "release")
        done = canary_deploy(sandbox)
        assert done.code == 0, done.stderr[-2000:]


def canary_deploy(sb: Sandbox, *args: str) -> Cli:
    return run_cli(sb.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json", *args, timeout=300)


def failed_metrics(doc: dict[str, Any]) -> set[str]:
    return {m["name"] for m in doc["canary"]["metrics"] if m["status"] == "fail"}


def assert_caught_late(sb: Sandbox, kind: str, metric: str) -> None:
    """Deploy `kind` with a 60 s bake under load on host2: the bake names `metric`, the
    canary goes back, host2 is never touched."""
    ready(sb)
    (old,) = set(served(sb).values())
    before = snapshot(sb, "host2")
    sha = change(sb, kind)
    with steady_load(sb, concurrency=2, hosts=["host2"]) as load:
        done = canary_deploy(sb, "--canary", "--bake", "60")
    assert done.code == 1, done.stderr[-3000:]
    doc = done.doc
    assert doc["outcome"] == "rolled_back" and doc["target_sha"] == sha
    assert {h["name"]: h["outcome"] for h in doc["hosts"]} == {
        "host1": "rolled_back",
        "host2": "skipped",
    }
    steps = {s["name"]: s["status"] for s in doc["hosts"][0]["steps"]}
    for gate in ("test-build", "reload", "health", "smoke", "rollback:health"):
        assert steps[gate] == "ok", f"{gate}: {steps[gate]}"  # the immediate gates passed
    canary = doc["canary"]
    assert canary["verdict"] == "rolled_back" and canary["hosts"] == ["host1"]
    assert canary["baseline_hosts"] == ["host2"] and canary["elapsed_s"] < 60
    assert metric in failed_metrics(doc), canary["detail"]
    assert f"{metric}: canary " in canary["detail"] and ", baseline " in canary["detail"]
    assert any(c["name"] == f"canary:{metric}" and c["status"] == "fail" for c in doc["checks"])
    assert served(sb) == {"host1": old, "host2": old} and locks(sb) == []
    assert snapshot(sb, "host2") == before, "the baseline host changed"
    records = history(sb, "host1")[-3:]
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("deploy", "deployed"),
        ("canary", "rolled_back"),
        ("rollback", "rolled_back"),
    ]
    assert metric in records[1]["detail"]
    no_failures(load, hosts=1)
    assert_no_secrets(sb, done.stdout, done.stderr)
    print(
        f"\n{kind}: caught on {metric} after {canary['elapsed_s']}s of the bake; "
        f"host2 answered {load[0].ok_2xx} requests, {load[0].failed} failed"
    )


def test_late_crash_is_put_back_on_the_canary_only(fleet: Sandbox) -> None:
    assert_caught_late(fleet, "late-crash", "pm2-restarts")


def test_late_auth_failure_is_put_back_on_the_canary_only(fleet: Sandbox) -> None:
    assert_caught_late(fleet, "late-auth-failure", "socket-auth-success")


def test_ctrl_c_during_the_bake_puts_the_canary_back(fleet: Sandbox) -> None:
    ready(fleet)
    (old,) = set(served(fleet).values())
    before = snapshot(fleet, "host2")
    change(fleet, "release")
    run = LiveCli.start(
        fleet.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json", "--canary", "--bake", "60"
    )
    run.wait_line("canary bake: 0s of 60s")
    run.proc.send_signal(signal.SIGINT)
    done = run.finish()
    assert done.code == 130, done.stderr[-3000:]
    assert done.doc["canary"]["verdict"] == "interrupted"
    assert done.doc["outcome"] == "rolled_back"
    assert served(fleet) == {"host1": old, "host2": old} and locks(fleet) == []
    assert snapshot(fleet, "host2") == before
    assert history(fleet, "host1")[-2]["outcome"] == "interrupted"


def test_a_release_bakes_and_goes_on_to_every_host(fleet: Sandbox, tmp_path: Path) -> None:
    ready(fleet)
    sha = change(fleet, "release")
    junit = tmp_path / "deploy.xml"
    with steady_load(fleet, concurrency=2, hosts=["host2"]) as load:
        done = canary_deploy(fleet, "--canary", "--bake", "30", "--junit", str(junit))
    assert done.code == 0, done.stderr[-3000:]
    doc = done.doc
    assert doc["outcome"] == "deployed"
    assert {h["name"]: h["outcome"] for h in doc["hosts"]} == {
        "host1": "deployed",
        "host2": "deployed",
    }
    canary = doc["canary"]
    assert (canary["verdict"], canary["hosts"], canary["bake_s"]) == ("promoted", ["host1"], 30)
    assert canary["samples"] >= 6 and canary["elapsed_s"] >= 30
    assert {m["name"] for m in canary["metrics"]} == METRICS
    for m in canary["metrics"]:
        assert {"name", "canary", "baseline", "rule", "status"} <= set(m)
        assert m["status"] == "pass", m
    assert set(served(fleet).values()) == {sha} and locks(fleet) == []
    assert history(fleet, "host1")[-1]["action"] == "canary"
    assert history(fleet, "host1")[-1]["outcome"] == "promoted"
    cases = ET.parse(junit).getroot().iter("testcase")
    assert {c.get("name") for c in cases} >= {f"canary:{m}" for m in METRICS}
    no_failures(load, hosts=1)  # host2 served throughout, its own reload included
    print(
        f"\nrelease promoted after a 30 s bake: host2 answered {load[0].ok_2xx} requests, "
        f"{load[0].failed} failed"
    )


def test_watch_samples_every_host_without_changing_them(fleet: Sandbox, tmp_path: Path) -> None:
    ready(fleet)
    before = {h.name: snapshot(fleet, h.name) for h in fleet.state.hosts}
    junit = tmp_path / "watch.xml"
    done = run_cli(
        fleet.dir / "ops.yaml",
        "watch",
        "sandbox",
        "--duration",
        "6",
        "--json",
        "--junit",
        str(junit),
    )
    assert done.code == 0, done.stderr[-3000:]
    doc = done.doc
    checks = {(c["host"], c["name"]): c["status"] for c in doc["checks"]}
    assert set(checks) == {(h, m) for h in ("host1", "host2") for m in METRICS}
    assert set(checks.values()) == {"pass"}
    assert doc["watch"]["hosts"]["host1"]["socket-auth-success"] == 100
    assert len(list(ET.parse(junit).getroot().iter("testcase"))) == 18
    assert {h.name: snapshot(fleet, h.name) for h in fleet.state.hosts} == before
    assert json.dumps(doc).count("pm2_env") == 0
