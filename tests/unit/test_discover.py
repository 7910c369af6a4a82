"""init --from-host's discovery, its scripts run for real here (sh, git, node) against a
seed-shaped place: a monorepo checkout with the API in backend/api, node and pm2 only under nvm
(not on the PATH), a running "PM2" (its pid file and `pm2 jlist`), and the app on a port."""

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
import yaml

from cookcam_ops.config import OpsConfig
from cookcam_ops.errors import UsageError
from cookcam_ops.initconfig import render
from cookcam_ops.remote.discover import choose_app, discover, safe_url
from cookcam_ops.remote.protocol import RunResult

NODE = shutil.which("node")


class LocalHost:
    """A Transport that runs commands on this machine with a given environment."""

    label = "web1"

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(
        self, command: str, *, timeout: float | None = None, on_line: object = None
    ) -> RunResult:
        done = subprocess.run(
            ["sh", "-c", command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return RunResult(command, done.returncode, done.stdout, done.stderr, 0.0)

    def read_file(self, path: str) -> bytes | None:
        p = Path(path)
        return p.read_bytes() if p.is_file() else None

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        raise AssertionError("discovery writes nothing")

    def close(self) -> None:
        return None


@pytest.fixture
def health_port() -> Iterator[int]:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/api/health" else 404)
            self.end_headers()
            self.wfile.write(b'{"status":"ok"}')

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def seed_host(tmp: Path, port: int) -> dict[str, str]:
    home = tmp / "home"
    top = home / "var" / "www" / "cookcam"
    api = top / "backend" / "api"
    api.mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(top)], check=True)
    (api / "ecosystem.config.js").write_text("module.exports = {apps: []}\n")
    (api / ".env").write_text(f"JWT_SECRET=S3NT1N3L-discover\nPORT={port}\n")
    (api.parent / "api.ops").mkdir()  # a legacy state dir the probe would adopt: init must not
    subprocess.run([*git, "-C", str(top), "add", "backend/api/ecosystem.config.js"], check=True)
    subprocess.run([*git, "-C", str(top), "commit", "-qm", "one"], check=True)
    subprocess.run(
        [
            *git,
            "-C",
            str(top),
            "remote",
            "add",
            "origin",
            "https://ci:t0ken@github.com/cookcam/cookcam.git",
        ],
        check=True,
    )
    nvm = home / ".nvm" / "versions" / "node" / "v20.11.1" / "bin"
    nvm.mkdir(parents=True)
    assert NODE is not None
    (nvm / "node").symlink_to(NODE)
    jlist = [
        {
            "name": "cookcam-api",
            "pid": 11,
            "pm_id": i,
            "monit": {},
            "pm2_env": {
                "status": "online",
                "exec_mode": "cluster_mode",
                "instances": 2,
                "pm_cwd": str(api),
                "env": {"JWT_SECRET": "S3NT1N3L-discover"},
            },
        }
        for i in (0, 1)
    ] + [
        {
            "name": "worker",
            "pid": 12,
            "pm_id": 2,
            "monit": {},
            "pm2_env": {"status": "online", "pm_cwd": "/srv/w"},
        }
    ]
    (nvm / "pm2").write_text(f"#!/bin/sh\n[ \"$1\" = jlist ] && echo '{json.dumps(jlist)}'\n")
    (nvm / "npm").write_text("#!/bin/sh\necho 10.2.4\n")
    for tool in ("pm2", "npm"):
        (nvm / tool).chmod(0o755)
    (home / ".pm2").mkdir()
    (home / ".pm2" / "pm2.pid").write_text(str(os.getpid()))  # a live pid: "the daemon runs"
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "PM2_HOME": str(home / ".pm2")}


@pytest.mark.skipif(NODE is None, reason="node is a project requirement (ensure-deps)")
def test_discovers_a_seed_shaped_host_and_writes_an_ops_yaml_that_loads(
    tmp_path: Path, health_port: int
) -> None:
    env = seed_host(tmp_path, health_port)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    found = discover(LocalHost(env))
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # read only
    api = Path(env["HOME"]) / "var/www/cookcam/backend/api"
    nvm = str(Path(env["HOME"]) / ".nvm/versions/node/v20.11.1/bin")
    assert found.toolchain.ok and nvm in found.toolchain.dirs
    assert (found.app.name, found.instances, found.app.exec_mode) == ("cookcam-api", 2, "cluster")
    w = found.where
    assert (w.path, w.place.subdir, w.branch) == (str(api), "backend/api", "main")
    assert w.place.top == str(api.parents[1]) and w.remote == "origin"
    assert w.remote_url == "https://github.com/cookcam/cookcam.git"  # no user:token
    assert (w.env_file, w.ecosystem) == (".env", "ecosystem.config.js")
    assert (w.port, w.health_path) == (health_port, "/api/health")
    assert found.others == ("worker",)
    text = render(found, "deploy@web1.example.com:2222", "production", {})
    assert "S3NT1N3L" not in text and "t0ken" not in text
    assert "S3NT1N3L" not in json.dumps(found.to_dict())
    config = OpsConfig.model_validate(yaml.safe_load(text))
    assert config.app.path == str(api) and config.app.health_path == "/api/health"
    assert config.environments["production"].hosts[0].ssh == "deploy@web1.example.com:2222"
    assert "backend/api/ in it" in text and f"from {nvm} (nvm)" in text
    assert "# git: " in text and "origin is https://github.com/cookcam/cookcam.git." in text
    assert "repo:" not in text  # the URL is a note, not a key (app.repo is ignored)


def test_choosing_the_app() -> None:
    from cookcam_ops.pm2.procs import parse_process

    procs = [
        parse_process({"name": n, "pm_id": i}, None)
        for i, n in enumerate(["worker", "cookcam-api", "cookcam-api"])
    ]
    mine, others = choose_app(procs, None)
    assert [p.pm_id for p in mine] == [1, 2] and others == ("worker",)
    with pytest.raises(UsageError, match="--app NAME"):
        choose_app([procs[0], parse_process({"name": "x"}, None)], None)
    with pytest.raises(UsageError, match="PM2 runs no app"):
        choose_app([], None)
    assert safe_url("git@github.com:cookcam/cookcam.git") == "git@github.com:cookcam/cookcam.git"
