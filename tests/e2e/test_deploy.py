"""deploy, rollback and unlock end to end on the 2-host sandbox (real sshd, git, npm, PM2).

The tests run in order and share the sandbox: each one starts from a healthy fleet on one
release and leaves it that way; the module ends by deploying a `release`, so later modules find
the sandbox healthy. The CLI runs as a subprocess, as a user or CI runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from cookcam_ops.sandbox.procs import children_of
from cookcam_ops.sandbox.status import change_sandbox

if TYPE_CHECKING:
    from conftest import Sandbox

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
FAST_HEALTH_PLAYBOOK_RETRIES = 3


@dataclass
class Cli:
    """A finished CLI run."""

    code: int
    stdout: str
    stderr: str

    @property
    def doc(self) -> dict[str, Any]:
        doc = json.loads(self.stdout)
        assert isinstance(doc, dict)
        return doc


def cli_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    env.update(COOKCAM_OPS_CONFIG=str(config), NO_COLOR="1", COLUMNS="120")
    return env


def run_cli(config: Path, *args: str, timeout: float = 240) -> Cli:
    done = subprocess.run([sys.executable, "-m", "cookcam_ops", *args], cwd=ROOT,
                          env=cli_env(config), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    return Cli(done.returncode, done.stdout, done.stderr)


@dataclass
class LiveCli:
    """A CLI run in the background whose stderr lines can be waited on."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, config: Path, *args: str) -> LiveCli:
        proc = subprocess.Popen([sys.executable, "-m", "cookcam_ops", *args], cwd=ROOT,
                                env=cli_env(config), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        return cls(proc)

    def wait_line(self, prefix: str, timeout: float = 120) -> None:
        """Read stderr until a line starts with prefix (or fail at the deadline)."""
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        for line in self.proc.stderr:
            self.lines.append(line)
            if line.startswith(prefix):
                return
            assert time.monotonic() < deadline, f"no line {prefix!r} in time"
        raise AssertionError(f"exited without a line {prefix!r}:\n{''.join(self.lines[-20:])}")

    def finish(self, timeout: float = 180) -> Cli:
        out, err = self.proc.communicate(timeout=timeout)
        return Cli(self.proc.returncode, out, "".join(self.lines) + err)


def served(sb: Sandbox) -> dict[str, str]:
    """The commit each host's API reports on /health (what it really serves)."""
    out = {}
    for h in sb.state.hosts:
        r = httpx.get(f"{h.base_url}/health", timeout=5)
        assert r.status_code == 200, f"{h.name}: /health answered {r.status_code}"
        out[h.name] = r.json()["commit"]
    return out


def history(sb: Sandbox, host: str) -> list[dict[str, Any]]:
    path = sb.ops_dir(host) / "history.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def locks(sb: Sandbox) -> list[str]:
    return [h.name for h in sb.state.hosts if (sb.ops_dir(h.name) / "lock").exists()]


def ops_copy(sb: Sandbox, tmp: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the sandbox's ops.yaml (absolute paths), edited; the shared one is untouched."""
    doc = yaml.safe_load((sb.dir / "ops.yaml").read_text())
    doc["smoke"]["env_file"] = str(sb.dir / doc["smoke"]["env_file"])
    edit(doc)
    path = tmp / "ops.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def change(sb: Sandbox, kind: str) -> str:
    sha = change_sandbox(sb.dir, kind).sha
    sb.refresh()
    return sha


def assert_fleet_on(sb: Sandbox, sha: str) -> None:
    assert set(served(sb).values()) == {sha}
    assert locks(sb) == []


@pytest.fixture(scope="module")
def fleet(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox, left healthy on a fresh `release` when the module ends."""
    yield sandbox
    sha = change(sandbox, "release")
    done = run_cli(sandbox.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json")
    assert done.code == 0, done.stderr[-2000:]
    assert_fleet_on(sandbox, sha)


def deploy(sb: Sandbox, *args: str, config: Path | None = None) -> Cli:
    return run_cli(config or sb.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json", *args)


def test_injected_ref_is_refused_before_any_connection(fleet: Sandbox) -> None:
    marker = Path(f"/tmp/cookcam-ops-injected-{uuid.uuid4().hex}")
    x_existed = Path("/tmp/x").exists()
    before = {h.name: len(history(fleet, h.name)) for h in fleet.state.hosts}
    for ref in ("main;touch /tmp/x", f"main;touch {marker}", f"$(touch {marker})", "-bad"):
        done = deploy(fleet, "--ref", ref)
        assert done.code == 2, done.stderr
        assert "not a valid git ref name" in done.stderr
        assert "connecting" not in done.stderr
    assert not marker.exists()
    assert Path("/tmp/x").exists() == x_existed
    assert {h.name: len(history(fleet, h.name)) for h in fleet.state.hosts} == before


def test_deploy_release_to_both_hosts(fleet: Sandbox) -> None:
    old = set(served(fleet).values())
    sha = change(fleet, "release")
    started = time.monotonic()
    done = deploy(fleet)
    took = time.monotonic() - started
    assert done.code == 0, done.stderr[-3000:]
    doc = done.doc
    assert set(doc) == {"ok", "outcome", "target_sha", "hosts", "duration_s", "checks"}
    assert doc["ok"] is True and doc["outcome"] == "deployed" and doc["target_sha"] == sha
    for h in doc["hosts"]:
        assert set(h) == {"name", "from_sha", "to_sha", "outcome", "steps"}
        assert h["outcome"] == "deployed" and h["to_sha"] == sha and h["from_sha"] in old
        names = [s["name"] for s in h["steps"]]
        assert names[:2] == ["lock", "checklist"] and "switch" in names
        assert {s["status"] for s in h["steps"]} <= {"ok", "skipped"}
    assert_fleet_on(fleet, sha)
    for h in fleet.state.hosts:
        last = history(fleet, h.name)[-1]
        assert {"id", "time", "action", "user", "host", "from_sha", "to_sha", "outcome",
                "duration_s", "ref"} <= set(last)
        assert (last["action"], last["outcome"], last["to_sha"]) == ("deploy", "deployed", sha)
    for secret in fleet.secret_values():
        assert secret not in done.stdout and secret not in done.stderr
    print(f"\ndeploy of a release to 2 hosts: {took:.1f}s (CLI wall time)")


def test_rollback_returns_to_the_previous_release(fleet: Sandbox) -> None:
    current = set(served(fleet).values())
    assert len(current) == 1
    previous = history(fleet, "host1")[-1]["from_sha"]
    started = time.monotonic()
    done = run_cli(fleet.dir / "ops.yaml", "rollback", "sandbox", "--yes", "--json")
    took = time.monotonic() - started
    assert done.code == 0, done.stderr[-3000:]
    assert done.doc["outcome"] == "rolled_back" and done.doc["target_sha"] == previous
    assert "deployed by" in done.stderr
    assert_fleet_on(fleet, previous)
    for h in fleet.state.hosts:
        assert history(fleet, h.name)[-1]["action"] == "rollback"
    print(f"\nrollback of 2 hosts: {took:.1f}s (CLI wall time)")
    # forward again, so the next tests start from the newest release
    done = deploy(fleet)
    assert done.code == 0, done.stderr[-3000:]


@pytest.mark.parametrize(("kind", "failed_step"), [("broken-build", "build"),
                                                   ("crash-on-start", "test-build"),
                                                   ("broken-health", "test-build")])
def test_broken_release_stops_before_the_switch(fleet: Sandbox, kind: str,
                                                failed_step: str) -> None:
    before = served(fleet)
    change(fleet, kind)
    done = deploy(fleet)
    assert done.code == 1, done.stderr[-3000:]
    doc = done.doc
    assert doc["outcome"] == "failed" and doc["ok"] is False
    failed = [s for h in doc["hosts"] for s in h["steps"] if s["status"] == "failed"]
    assert [s["name"] for s in failed] == [failed_step]
    assert all(s["name"] != "switch" or s["status"] == "skipped"
               for h in doc["hosts"] for s in h["steps"])
    assert served(fleet) == before
    assert locks(fleet) == []


def test_failure_after_the_switch_rolls_the_fleet_back(fleet: Sandbox, tmp_path: Path) -> None:
    """broken-health past a playbook without test-build: health fails, every host goes back."""
    book = yaml.safe_load((ROOT / "playbooks" / "deploy.yaml").read_text())
    book["steps"] = [s for s in book["steps"] if s["name"] != "test-build"]
    for s in book["steps"]:
        if s["name"] == "health":
            s["retries"] = FAST_HEALTH_PLAYBOOK_RETRIES
    (tmp_path / "deploy.yaml").write_text(yaml.safe_dump(book, sort_keys=False))

    def edit(doc: dict[str, Any]) -> None:
        doc["playbooks"] = {"deploy": str(tmp_path / "deploy.yaml")}

    config = ops_copy(fleet, tmp_path, edit)
    before = served(fleet)
    (old,) = set(before.values())
    change(fleet, "broken-health")
    done = deploy(fleet, "--batch", "2", config=config)
    assert done.code == 1, done.stderr[-3000:]
    assert done.doc["outcome"] == "rolled_back"
    for h in done.doc["hosts"]:
        assert h["outcome"] == "rolled_back"
        assert any(s["name"] == "health" and s["status"] == "failed" for s in h["steps"])
        assert any(s["name"] == "rollback:health" and s["status"] == "ok" for s in h["steps"])
    assert_fleet_on(fleet, old)
    assert all(history(fleet, h.name)[-1]["outcome"] == "rolled_back" for h in fleet.state.hosts)


def test_crash_on_start_past_the_switch_is_rolled_back(fleet: Sandbox, tmp_path: Path) -> None:
    """crash-on-start with --no-auto-rollback off and test-build removed: PM2 check fails."""
    book = yaml.safe_load((ROOT / "playbooks" / "deploy.yaml").read_text())
    book["steps"] = [s for s in book["steps"] if s["name"] != "test-build"]
    (tmp_path / "deploy.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    config = ops_copy(fleet, tmp_path, lambda d: d.update(
        playbooks={"deploy": str(tmp_path / "deploy.yaml")}))
    (old,) = set(served(fleet).values())
    change(fleet, "crash-on-start")
    done = deploy(fleet, config=config)
    assert done.code == 1, done.stderr[-3000:]
    assert done.doc["outcome"] == "rolled_back"
    assert_fleet_on(fleet, old)


def test_a_concurrent_deploy_is_refused_with_5(fleet: Sandbox) -> None:
    sha = change(fleet, "release")
    first = LiveCli.start(fleet.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json")
    first.wait_line("host1: prepare")
    second = deploy(fleet)
    assert second.code == 5, second.stderr
    assert "deploy lock is held by" in second.stderr and "since" in second.stderr
    assert "unlock" in second.stderr
    done = first.finish()
    assert done.code == 0, done.stderr[-3000:]
    assert_fleet_on(fleet, sha)


def test_unlock_breaks_a_stale_lock(fleet: Sandbox) -> None:
    lock = fleet.ops_dir("host2") / "lock"
    lock.mkdir(parents=True)
    (lock / "info.json").write_text(json.dumps({"owner": "ghost", "host": "gone-box", "pid": 1,
                                                "command": "deploy", "time": "earlier"}))
    refused = deploy(fleet, "--dry-run")
    assert refused.code == 0  # a dry run takes no lock and reports it
    assert "ghost@gone-box" in json.dumps(refused.doc["checks"])
    done = run_cli(fleet.dir / "ops.yaml", "unlock", "sandbox", "--yes")
    assert done.code == 0, done.stderr
    assert "ghost@gone-box" in done.stderr + done.stdout
    assert locks(fleet) == []


def test_a_changed_host_key_is_refused_with_3(fleet: Sandbox, tmp_path: Path) -> None:
    lines = fleet.layout.known_hosts.read_text().splitlines()
    keys = [line.split(" ", 1) for line in lines]
    swapped = [f"{keys[0][0]} {keys[1][1]}", *lines[1:]]  # host1's entry holds host2's key
    known = tmp_path / "known_hosts"
    known.write_text("\n".join(swapped) + "\n")
    config = ops_copy(fleet, tmp_path, lambda d: d["environments"]["sandbox"]["ssh"].update(
        known_hosts=str(known)))
    before = {h.name: len(history(fleet, h.name)) for h in fleet.state.hosts}
    done = deploy(fleet, config=config)
    assert done.code == 3, done.stderr
    assert "HOST KEY CHANGED" in done.stderr and "SHA256:" in done.stderr
    assert "host1" in done.stderr
    assert {h.name: len(history(fleet, h.name)) for h in fleet.state.hosts} == before
    assert locks(fleet) == []


def test_an_unreachable_host_changes_nothing_anywhere(fleet: Sandbox, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]

    def edit(doc: dict[str, Any]) -> None:
        host = doc["environments"]["sandbox"]["hosts"][1]
        host["ssh"] = host["ssh"].rsplit(":", 1)[0] + f":{closed}"
        doc["environments"]["sandbox"]["ssh"]["connect_timeout"] = 3

    config = ops_copy(fleet, tmp_path, edit)
    before = served(fleet)
    count = len(history(fleet, "host1"))
    change(fleet, "release")
    done = deploy(fleet, config=config)
    assert done.code == 3, done.stderr
    assert "host2" in done.stderr and "nothing was changed" in done.stderr
    assert served(fleet) == before
    assert len(history(fleet, "host1")) == count
    assert locks(fleet) == []


def _kill_sessions(sshd_pid: int) -> list[int]:
    """SIGKILL the sshd processes serving host sessions (children of the host's listener)."""
    killed = []
    for pid in children_of(sshd_pid):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    return killed


def test_ssh_connection_killed_mid_deploy(fleet: Sandbox) -> None:
    (old,) = set(served(fleet).values())
    change(fleet, "release")
    run = LiveCli.start(fleet.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json",
                        "--batch", "1")
    run.wait_line("host2: build")
    sshd_pid = fleet.host("host2").sshd_pid
    assert sshd_pid is not None
    assert _kill_sessions(sshd_pid), "no ssh session to kill"
    done = run.finish()
    assert done.code == 1, done.stderr[-3000:]
    doc = done.doc
    assert doc["outcome"] == "rolled_back"
    outcomes = {h["name"]: h["outcome"] for h in doc["hosts"]}
    assert outcomes == {"host1": "rolled_back", "host2": "failed"}
    assert "connection lost" in json.dumps(doc)
    assert_fleet_on(fleet, old)


def test_ctrl_c_mid_deploy_puts_everything_back(fleet: Sandbox) -> None:
    (old,) = set(served(fleet).values())
    change(fleet, "release")
    run = LiveCli.start(fleet.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json",
                        "--batch", "1")
    run.wait_line("host2: build")
    run.proc.send_signal(signal.SIGINT)
    done = run.finish()
    assert done.code == 130, done.stderr[-3000:]
    assert done.doc["outcome"] == "rolled_back"
    assert "SIGINT: stopping at the next safe point" in done.stderr
    assert_fleet_on(fleet, old)


def test_a_second_ctrl_c_cuts_a_long_step_before_the_switch(fleet: Sandbox,
                                                            tmp_path: Path) -> None:
    """A slow build (say a long npm ci): the second Ctrl-C cuts it at once, nothing served
    changed, the remote process is stopped and the build dir removed."""
    book = yaml.safe_load((ROOT / "playbooks" / "deploy.yaml").read_text())
    for s in book["steps"]:
        if s["name"] == "build":
            s["run"] = "cd {build_path} && npm run build && sleep 300"
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    config = ops_copy(fleet, tmp_path, lambda d: d.update(
        playbooks={"deploy": str(tmp_path / "slow.yaml")}))
    before = served(fleet)
    change(fleet, "release")
    run = LiveCli.start(config, "deploy", "sandbox", "--yes", "--json", "--batch", "2")
    run.wait_line("host2: build")
    time.sleep(3)  # into the sleep
    run.proc.send_signal(signal.SIGINT)
    run.wait_line("SIGINT: stopping at the next safe point")
    cut_at = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    done = run.finish(timeout=120)
    assert done.code == 130, done.stderr[-3000:]
    assert time.monotonic() - cut_at < 60, "the second Ctrl-C did not cut the sleeping build"
    assert "SIGINT again: cutting" in done.stderr
    assert {h["outcome"] for h in done.doc["hosts"]} == {"failed"}
    assert served(fleet) == before and locks(fleet) == []
    for h in fleet.state.hosts:
        ops = fleet.ops_dir(h.name)
        assert not (ops / "build").exists() and not (ops / "step.pid").exists()
        left = fleet.ssh(h.name, "ps -eo args | grep -c '[s]leep 300' || true")
        assert left.stdout.strip() == "0", f"{h.name}: the cut step still runs"


@dataclass
class Load:
    """Keep-alive GETs against every host's /health from a few threads until stopped."""

    urls: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def worker(self, url: str) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    r = client.get(url)
                    good, why = r.status_code == 200, f"HTTP {r.status_code}"
                except httpx.HTTPError as e:
                    good, why = False, type(e).__name__
                with self.lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failures.append(f"{url}: {why}")
                time.sleep(0.01)


def test_steady_load_sees_no_failed_request_during_a_deploy(fleet: Sandbox) -> None:
    sha = change(fleet, "release")
    load = Load([f"{h.base_url}/health" for h in fleet.state.hosts])
    threads = [threading.Thread(target=load.worker, args=(url,), daemon=True)
               for url in load.urls for _ in range(2)]
    for t in threads:
        t.start()
    try:
        done = deploy(fleet)
    finally:
        load.stop.set()
        for t in threads:
            t.join(timeout=15)
    assert done.code == 0, done.stderr[-3000:]
    assert_fleet_on(fleet, sha)
    assert load.ok > 100
    assert load.failures == []


def test_a_hotfix_deploys_to_a_fleet_that_is_unhealthy_now(fleet: Sandbox,
                                                             tmp_path: Path) -> None:
    """On-call's case: the fleet answers 503; the checklist warns but the fix goes out."""
    book = yaml.safe_load((ROOT / "playbooks" / "deploy.yaml").read_text())
    book["steps"] = [s for s in book["steps"]
                     if s["name"] not in ("test-build", "health", "smoke")]
    (tmp_path / "careless.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    careless = ops_copy(fleet, tmp_path, lambda d: d.update(
        playbooks={"deploy": str(tmp_path / "careless.yaml")}))
    change(fleet, "broken-health")
    assert deploy(fleet, "--batch", "2", config=careless).code == 0
    assert {httpx.get(f"{h.base_url}/health", timeout=5).status_code
            for h in fleet.state.hosts} == {503}

    fix = change(fleet, "release")
    done = deploy(fleet, "--batch", "2")
    assert done.code == 0, done.stderr[-3000:]
    health = [c for c in done.doc["checks"] if c["name"] == "checklist:health"]
    assert health and all(c["status"] == "warn" and "503" in c["detail"] for c in health)
    assert_fleet_on(fleet, fix)
