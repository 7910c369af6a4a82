"""The sandbox end to end: real sshd, git, npm, PM2, the API and the auth stub on loopback."""

from __future__ import annotations

import json
import shlex
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from typer.testing import CliRunner

from cookcam_ops.cli.main import app
from cookcam_ops.config import load_config
from cookcam_ops.errors import SandboxError
from cookcam_ops.sandbox import pm2, procs
from cookcam_ops.sandbox.layout import HostState
from cookcam_ops.sandbox.manager import start_sandbox, stop_sandbox
from cookcam_ops.sandbox.status import change_sandbox, inspect_sandbox
from tests.documents import valid_document
from tests.e2e.helpers import run_cli

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e

SOCKET_PROBE = r"""
const { io } = require('socket.io-client');
const socket = io(process.env.PROBE_URL, {
  auth: { token: process.env.PROBE_TOKEN }, transports: ['websocket'],
  reconnection: false, timeout: 10000,
});
const done = (result) => { console.log(JSON.stringify(result)); socket.close(); process.exit(0); };
socket.on('connected', (data) => done({ event: 'connected', userId: data.userId }));
socket.on('connect_error', (err) => done({ event: 'connect_error', message: err.message }));
setTimeout(() => done({ event: 'timeout' }), 15000);
"""
NODE_MODULES = Path(__file__).resolve().parents[1] / "node" / "node_modules"
# The first of the API's four shutdown lines. Under PM2 cluster mode it is the only one that
# reliably reaches PM2's log: the old worker disconnects from the daemon while shutting down,
# and its later lines are dropped (PM2 logs "exited with code [0] via signal [SIGINT]").
GRACEFUL_START = "SIGINT received, starting graceful shutdown..."


def wait_for(
    condition: Callable[[], object], timeout: float, what: str, interval: float = 0.25
) -> None:
    """Poll until condition() is truthy, else fail naming what was awaited."""
    if not procs.wait_until(lambda: bool(condition()), timeout, interval):
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def health(url: str) -> int | None:
    try:
        return httpx.get(url + "/health", timeout=3).status_code
    except httpx.HTTPError:
        return None


def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1", "COOKCAM_OPS_CONFIG": None})


# --- status, config, files ----------------------------------------------------------------------


def test_status_json_all_up(sandbox: Sandbox) -> None:
    result = runner().invoke(app, ["sandbox", "status", "--dir", str(sandbox.dir), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = valid_document(result.stdout, "sandbox status")
    assert doc["ok"] is True and doc["auth_up"] is True
    assert doc["dir"] == str(sandbox.dir)
    assert doc["auth_url"] == sandbox.state.auth.url
    assert doc["origin"] == str(sandbox.layout.origin)
    tree = subprocess.run(
        ["git", "-C", doc["origin"], "ls-tree", "--name-only", "-r", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert {
        "README.md",
        "frontend/README.md",
        "backend/api/package-lock.json",
        "backend/api/ecosystem.config.js",
    } <= set(tree)
    assert [h["name"] for h in doc["hosts"]] == ["host1", "host2"]
    for h in doc["hosts"]:
        assert {
            "name",
            "ssh_port",
            "app_port",
            "base_url",
            "app_path",
            "sshd_up",
            "app_up",
            "pm2_up",
        } <= set(h)
        assert h["sshd_up"] and h["app_up"] and h["pm2_up"]
        assert h["base_url"] == f"http://127.0.0.1:{h['app_port']}"


def test_status_table_and_missing_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    table = runner().invoke(app, ["sandbox", "status", "--dir", str(sandbox.dir)])
    assert table.exit_code == 0, table.stderr
    assert "host1" in table.stdout and "host2" in table.stdout and "OK" in table.stdout
    missing = runner().invoke(app, ["sandbox", "status", "--dir", str(tmp_path)])
    assert missing.exit_code == 2
    assert missing.stdout == ""
    assert "no sandbox" in missing.stderr


def test_ops_yaml_loads_and_matches_state(sandbox: Sandbox) -> None:
    loaded = load_config(sandbox.dir / "ops.yaml")
    env = loaded.environment("sandbox")
    assert [h.name for h in env.hosts] == ["host1", "host2"]
    for host, state in zip(env.hosts, sandbox.state.hosts, strict=True):
        assert (host.hostname, host.ssh_port, host.port) == (
            "127.0.0.1",
            state.ssh_port,
            state.app_port,
        )
        assert host.app_path == state.app_path and host.base_url == state.base_url
        assert Path(state.checkout, ".git").is_dir()
        assert Path(host.app_path) == Path(state.checkout) / "backend" / "api"
    assert env.ssh.identity_file and Path(env.ssh.identity_file).is_file()
    assert env.ssh.known_hosts and Path(env.ssh.known_hosts).is_file()
    assert env.batch_size == 1
    dsn_project = {
        line.split("/")[-1]
        for h in sandbox.state.hosts
        for line in (Path(h.app_path) / ".env").read_text().splitlines()
        if line.startswith("SENTRY_DSN=")
    }
    assert dsn_project == {env.sentry_project_id}
    assert loaded.config.smoke.duplicate_probe is not None
    assert loaded.resolve(loaded.config.smoke.env_file or "") == sandbox.layout.smoke_env


def test_secret_files_are_private(sandbox: Sandbox) -> None:
    paths = [sandbox.layout.smoke_env, Path(sandbox.state.auth.config)]
    paths += [Path(h.app_path) / ".env" for h in sandbox.state.hosts]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert set(sandbox.smoke_env()) == {
        "COOKCAM_SMOKE_EMAIL",
        "COOKCAM_SMOKE_PASSWORD",
        "SUPABASE_URL",
        "SUPABASE_ANON_KEY",
    }


def test_no_secret_in_any_output(sandbox: Sandbox) -> None:
    secrets = sandbox.secret_values()
    assert len(secrets) >= 8
    outputs = {"progress": "\n".join(sandbox.progress)}
    for args in (["--json"], []):
        result = runner().invoke(app, ["sandbox", "status", "--dir", str(sandbox.dir), *args])
        outputs[f"status {args}"] = result.stdout + result.stderr
    logs = [
        sandbox.layout.state,
        sandbox.layout.ops_yaml,
        sandbox.layout.setup_log,
        Path(sandbox.state.auth.log),
    ]
    for h in sandbox.state.hosts:
        logs += [Path(h.setup_log), Path(h.sshd_log), Path(h.sshd_config)]
        logs += sorted((Path(h.pm2_home) / "logs").glob("*.log"))
    for path in logs:
        outputs[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    leaks = [name for name, text in outputs.items() for s in secrets if s in text]
    assert leaks == []


# --- the hosts over HTTP, SSH and Socket.IO -----------------------------------------------------


def test_health_200_on_every_host(sandbox: Sandbox) -> None:
    for host in sandbox.config.environment("sandbox").hosts:
        response = httpx.get(f"{host.base_url}/health", timeout=5)
        assert response.status_code == 200, host.name
        assert response.json()["status"] == "ok"


def test_ssh_pm2_jlist_shows_two_online_cluster_workers(sandbox: Sandbox) -> None:
    for h in sandbox.state.hosts:
        apps = sandbox.pm2_apps(h.name)
        assert len(apps) == 2, h.name
        for a in apps:
            assert a["name"] == "cookcam-api"
            assert a["status"] == "online" and a["exec_mode"] == "cluster_mode"
            assert a["pm_cwd"] == h.app_path


def test_ssh_is_strict_about_host_keys(sandbox: Sandbox, tmp_path: Path) -> None:
    h = sandbox.state.hosts[0]
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    strict = sandbox.client.__class__(sandbox.state.user, sandbox.layout.client_key, empty)
    refused = strict.run(h.ssh_port, "true", timeout=30)
    assert refused.returncode == 255
    assert "Host key verification failed" in refused.stderr
    wrong = tmp_path / "wrong_host"
    other = sandbox.state.hosts[1]
    line = sandbox.layout.known_hosts.read_text().splitlines()[1]  # host2's key...
    wrong.write_text(line.replace(f":{other.ssh_port}]", f":{h.ssh_port}]") + "\n")  # ...as host1
    changed = strict.__class__(sandbox.state.user, sandbox.layout.client_key, wrong)
    assert changed.run(h.ssh_port, "true", timeout=30).returncode == 255


def _sign_in(sandbox: Sandbox) -> str:
    env = sandbox.smoke_env()
    response = httpx.post(
        f"{env['SUPABASE_URL']}/auth/v1/token?grant_type=password",
        headers={"apikey": env["SUPABASE_ANON_KEY"]},
        json={"email": env["COOKCAM_SMOKE_EMAIL"], "password": env["COOKCAM_SMOKE_PASSWORD"]},
        timeout=10,
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


def _socket_probe(url: str, token: str) -> dict[str, str]:
    if not (NODE_MODULES / "socket.io-client").is_dir():
        pytest.fail(
            f"{NODE_MODULES}/socket.io-client missing: run `npm ci --prefix tests/node` "
            "(scripts/ensure-deps.sh does)"
        )
    done = subprocess.run(
        ["node", "-e", SOCKET_PROBE],
        cwd=NODE_MODULES.parent,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "PROBE_URL": url, "PROBE_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-500:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


def test_socketio_auth_with_stub_token(sandbox: Sandbox) -> None:
    token = _sign_in(sandbox)
    for h in sandbox.state.hosts:
        ok = _socket_probe(h.base_url, token)
        assert ok["event"] == "connected", h.name
        bad = _socket_probe(h.base_url, token[:-4] + "AAAA")
        assert bad == {
            "event": "connect_error",
            "message": "Authentication failed: invalid token",
        }, h.name


def test_pm2_reload_under_keepalive_load_fails_no_request(sandbox: Sandbox) -> None:
    h = sandbox.state.hosts[0]
    before = {int(str(a["pid"])) for a in sandbox.pm2_apps(h.name)}
    stop = threading.Event()
    counts = {"ok": 0}
    failures: list[str] = []
    lock = threading.Lock()

    def load() -> None:
        deadline = time.monotonic() + 20
        with httpx.Client(timeout=10) as client:
            for _ in range(50_000):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    status = client.get(f"{h.base_url}/health").status_code
                    problem = None if status == 200 else f"HTTP {status}"
                except httpx.HTTPError as e:
                    problem = type(e).__name__
                with lock:
                    if problem:
                        failures.append(problem)
                    else:
                        counts["ok"] += 1

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: counts["ok"] > 50, 10, "load to start")
        reload = sandbox.ssh(h.name, "pm2 reload cookcam-api", timeout=120)
        assert reload.returncode == 0
        wait_for(lambda: not any(procs.pid_alive(p) for p in before), 30, "old workers to exit")
        reloaded_at = counts["ok"]
        wait_for(lambda: counts["ok"] > reloaded_at + 200, 10, "load after the reload")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    after = sandbox.pm2_apps(h.name)
    assert {a["pid"] for a in after}.isdisjoint(before)
    assert all(a["status"] == "online" for a in after)
    assert failures == []
    assert counts["ok"] > 500


# --- sandbox change: each kind deployed by hand on one host -------------------------------------


def _deploy(
    sandbox: Sandbox, host: str, sha: str, *, build_ok: bool = True, action: str = "reload"
) -> subprocess.CompletedProcess[str]:
    """By hand over ssh: git pull (to sha), npm run build, and (if it built) pm2 ACTION."""
    app_path = shlex.quote(sandbox.host(host).app_path)
    pulled = sandbox.ssh(
        host, f"cd {app_path} && git pull --ff-only -q origin main && git rev-parse HEAD"
    )
    assert pulled.returncode == 0 and pulled.stdout.strip() == sha
    build = sandbox.ssh(host, f"cd {app_path} && npm run build")
    if build_ok:
        assert build.returncode == 0, build.stdout[-800:]
        for _attempt in range(5):  # PM2 refuses while it restarts a crashed worker itself
            done = sandbox.ssh(host, f"pm2 {action} cookcam-api", timeout=120)
            if done.returncode == 0 or "process already started" not in done.stderr:
                break
            time.sleep(2)
        assert done.returncode == 0, done.stderr[-800:]
    return build


def _logs(sandbox: Sandbox, host: str) -> str:
    done = sandbox.ssh(host, "pm2 logs cookcam-api --lines 300 --nostream --raw")
    return done.stdout + done.stderr


def _reload_and_read_logs(sandbox: Sandbox, host: str) -> str:
    """Flush the app's logs, `pm2 reload`, wait for the old workers to go; the logs since."""
    old = {int(str(a["pid"])) for a in sandbox.pm2_apps(host)}
    assert sandbox.ssh(host, "pm2 flush cookcam-api").returncode == 0
    assert sandbox.ssh(host, "pm2 reload cookcam-api", timeout=120).returncode == 0
    wait_for(lambda: not any(procs.pid_alive(p) for p in old), 30, "old workers to exit")
    return _logs(sandbox, host)


def _healthy_at(url: str, sha: str) -> bool:
    try:
        response = httpx.get(url + "/health", timeout=3)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("commit") == sha


def _restore(sandbox: Sandbox, host: HostState) -> None:
    """A `release` change, deployed by hand (pm2 restart): the host must be healthy on it."""
    sha = change_sandbox(sandbox.dir, "release").sha
    # a crash-looping app first: `pm2 restart` during PM2's own restart says "already started"
    assert sandbox.ssh(host.name, "pm2 stop cookcam-api", timeout=120).returncode == 0
    _deploy(sandbox, host.name, sha, action="restart")
    wait_for(lambda: _healthy_at(host.base_url, sha), 60, "a release change to restore health")
    assert all(a["status"] == "online" for a in sandbox.pm2_apps(host.name))


@pytest.fixture(scope="module", autouse=True)
def one_release(sandbox: Sandbox) -> Iterator[None]:
    """The changes below are deployed by hand on one host: at the end, the whole fleet is put
    back on one release (`status` fails a fleet that serves two commits)."""
    yield
    done = run_cli(sandbox.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json")
    assert done.code == 0, done.stderr[-2000:]


@pytest.fixture
def scratch_host(sandbox: Sandbox) -> Iterator[HostState]:
    """The last host, for breaking; healthy again on a fresh release afterwards."""
    host = sandbox.state.hosts[-1]
    yield host
    _restore(sandbox, host)


def test_change_broken_build_fails_npm_run_build(sandbox: Sandbox, scratch_host: HostState) -> None:
    sha = change_sandbox(sandbox.dir, "broken-build").sha
    build = _deploy(sandbox, scratch_host.name, sha, build_ok=False)
    assert build.returncode != 0
    assert "error TS" in build.stdout + build.stderr
    assert health(scratch_host.base_url) == 200  # nothing reloaded: the old build still serves


def test_change_broken_health_answers_503(sandbox: Sandbox, scratch_host: HostState) -> None:
    sha = change_sandbox(sandbox.dir, "broken-health").sha
    _deploy(sandbox, scratch_host.name, sha)
    wait_for(lambda: health(scratch_host.base_url) == 503, 30, "/health 503")
    assert all(a["status"] == "online" for a in sandbox.pm2_apps(scratch_host.name))
    _restore(sandbox, scratch_host)


def test_change_crash_on_start_errors_workers_naming_the_variable(
    sandbox: Sandbox, scratch_host: HostState
) -> None:
    sha = change_sandbox(sandbox.dir, "crash-on-start").sha
    before = {a["pm_id"]: int(str(a["restart_time"])) for a in sandbox.pm2_apps(scratch_host.name)}
    _deploy(sandbox, scratch_host.name, sha, action="restart")

    def crash_looping() -> bool:  # errored once PM2 gives up; restarting again before that
        # (PM2 counts a worker that lived past min_uptime as stable, so on a loaded machine it
        # may keep restarting instead of reaching `errored`)
        return all(
            a["status"] == "errored" or int(str(a["restart_time"])) >= before[a["pm_id"]] + 3
            for a in sandbox.pm2_apps(scratch_host.name)
        )

    wait_for(crash_looping, 90, "both workers to crash again and again")
    assert health(scratch_host.base_url) != 200
    named = "COOKCAM_FEATURE_FLAGS_URL" in _logs(sandbox, scratch_host.name)
    assert named, "pm2 logs do not name the missing variable (the worker's last lines)"
    _restore(sandbox, scratch_host)


def test_change_sigterm_only_skips_graceful_shutdown_under_pm2(
    sandbox: Sandbox, scratch_host: HostState
) -> None:
    control = _reload_and_read_logs(sandbox, scratch_host.name)
    assert control.count(GRACEFUL_START) == 2  # a good release: both old workers drain

    sha = change_sandbox(sandbox.dir, "sigterm-only").sha
    _deploy(sandbox, scratch_host.name, sha)
    wait_for(lambda: _healthy_at(scratch_host.base_url, sha), 30, "the sigterm-only release")
    logs = _reload_and_read_logs(sandbox, scratch_host.name)
    assert "graceful shutdown" not in logs
    assert "Environment validation successful" in logs  # the new workers' lines did arrive


def test_change_cli_prints_only_the_sha_and_refuses_unknown_kinds(sandbox: Sandbox) -> None:
    result = runner().invoke(app, ["sandbox", "change", "release", "--dir", str(sandbox.dir)])
    assert result.exit_code == 0, result.stderr
    sha = result.stdout.strip()
    assert len(sha) == 40 and result.stdout == sha + "\n"
    heads = subprocess.run(
        ["git", "-C", str(sandbox.layout.origin), "rev-parse", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert heads == sha
    bad = runner().invoke(app, ["sandbox", "change", "nope", "--dir", str(sandbox.dir)])
    assert bad.exit_code == 2
    assert "release" in bad.stderr and "sigterm-only" in bad.stderr


# --- up and down ---------------------------------------------------------------------------------


def test_up_refuses_a_running_sandbox(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="already running"):
        start_sandbox(sandbox.dir, 2)
    assert inspect_sandbox(sandbox.dir).ok


def _recorded_pids(directory: Path) -> dict[str, int]:
    state = json.loads((directory / "state.json").read_text())
    pids = {"auth": state["auth"]["pid"]}
    for h in state["hosts"]:
        pids[f"{h['name']} sshd"] = h["sshd_pid"]
        daemon = pm2.daemon_pid(Path(h["pm2_home"]))
        assert daemon is not None
        pids[f"{h['name']} pm2"] = daemon
        for i, worker in enumerate(procs.children_of(daemon)):
            pids[f"{h['name']} worker{i}"] = worker
    return pids


def test_second_sandbox_side_by_side_then_down_twice(sandbox: Sandbox) -> None:
    directory = Path(tempfile.mkdtemp(prefix="cc-sb2-", dir="/tmp")) / "sb"
    try:
        second = start_sandbox(directory, 1)
        ports = {second.auth.port} | {p for h in second.hosts for p in (h.ssh_port, h.app_port)}
        ours = {sandbox.state.auth.port} | {
            p for h in sandbox.state.hosts for p in (h.ssh_port, h.app_port)
        }
        assert ports.isdisjoint(ours)
        assert inspect_sandbox(directory).ok and inspect_sandbox(sandbox.dir).ok
        pids = _recorded_pids(directory)
        assert len(pids) == 5  # stub, sshd, PM2 daemon, two workers

        result = runner().invoke(app, ["sandbox", "down", "--dir", str(directory)])
        assert result.exit_code == 0, result.stderr
        assert [name for name, pid in pids.items() if procs.pid_alive(pid)] == []
        assert not list(directory.glob("hosts/*/sshd.pid"))
        assert not Path(second.auth.pid_file).exists()
        again = stop_sandbox(directory)
        assert again.stopped == ()
        status = inspect_sandbox(directory)
        assert not status.ok and not status.auth_up
        assert inspect_sandbox(sandbox.dir).ok

        # A stopped leftover is cleaned and brought up anew.
        third = start_sandbox(directory, 1)
        assert third.created_at and inspect_sandbox(directory).ok
    finally:
        stop_sandbox(directory, purge=True)
        directory.parent.rmdir()
    assert not directory.exists()
