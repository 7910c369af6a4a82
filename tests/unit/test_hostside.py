"""Every program in cookcam_ops/hostside, checked and run here, without a host.

The JavaScript is parsed by `node --check` and each program run as the package sends it
(`node -e TEXT ARGS`), those that drive PM2 against a stand-in (tests/unit/fake_pm2: its
programmatic API for handover.js and overlap.js, its CLI for drain_watcher.js). The shell is
parsed by `sh -n` and linted by shellcheck (scripts/ensure-deps.sh installs it where apt has
it); reap.sh, reload.sh, facts_target.sh and migrate_layout.sh run here, lock_acquire.sh in
test_lock.py (racing claims, a full disk), pm2_startup_units.sh in test_pm2_reboot.py, the
ecosystem readers in test_pm2_ecosystem.py, the canary's error_log_lines.sh in
test_canary_judge.py and the layouts' facts_in_place.sh and facts_releases.sh in
test_probe_layout.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cookcam_ops.deploy.handover import STABLE_WINDOW_MS
from cookcam_ops.drain.watcher import parse_watch
from cookcam_ops.hostside import HOSTSIDE_DIR, script
from cookcam_ops.layout.releases import HANDOVER_SUFFIX
from tests.conftest import SENTINEL

ROOT = Path(__file__).resolve().parents[2]
FAKE_PM2 = Path(__file__).resolve().parent / "fake_pm2"
JS = sorted(p.name for p in HOSTSIDE_DIR.glob("*.js"))
SH = sorted(p.name for p in HOSTSIDE_DIR.glob("*.sh"))
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def node(
    name: str,
    *args: str | int | Path,
    stdin: str = "",
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """Run hostside/NAME as the package sends it: `node -e TEXT ARGS`."""
    return subprocess.run(
        ["node", "-e", script(name), *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def sh(
    name: str, *args: str | int | Path, cwd: Path | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run hostside/NAME as the package sends it: `sh -c TEXT NAME ARGS`."""
    return subprocess.run(
        ["sh", "-c", script(name), name, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def last_json(out: str) -> Any:
    return json.loads(out.strip().splitlines()[-1])


def test_the_package_sends_every_hostside_file() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "cookcam_ops").rglob("*.py"))
    assert JS and SH
    assert [n for n in JS + SH if f'"{n}"' not in sources and f"'{n}'" not in sources] == []


@needs_node
@pytest.mark.parametrize("name", JS)
def test_javascript_parses(name: str) -> None:
    done = subprocess.run(
        ["node", "--check", str(HOSTSIDE_DIR / name)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", SH)
def test_shell_parses(name: str) -> None:
    done = subprocess.run(
        ["sh", "-n", str(HOSTSIDE_DIR / name)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(
    shutil.which("shellcheck") is None,
    reason="shellcheck is not installed (scripts/ensure-deps.sh installs it with "
    "apt-get where it can): the shell was only parsed by sh -n",
)
def test_shellcheck_finds_nothing() -> None:
    done = subprocess.run(
        ["shellcheck", "--shell=sh", "--severity=style", *(str(HOSTSIDE_DIR / n) for n in SH)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- the JavaScript, run ---------------------------------------------------------------------


class _Health(BaseHTTPRequestHandler):
    status = 200
    body = b'{"status":"ok","commit":"abc1234def"}'

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def health_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()
        server.server_close()


@needs_node
def test_health_get_reports_status_time_and_the_start_of_the_body(health_url: str) -> None:
    doc = last_json(node("health_get.js", health_url).stdout)
    assert doc["status"] == 200 and doc["body"].startswith('{"status":"ok"')
    assert isinstance(doc["ms"], int)
    closed = last_json(node("health_get.js", "http://127.0.0.1:9/health").stdout)
    assert closed == {"error": "ECONNREFUSED"}


@needs_node
def test_health_loop_passes_on_the_commit_and_refuses_another(health_url: str) -> None:
    ok = last_json(node("health_loop.js", health_url, 1, 10, "abc1234", 2).stdout)
    assert ok == {
        "ok": True,
        "attempts": 2,
        "detail": "2 x HTTP 200 (2 requests), commit abc1234def",
    }
    other = last_json(node("health_loop.js", health_url, 1, 10, "fff0000", 2).stdout)
    assert other["ok"] is False and other["attempts"] == 2
    assert "serves commit abc1234def, not fff0000" in other["detail"]


@needs_node
def test_package_engines_prints_only_engines(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(
        json.dumps({"name": "api", "engines": {"node": ">=20"}, "config": {"token": SENTINEL}})
    )
    done = node("package_engines.js", cwd=tmp_path)
    assert last_json(done.stdout) == {"engines": {"node": ">=20"}}
    assert SENTINEL not in done.stdout
    (tmp_path / "package.json").write_text("{")
    assert last_json(node("package_engines.js", cwd=tmp_path).stdout) == {"engines": None}


@needs_node
def test_the_saved_list_is_whitelisted_and_resolves_pm_cwd(tmp_path: Path) -> None:
    (tmp_path / "current").symlink_to(tmp_path)
    dump = [
        {
            "name": "cookcam-api",
            "pm_id": 0,
            "status": "online",
            "pm_cwd": str(tmp_path / "current"),
            "env": {"JWT_SECRET": SENTINEL},
            "JWT_SECRET": SENTINEL,
        }
    ]
    done = node("pm2_jlist_filter.js", "saved", stdin=json.dumps(dump))
    assert SENTINEL not in done.stdout
    (p,) = last_json(done.stdout)["processes"]
    assert p["cwd"] == str(tmp_path.resolve()) and p["pid"] is None and p["status"] == "online"
    assert "error" in last_json(node("pm2_jlist_filter.js", stdin="no JSON here").stdout)


BUILD = """
const http = require('http');
console.log('{"msg":"environment validated"}');
http.createServer((q, r) => { r.statusCode = q.url === '/health' ? 200 : 404; r.end('ok'); })
  .listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
"""


@needs_node
def test_test_build_starts_the_build_aside_and_stops_it(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.js").write_text(BUILD)
    doc = last_json(
        node(
            "test_build.js",
            tmp_path / "dist" / "index.js",
            20000,
            "/health",
            "environment validated",
        ).stdout
    )
    assert doc["ok"] is True and doc["validated"] is True and doc["port"] > 0
    (tmp_path / "dist" / "index.js").write_text("console.log('boom'); process.exit(3)")
    failed = last_json(
        node(
            "test_build.js",
            tmp_path / "dist" / "index.js",
            20000,
            "/health",
            "environment validated",
        ).stdout
    )
    assert failed["ok"] is False and "exited (code 3)" in failed["detail"]
    assert "boom" in failed["detail"]


# --- PM2's programmatic API, against the stand-in ---------------------------------------------


def pm2_state(path: Path, procs: list[dict[str, Any]], fail: str | None = None) -> dict[str, str]:
    path.write_text(json.dumps({"procs": procs, "next_id": len(procs), "fail": fail, "calls": []}))
    return {"FAKE_PM2_STATE": str(path), "FAKE_PM2_SECRET": SENTINEL}


def running(n: int, cwd: str, *, mode: str = "cluster_mode") -> list[dict[str, Any]]:
    return [
        {
            "name": "cookcam-api",
            "pm_id": i,
            "pid": 1000 + i,
            "pm2_env": {
                "status": "online",
                "exec_mode": mode,
                "wait_ready": True,
                "pm_cwd": cwd,
                "restart_time": 0,
                "pm_uptime": 1,
                "env": {"JWT_SECRET": SENTINEL},
            },
        }
        for i in range(n)
    ]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    release = tmp_path / "releases" / "r2"
    release.mkdir(parents=True)
    (release / "ecosystem.config.js").write_text(
        "module.exports = {apps: [{name: 'cookcam-api', script: 'dist/index.js', instances: 2,"
        " exec_mode: 'cluster', wait_ready: true, env: {JWT_SECRET: 'x'}}]};\n"
    )
    (tmp_path / "current").symlink_to(release)
    return tmp_path / "current"


@needs_node
@pytest.mark.parametrize("mode", ["overlap", "replace"])
def test_handover_starts_the_app_from_the_new_directory(
    tmp_path: Path, app_dir: Path, mode: str
) -> None:
    env = pm2_state(tmp_path / "pm2.json", running(2, "/srv/old"))
    done = node(
        "handover.js", FAKE_PM2, "cookcam-api", app_dir, 20000, mode, HANDOVER_SUFFIX, env=env
    )
    doc = last_json(done.stdout)
    assert doc["ok"] is True and doc["stage"] == (
        "start" if mode == "replace" else "delete-temporary"
    ), doc
    state = json.loads((tmp_path / "pm2.json").read_text())
    assert [(p["name"], p["pm2_env"]["pm_cwd"]) for p in state["procs"]] == [
        ("cookcam-api", str(app_dir))
    ] * 2
    tmp = "cookcam-api" + HANDOVER_SUFFIX
    expected = (
        ["delete cookcam-api", f"start cookcam-api {app_dir}"]
        if mode == "replace"
        else [
            f"start {tmp} {app_dir}",
            "delete cookcam-api",
            f"start cookcam-api {app_dir}",
            f"delete {tmp}",
        ]
    )
    assert state["calls"] == [*expected, "disconnect"]
    assert SENTINEL not in done.stdout + done.stderr


@needs_node
def test_a_handover_whose_new_app_crashes_leaves_the_old_one(tmp_path: Path, app_dir: Path) -> None:
    tmp = "cookcam-api" + HANDOVER_SUFFIX
    env = pm2_state(tmp_path / "pm2.json", running(2, "/srv/old"), fail=tmp)
    doc = last_json(
        node(
            "handover.js",
            FAKE_PM2,
            "cookcam-api",
            app_dir,
            20000,
            "overlap",
            HANDOVER_SUFFIX,
            env=env,
        ).stdout
    )
    assert doc["ok"] is False and doc["stage"] == "start-temporary"
    assert doc["detail"].endswith("did not stay up (errored); the app was left as it was")
    state = json.loads((tmp_path / "pm2.json").read_text())
    assert [p["pm2_env"]["pm_cwd"] for p in state["procs"]] == ["/srv/old"] * 2


@needs_node
def test_overlap_replaces_every_worker_new_ones_first(tmp_path: Path) -> None:
    env = pm2_state(tmp_path / "pm2.json", running(2, "/srv/api/current"))
    done = node("overlap.js", FAKE_PM2, "cookcam-api", 20000, STABLE_WINDOW_MS, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    procs_line, said = done.stdout.strip().splitlines()[-2:]
    assert said == "2 new worker(s) ready, then 2 old one(s) stopped"
    procs = json.loads(procs_line.removeprefix("@@procs="))
    assert [p["pm_id"] for p in procs] == [2, 3] and procs[0]["cwd"] == os.getcwd()
    state = json.loads((tmp_path / "pm2.json").read_text())
    assert state["calls"] == ["scale cookcam-api 4", "delete 0", "delete 1", "disconnect"]
    assert SENTINEL not in done.stdout


@needs_node
def test_overlap_keeps_the_old_workers_when_a_new_one_fails(tmp_path: Path) -> None:
    env = pm2_state(tmp_path / "pm2.json", running(2, "/srv/api/current"), fail="cookcam-api")
    done = node("overlap.js", FAKE_PM2, "cookcam-api", 20000, 200, env=env)
    assert done.returncode == 1
    assert done.stdout.strip() == "new worker 2 did not stay up; old ones kept"
    state = json.loads((tmp_path / "pm2.json").read_text())
    assert [p["pm_id"] for p in state["procs"]] == [0, 1]
    fork = pm2_state(tmp_path / "pm2.json", running(1, "/srv/api", mode="fork_mode"))
    refused = node("overlap.js", FAKE_PM2, "cookcam-api", 20000, 200, env=fork)
    assert (
        refused.returncode == 1 and refused.stdout.strip() == "cookcam-api is not in cluster mode"
    )


# --- PM2's CLI, against the stand-in: the drain watcher ---------------------------------------


def sleeper() -> subprocess.Popen[bytes]:
    """A process to stand for a worker, reaped as soon as it ends (so its pid goes away)."""
    proc = subprocess.Popen(["sleep", "30"])
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


@needs_node
def test_the_drain_watcher_reports_exits_and_marker_lines_only(tmp_path: Path) -> None:
    old, new = [sleeper(), sleeper()], [sleeper(), sleeper()]
    try:
        logs = [tmp_path / f"out-{i}.log" for i in range(2)]
        for log in logs:
            log.write_text("an app line with personal data\n")
        procs = running(2, str(tmp_path))
        for p, proc, log in zip(procs, old, logs, strict=True):
            p["pid"] = proc.pid
            p["pm2_env"].update(pm_out_log_path=str(log), kill_timeout=1600)
        (tmp_path / "dist").mkdir()
        (tmp_path / "dist" / "index.js").write_text("process.on('SIGINT', shutdown);\n")
        env = {
            **pm2_state(tmp_path / "pm2.json", procs),
            "PM2_HOME": str(tmp_path / "pm2home"),
            "PATH": f"{FAKE_PM2 / 'bin'}:{os.environ['PATH']}",
            "PM2_KILL_SIGNAL": "SIGINT",
            "FAKE_PM2_NEW_PIDS": ",".join(str(p.pid) for p in new),
            "FAKE_PM2_LOG_LINE": "Graceful shutdown complete (email ana@example.com)",
            # one bus message of several lines (a fork-mode worker's one write)
            "FAKE_PM2_BUS_LINE": "SIGINT received, starting graceful shutdown\n"
            "user ana@example.com signed out\nHTTP server closed",
        }
        cfg = {
            "name": "cookcam-api",
            "app_path": str(tmp_path),
            "via": "reload",
            "deadline_ms": 20000,
            "bus_wait_ms": 300,
        }
        done = node("drain_watcher.js", json.dumps(cfg), cwd=tmp_path, env=env)
        w = parse_watch(done.stdout)
        assert w.error is None, done.stdout + done.stderr
        assert w.kill_signal == "shell SIGINT" and w.handler_lines == [
            "process.on('SIGINT', shutdown);"
        ]
        assert [b.pid for b in w.before] == [p.pid for p in old]
        assert w.after is not None and [a.pid for a in w.after] == [p.pid for p in new]
        assert sorted(w.exits) == sorted(p.pid for p in old) and w.trigger_code == 0
        assert sorted((ln.source, ln.text) for ln in w.lines) == [
            ("bus", "HTTP server closed"),
            ("bus", "SIGINT received, starting graceful shutdown"),
            *[("file", "Graceful shutdown complete (email ana@example.com)")] * 2,
        ]
        assert "personal data" not in done.stdout and "signed out" not in done.stdout
        assert SENTINEL not in done.stdout
    finally:
        for proc in old + new:
            proc.kill()


# --- the shell, run ---------------------------------------------------------------------------


def test_reap_stops_the_process_group_of_its_own_run_only(tmp_path: Path) -> None:
    group = subprocess.Popen(["sleep", "30"], start_new_session=True)
    threading.Thread(target=group.wait, daemon=True).start()
    pid_file = tmp_path / "step.pid"
    try:
        pid_file.write_text(f"{group.pid} run-1\n")
        assert sh("reap.sh", pid_file, "run-2", 0).returncode == 0
        assert pid_file.exists() and group.poll() is None  # another run's: left alone
        assert sh("reap.sh", pid_file, "run-1", 0).returncode == 0
        assert not pid_file.exists()
        assert group.wait(timeout=5) == -15
    finally:
        group.kill()


def _layout(app: Path, top: Path) -> Any:
    """migrate_layout.sh on app (checkout top), as deploy/migrate.py parses it."""
    from cookcam_ops.deploy.migrate import parse_layout

    done = sh("migrate_layout.sh", app, ".env", top, f"{app}.migrating")
    assert done.returncode == 0, done.stderr
    return parse_layout(f"@@cookcam-ops begin layout@@\n{done.stdout}@@cookcam-ops end layout 0@@")


def test_migrate_layout_reads_a_checkout_a_monorepo_app_and_a_releases_root(
    tmp_path: Path,
) -> None:
    top = tmp_path / "repo"
    app = top / "backend" / "api"
    app.mkdir(parents=True)
    (app / "package.json").write_text("{}")
    git = ["git", "-C", str(top), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    sha = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    lay = _layout(app, top)
    assert (lay.layout, lay.sha, lay.dirty) == ("in-place", sha, 0)
    assert lay.missing == ("dist", "node_modules", ".env") and lay.host_time is not None
    assert "deploy it once in place first" in (lay.blocked() or "")
    for name in ("dist", "node_modules"):
        (app / name).mkdir()
    (app / ".env").write_text("K=v\n")
    (app / "package.json").write_text('{"name": "changed"}')
    Path(f"{app}.migrating").mkdir()
    lay = _layout(app, top)
    assert (lay.missing, lay.dirty, lay.leftover) == ((), 1, True)
    assert "modified tracked" in (lay.blocked() or "")
    releases = tmp_path / "rel"
    (releases / "repo").mkdir(parents=True)
    (releases / "current").symlink_to("releases/x")
    assert _layout(releases, releases).layout == "releases"
    assert _layout(tmp_path / "nowhere", tmp_path).layout == "missing"
    assert _layout(tmp_path, tmp_path).layout == "missing"  # a directory, not a checkout


FLAKY_RELOAD = (
    "n=$(cat tries 2>/dev/null || echo 0); echo $((n + 1)) > tries; "
    "if [ $n -lt 1 ]; then echo '[PM2][ERROR] process already started'; exit 1; fi; "
    "echo line1; echo line2; echo line3; echo reloaded"
)


@needs_node
def test_reload_retries_while_pm2_is_busy_and_reports_where_current_points(tmp_path: Path) -> None:
    (tmp_path / "r2").mkdir()
    (tmp_path / "current").symlink_to(tmp_path / "r2")
    done = sh(
        "reload.sh", tmp_path / "reload.log", 3, tmp_path / "current", FLAKY_RELOAD, cwd=tmp_path
    )
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[:4] == ["line2", "line3", "reloaded", f"@@current={tmp_path / 'r2'}"]
    assert lines[4].startswith("@@reload rc=0 t0=") and int(lines[4].split("t0=")[1]) > 0
    assert (tmp_path / "tries").read_text().strip() == "2"
    failed = sh(
        "reload.sh", tmp_path / "reload.log", 3, "", "echo no such app; exit 4", cwd=tmp_path
    )
    assert failed.returncode == 4
    assert failed.stdout.splitlines()[0] == "no such app"
    assert failed.stdout.splitlines()[1].startswith("@@reload rc=4 t0=")


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
    }
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def test_facts_target_resolves_the_first_candidate_and_compares_the_lockfile(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / "api").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "api" / "package-lock.json").write_text("{}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    old = _git(repo, "rev-parse", "HEAD")
    (repo / "api" / "package-lock.json").write_text('{"v": 2}\n')
    _git(repo, "commit", "-q", "-am", "two")
    new = _git(repo, "rev-parse", "HEAD")

    changed = sh("facts_target.sh", repo, "api/package-lock.json", old, "no-such-ref", "main")
    assert (changed.returncode, changed.stdout.split()) == (
        0,
        [f"target={new}", "lockfile=app", "lockfile_diff=1"],
    )
    same = sh("facts_target.sh", repo, "api/package-lock.json", new, new)
    assert same.stdout.split() == [f"target={new}", "lockfile=app", "lockfile_diff=0"]
    at_root = sh("facts_target.sh", repo, "package-lock.json", "", "main")
    assert at_root.stdout.split() == [f"target={new}", "lockfile=none"]  # no HEAD: no diff
    assert sh("facts_target.sh", repo, "x", "", "nope", "nada").returncode == 1
    assert sh("facts_target.sh", tmp_path / "missing", "x", "", "main").returncode == 3
