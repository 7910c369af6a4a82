"""The shipped reference API, built with real npm and run with real Node against the auth stub.

One `npm ci` serves every tree: the change kinds are built in their own copies with node_modules
linked to the first one. The app runs with `node dist/index.js` directly (no PM2 here).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cookcam_ops.sandbox import auth_stub, changes
from cookcam_ops.sandbox.auth_stub import AuthStubServer, StubConfig
from tests.documents import valid_document

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SIO_CLIENT = ROOT / "tests" / "node" / "node_modules" / "socket.io-client"
SENTINEL = "S3NT1N3L-4e1d"
REVISION = "0123456789abcdef0123456789abcdef01234567"
SHUTDOWN_LINES = (
    "{signal} received, starting graceful shutdown...",
    "HTTP server closed - no longer accepting connections",
    "Closing WebSocket connections...",
    "✅ Graceful shutdown complete",
)
STUB = StubConfig(
    anon_key="anon-key-e2e-0123456789",
    jwt_secret="jwt-secret-e2e-0123456789abcdefghij",
    email="chef@example.com",
    password="e2e-password-0123",
    user_id="0c6f8a52-1d2e-4f3a-9b4c-5d6e7f8a9b0c",
)

# A Socket.IO client on the official package: prints one JSON line per event. "probe" exits
# after the first outcome; "hold" stays connected until the server goes away.
SIO_SCRIPT = """
const { io } = require(process.env.SIO_CLIENT);
const [url, mode, token] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
setTimeout(() => { out({ event: 'timeout' }); process.exit(2); }, 20000);
const socket = io(url, {
  transports: ['websocket'], reconnection: false, timeout: 10000,
  auth: token ? { token } : {},
});
socket.on('connected', (data) => {
  out({ event: 'connected', data });
  if (mode === 'probe') process.exit(0);
});
socket.on('connect_error', (err) => {
  out({ event: 'connect_error', message: err.message });
  process.exit(0);
});
socket.on('disconnect', (reason) => {
  out({ event: 'disconnect', reason });
  process.exit(0);
});
"""


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Proc:
    """A child process whose stdout+stderr is collected line by line as it arrives."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def has_line(self, text: str) -> bool:
        with self._lock:
            return any(text in line for line in self.lines)

    def wait_for_line(self, text: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not self.has_line(text):
            if self.proc.poll() is not None:
                self._reader.join(5)
                if self.has_line(text):
                    return
                raise AssertionError(
                    f"exited {self.proc.returncode} before {text!r}:\n{self.output}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout}s:\n{self.output}")
            time.sleep(0.02)

    def wait_exit(self, timeout: float = 15) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"still running after {timeout}s:\n{self.output}") from e
        self._reader.join(5)
        return code

    def json_lines(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(line) for line in self.lines if line.startswith("{")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """A clean environment: dotenv never overrides a variable already set, so pass none."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR", "LANG") if k in os.environ}
    env.update(extra)
    return env


def npm(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["npm", *args],
        cwd=cwd,
        env=child_env(npm_config_update_notifier="false", npm_config_fund="false"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def app_env(stub: AuthStubServer, port: int) -> dict[str, str]:
    return {
        "NODE_ENV": "production",
        "PORT": str(port),
        "SUPABASE_URL": stub.url,
        "SUPABASE_ANON_KEY": STUB.anon_key,
        "SUPABASE_SERVICE_ROLE_KEY": "service-role-e2e-0123456789",
        "OPENAI_API_KEY": "sk-proj-e2e-0123456789",
        "JWT_SECRET": "j" * 40,
        "JWT_REFRESH_SECRET": "r" * 40,
        "STRIPE_SECRET_KEY": "sk_test_e2e0123456789",
        "STRIPE_WEBHOOK_SECRET": "whsec_e2e0123456789",
        "SENTRY_DSN": "https://0123456789abcdef@o123.ingest.sentry.io/4505000000000000",
    }


def write_env(cwd: Path, values: dict[str, str]) -> None:
    path = cwd / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    path.chmod(0o600)


def http_get(port: int, path: str, timeout: float = 10) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


def post_recipe(port: int, title: str, token: str | None) -> tuple[int, dict[str, str], Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/v1/recipes", json.dumps({"title": title}), headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stub() -> Iterator[AuthStubServer]:
    server = auth_stub.serve(STUB)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(stub: AuthStubServer) -> str:
    return auth_stub.issue_access_token(STUB, now=time.time())


@pytest.fixture(scope="module")
def base_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped API copied out, installed from its lock and built: one npm ci for all."""
    app = tmp_path_factory.mktemp("api") / "base"
    shutil.copytree(
        changes.API_DIR, app, ignore=shutil.ignore_patterns("node_modules", "dist", ".env")
    )
    for args in (["ci", "--include=dev", "--no-audit"], ["run", "build"]):
        result = npm(args, app)
        assert result.returncode == 0, f"npm {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return app


def launch(
    app: Path, stub: AuthStubServer, run_dir: Path, wait: bool = True, revision: bool = True
) -> tuple[Proc, int]:
    """Run app's dist/index.js from run_dir, which gets a valid .env (and a REVISION file)."""
    port = free_port()
    write_env(run_dir, app_env(stub, port))
    if revision:
        (run_dir / "REVISION").write_text(REVISION + "\n", encoding="utf-8")
    proc = Proc(["node", str(app / "dist" / "index.js")], run_dir, child_env())
    if wait:
        try:
            proc.wait_for_line(f"listening on port {port}")
        except AssertionError:
            proc.stop()
            raise
    return proc, port


@pytest.fixture
def start_app(
    stub: AuthStubServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., tuple[Proc, int]]]:
    """Start an app in a fresh run dir; every process started is killed at teardown."""
    started: list[Proc] = []

    def _start(
        app: Path, wait: bool = True, revision: bool = True, run_dir: Path | None = None
    ) -> tuple[Proc, int]:
        run_dir = run_dir or tmp_path_factory.mktemp("run")
        proc, port = launch(app, stub, run_dir, wait, revision)
        started.append(proc)
        return proc, port

    yield _start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="module")
def running(
    base_build: Path, stub: AuthStubServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proc, int]]:
    """One long-lived instance for the read-mostly checks."""
    proc, port = launch(base_build, stub, tmp_path_factory.mktemp("run"))
    yield proc, port
    proc.stop()


@pytest.fixture(scope="module")
def sio(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Proc]:
    if not (SIO_CLIENT / "package.json").is_file():
        pytest.fail(f"{SIO_CLIENT} is missing; run `npm ci` in tests/node first")
    script = tmp_path_factory.mktemp("sio") / "client.js"
    script.write_text(SIO_SCRIPT, encoding="utf-8")

    def _run(port: int, mode: str, token: str | None = None) -> Proc:
        argv = ["node", str(script), f"http://127.0.0.1:{port}", mode]
        if token is not None:
            argv.append(token)
        return Proc(argv, script.parent, child_env(SIO_CLIENT=str(SIO_CLIENT)))

    return _run


def kind_tree(
    base: Path, tmp_path: Path, kind: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Write the change kind into a fresh tree sharing base's node_modules, and build it."""
    app = tmp_path / kind
    changes.write_api_tree(app, kind, 2)
    (app / "node_modules").symlink_to(base / "node_modules", target_is_directory=True)
    return app, npm(["run", "build"], app, timeout=120)


# --- start and requests ------------------------------------------------------------------------


def test_start_prints_the_validation_success_line(running: tuple[Proc, int]) -> None:
    proc, _ = running
    assert "✅ Environment validation successful" in proc.lines


def test_missing_and_invalid_variables_are_named_without_their_values(
    base_build: Path, stub: AuthStubServer, tmp_path: Path
) -> None:
    values = app_env(stub, free_port())
    del values["OPENAI_API_KEY"]
    values["JWT_SECRET"] = f"{SENTINEL}-short"
    values["STRIPE_SECRET_KEY"] = f"pk_live_{SENTINEL}"
    write_env(tmp_path, values)

    proc = Proc(["node", str(base_build / "dist" / "index.js")], tmp_path, child_env())
    code = proc.wait_exit(20)

    assert code == 1, proc.output
    for name in ("OPENAI_API_KEY", "JWT_SECRET", "STRIPE_SECRET_KEY"):
        assert any(name in line for line in proc.lines), proc.output
    assert SENTINEL not in proc.output
    assert "✅ Environment validation successful" not in proc.output


def test_health_reports_version_commit_and_uptime(running: tuple[Proc, int]) -> None:
    _, port = running
    status, _, body = http_get(port, "/health")

    assert status == 200
    assert set(body) == {"status", "version", "commit", "uptime_s"}
    assert body["status"] == "ok"
    assert body["version"] == "1.0.1"
    assert body["commit"] == REVISION
    assert isinstance(body["uptime_s"], int)
    assert body["uptime_s"] >= 0


def test_commit_falls_back_to_git_then_unknown(
    base_build: Path, tmp_path: Path, start_app: Callable[..., tuple[Proc, int]]
) -> None:
    git_env = child_env(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "deploy"]):
        subprocess.run(["git", *args], cwd=checkout, env=git_env, check=True, timeout=30)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout.strip()
    plain = tmp_path / "plain"
    plain.mkdir()

    for run_dir, expected in ((checkout, head), (plain, "unknown")):
        proc, port = start_app(base_build, revision=False, run_dir=run_dir)
        assert http_get(port, "/health")[2]["commit"] == expected
        proc.stop()


def test_recipes_need_a_valid_token(running: tuple[Proc, int]) -> None:
    _, port = running
    for token in (None, "not.a.jwt"):
        status, _, body = post_recipe(port, "Toast", token)
        assert status == 401
        assert body["error"] == "UNAUTHORIZED"
        assert body["statusCode"] == 401


def test_duplicate_recipe_is_a_409_envelope(running: tuple[Proc, int], token: str) -> None:
    _, port = running
    status, _, created = post_recipe(port, "Shakshuka", token)
    assert status == 201
    assert created["userId"] == STUB.user_id

    status, headers, body = post_recipe(port, "Shakshuka", token)

    assert status == 409
    assert set(body) == {"error", "message", "statusCode", "requestId", "timestamp"}
    assert body["error"] == "DUPLICATE_ENTRY"
    assert body["message"] == "Resource already exists"
    assert body["statusCode"] == 409
    assert body["requestId"] == headers["X-Request-Id"]
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))


def test_socket_with_a_valid_token_gets_connected(
    running: tuple[Proc, int], sio: Callable[..., Proc], token: str
) -> None:
    _, port = running
    client = sio(port, "probe", token)
    assert client.wait_exit(25) == 0
    (event,) = client.json_lines()
    assert event["event"] == "connected", client.output
    assert event["data"]["userId"] == STUB.user_id
    assert event["data"]["socketId"]


@pytest.mark.parametrize(
    ("token", "reason"), [("bad.token.here", "invalid token"), (None, "missing token")]
)
def test_socket_auth_refusals(
    running: tuple[Proc, int], sio: Callable[..., Proc], token: str | None, reason: str
) -> None:
    proc, port = running
    client = sio(port, "probe", token)
    assert client.wait_exit(25) == 0
    (event,) = client.json_lines()
    assert event["event"] == "connect_error", client.output
    assert reason in event["message"]
    proc.wait_for_line(f"WebSocket auth failed: {reason}")
    if token is not None:
        assert token not in proc.output


# --- graceful shutdown -------------------------------------------------------------------------


def shutdown_lines(proc: Proc, name: str) -> list[int]:
    """Where each of the four shutdown lines sits in the output (each exactly once)."""
    expected = [line.format(signal=name) for line in SHUTDOWN_LINES]
    for line in expected:
        assert proc.lines.count(line) == 1, f"{line!r}:\n{proc.output}"
    return [proc.lines.index(line) for line in expected]


def idle_keepalive_connection(port: int) -> socket.socket:
    """A keep-alive connection that has served one request and now sits idle."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(b"GET /health HTTP/1.1\r\nHost: api\r\nConnection: keep-alive\r\n\r\n")
    response = b""
    while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
        chunk = conn.recv(4096)
        assert chunk, "the server closed a keep-alive connection early"
        response += chunk
    assert b"Connection: keep-alive" in response
    return conn


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_shutdown_drains_in_flight_requests_then_closes_websockets(
    base_build: Path,
    start_app: Callable[..., tuple[Proc, int]],
    sio: Callable[..., Proc],
    token: str,
    sig: signal.Signals,
) -> None:
    proc, port = start_app(base_build)
    holder = sio(port, "hold", token)
    holder.wait_for_line('"event":"connected"')
    idle = idle_keepalive_connection(port)
    slow: dict[str, Any] = {}

    def slow_request() -> None:
        status, headers, body = http_get(port, "/api/v1/slow?ms=1500")
        slow.update(status=status, connection=headers.get("Connection"), body=body)

    requester = threading.Thread(target=slow_request)
    requester.start()
    proc.wait_for_line("slow request: answering in 1500 ms")

    proc.proc.send_signal(sig)
    proc.wait_for_line(f"{sig.name} received, starting graceful shutdown...")
    idle.settimeout(5.0)  # the server lingers ~1.3 s for one last Connection: close answer
    assert idle.recv(1) == b"", "the idle keep-alive connection was not closed cleanly"
    idle.close()
    proc.proc.send_signal(sig)  # a second signal must not start a second shutdown
    code = proc.wait_exit(15)
    requester.join(15)

    assert code == 0, proc.output
    assert slow == {"status": 200, "connection": "close", "body": {"sleptMs": 1500}}
    order = shutdown_lines(proc, sig.name)
    assert order == sorted(order), proc.output
    assert proc.has_line(f"{sig.name} received again")
    assert holder.wait_exit(10) == 0
    assert holder.json_lines()[-1] == {"event": "disconnect", "reason": "transport close"}


def test_shutdown_cuts_a_websocket_that_ignores_the_close_handshake(
    base_build: Path, start_app: Callable[..., tuple[Proc, int]]
) -> None:
    proc, port = start_app(base_build)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.sendall(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: api\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert raw.recv(4096).startswith(b"HTTP/1.1 101")

    proc.proc.send_signal(signal.SIGTERM)
    code = proc.wait_exit(15)
    raw.close()

    assert code == 0, proc.output
    assert proc.has_line("Cutting 1 connection(s) still open")
    order = shutdown_lines(proc, "SIGTERM")
    assert order == sorted(order), proc.output


# --- change kinds ------------------------------------------------------------------------------


def test_kind_release_bumps_the_version(
    base_build: Path, tmp_path: Path, start_app: Callable[..., tuple[Proc, int]]
) -> None:
    app, build = kind_tree(base_build, tmp_path, "release")
    assert build.returncode == 0, build.stdout + build.stderr
    _, port = start_app(app)

    status, _, body = http_get(port, "/health")

    assert (status, body["status"], body["version"]) == (200, "ok", "1.0.2")


def test_kind_broken_build_fails_to_build(base_build: Path, tmp_path: Path) -> None:
    app, build = kind_tree(base_build, tmp_path, "broken-build")

    assert build.returncode != 0
    assert "error TS2322" in build.stdout + build.stderr
    assert not (app / "dist" / "index.js").exists()


def test_kind_broken_health_answers_503(
    base_build: Path, tmp_path: Path, start_app: Callable[..., tuple[Proc, int]]
) -> None:
    app, build = kind_tree(base_build, tmp_path, "broken-health")
    assert build.returncode == 0, build.stdout + build.stderr
    _, port = start_app(app)

    status, _, body = http_get(port, "/health")

    assert status == 503
    assert body["version"] == "1.0.2"


def test_smoke_catches_broken_health_in_words(
    base_build: Path, tmp_path: Path, start_app: Callable[..., tuple[Proc, int]], token: str
) -> None:
    """`smoke --url` against the broken-health build: exit 1, the health check says why."""
    app, build = kind_tree(base_build, tmp_path, "broken-health")
    assert build.returncode == 0, build.stdout + build.stderr
    _, port = start_app(app)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookcam_ops",
            "smoke",
            "--url",
            f"http://127.0.0.1:{port}",
            "--connections",
            "5",
            "--json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**child_env(), "COOKCAM_SMOKE_TOKEN": token},
    )
    assert done.returncode == 1, done.stderr
    checks = {c["name"]: c for c in valid_document(done.stdout, "smoke")["checks"]}
    assert checks["health"]["status"] == "fail"
    assert "503" in checks["health"]["detail"]
    assert checks["socket-auth-valid"]["status"] == "pass"  # only health is broken
    assert token not in done.stdout + done.stderr


def test_kind_crash_on_start_exits_naming_the_new_variable(
    base_build: Path, tmp_path: Path, start_app: Callable[..., tuple[Proc, int]]
) -> None:
    app, build = kind_tree(base_build, tmp_path, "crash-on-start")
    assert build.returncode == 0, build.stdout + build.stderr
    proc, _ = start_app(app, wait=False)

    assert proc.wait_exit(20) == 1
    assert proc.has_line(changes.FEATURE_FLAGS_KEY)
    assert not proc.has_line("listening on port")


def test_kind_sigterm_only_dies_on_sigint_without_draining(
    base_build: Path, tmp_path: Path, start_app: Callable[..., tuple[Proc, int]]
) -> None:
    app, build = kind_tree(base_build, tmp_path, "sigterm-only")
    assert build.returncode == 0, build.stdout + build.stderr

    proc, _ = start_app(app)
    proc.proc.send_signal(signal.SIGINT)
    assert proc.wait_exit(15) == -signal.SIGINT
    assert not proc.has_line("graceful shutdown")

    proc, _ = start_app(app)
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait_exit(15) == 0
    order = shutdown_lines(proc, "SIGTERM")
    assert order == sorted(order), proc.output


# --- under a process manager -------------------------------------------------------------------

# Forks the app with an IPC channel the way PM2 does, and reports the messages it sends.
FORK_SCRIPT = """
const { fork } = require('node:child_process');
const child = fork(process.argv[2], [], { cwd: process.cwd() });
child.on('message', (message) => {
  console.log(JSON.stringify({ message }));
  child.kill('SIGINT');
});
child.on('exit', (code, signal) => {
  console.log(JSON.stringify({ exit: code, signal }));
  process.exit(0);
});
"""


def test_sends_ready_over_ipc_once_listening(
    base_build: Path, stub: AuthStubServer, tmp_path: Path
) -> None:
    script = tmp_path / "fork.js"
    script.write_text(FORK_SCRIPT, encoding="utf-8")
    port = free_port()
    write_env(tmp_path, app_env(stub, port))

    proc = Proc(["node", str(script), str(base_build / "dist" / "index.js")], tmp_path, child_env())
    try:
        assert proc.wait_exit(20) == 0
    finally:
        proc.stop()

    listening = next(i for i, line in enumerate(proc.lines) if f"listening on port {port}" in line)
    assert proc.lines.index('{"message":"ready"}') > listening
    assert proc.lines.count('{"message":"ready"}') == 1
    assert proc.json_lines()[-1] == {"exit": 0, "signal": None}


def test_ecosystem_config_runs_a_two_worker_cluster_that_waits_for_ready() -> None:
    result = subprocess.run(
        [
            "node",
            "-e",
            "console.log(JSON.stringify(require(process.argv[1])))",
            str(changes.API_DIR / "ecosystem.config.js"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    (app,) = json.loads(result.stdout)["apps"]

    assert app["name"] == "cookcam-api"
    assert app["script"] == "dist/index.js"
    assert Path(app["cwd"]) == changes.API_DIR
    assert (app["exec_mode"], app["instances"]) == ("cluster", 2)
    assert app["wait_ready"] is True
    assert app["listen_timeout"] == 10000
    assert app["kill_timeout"] > 8000  # longer than the app's own drain deadline
    assert app["env"] == {"NODE_ENV": "production"}
