"""status: composite-script parsing, the PM2 whitelist, judgments, and the parallel fan-out."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest

from cookcam_ops.config import AppConfig, HostConfig
from cookcam_ops.errors import HostError
from cookcam_ops.hostside import script
from cookcam_ops.layout.lock import parse_lock_read
from cookcam_ops.pm2.procs import parse_jlist
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import Target, target
from cookcam_ops.remote.protocol import RunResult
from cookcam_ops.report import Status
from cookcam_ops.status import collect_status, judge_host, parse_status, status_script

SHA = "0123456789abcdef0123456789abcdef01234567"
SENTINEL = "S3NT1N3L-pm2env"


def sections(**parts: tuple[str, int]) -> str:
    """A composite script's stdout, as the markers print it."""
    out = []
    for name, (text, rc) in parts.items():
        out.append(f"\n@@cookcam-ops begin {name}@@\n{text}\n@@cookcam-ops end {name} {rc}@@\n")
    return "".join(out)


def jlist_doc(status: str = "online", n: int = 2) -> str:
    procs = [
        {
            "name": "cookcam-api",
            "pm_id": i,
            "pid": 100 + i,
            "cpu": 0.5,
            "memory": 50_000_000,
            "status": status,
            "exec_mode": "cluster_mode",
            "instances": n,
            "restart_time": 3,
            "unstable_restarts": 0,
            "pm_uptime": 1_000_000,
            "pm_cwd": "/srv/app",
            "kill_timeout": 10000,
        }
        for i in range(n)
    ]
    return json.dumps({"now": 1_060_000, "processes": procs})


def healthy_output(lock: str = "") -> str:
    record = {
        "id": "r1",
        "time": "2026-01-02T03:04:05Z",
        "action": "deploy",
        "user": "ana",
        "host": "web1",
        "from_sha": "f" * 40,
        "to_sha": SHA,
        "outcome": "deployed",
        "duration_s": 12.5,
        "ref": "main",
    }
    return sections(
        sha=(SHA, 0),
        history=(json.dumps(record), 0),
        lock=(lock, 0),
        pm2=(jlist_doc(), 0),
        health=(
            json.dumps({"status": 200, "ms": 4, "body": '{"status":"ok","version":"1.0.3"}'}),
            0,
        ),
    )


def test_composite_parse_splits_sections_and_exit_codes() -> None:
    unfinished = "\n@@cookcam-ops begin c@@\nx"
    parsed = composite.parse(sections(a=("one\ntwo", 0), b=("", 3)) + unfinished)
    assert parsed["a"].text == "one\ntwo" and parsed["a"].ok
    assert parsed["b"].exit_code == 3 and not parsed["b"].ok
    assert parsed["c"].exit_code is None and parsed["c"].text == "x"


def test_composite_script_runs_in_a_real_shell() -> None:
    script = composite.script(
        [("one", "echo hi"), ("two", "echo err >&2; exit 4"), ("three", "printf 'no newline'")]
    )
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    parsed = composite.parse(done.stdout)
    assert parsed["one"].text == "hi" and parsed["one"].ok
    assert parsed["two"].exit_code == 4
    assert parsed["three"].text == "no newline"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_pm2_filter_never_lets_pm2_env_env_leave_the_host() -> None:
    raw = [
        {
            "name": "cookcam-api",
            "pm_id": 0,
            "pid": 42,
            "monit": {"cpu": 1, "memory": 2},
            "pm2_env": {
                "status": "online",
                "exec_mode": "cluster_mode",
                "instances": 2,
                "env": {"JWT_SECRET": SENTINEL},
                "JWT_SECRET": SENTINEL,
                "pm_cwd": "/srv/app",
                "restart_time": 1,
                "pm_uptime": 5,
            },
        }
    ]
    done = subprocess.run(
        ["node", "-e", script("pm2_jlist_filter.js")],
        input="banner line\n" + json.dumps(raw),
        capture_output=True,
        text=True,
        check=True,
    )
    assert SENTINEL not in done.stdout
    processes, error = parse_jlist(json.loads(done.stdout))
    assert error is None
    assert processes[0].pid == 42 and processes[0].exec_mode == "cluster"


def test_parse_status_reads_every_section() -> None:
    status = parse_status("web1", healthy_output())
    assert status.sha == SHA
    assert status.since == "2026-01-02T03:04:05Z" and status.since_by == "ana"
    assert status.healthy is True and "1.0.3" in (status.health.detail if status.health else "")
    assert [p.online for p in status.processes] == [True, True]
    assert status.processes[0].uptime_s == 60.0
    assert status.lock is None
    assert all(c.status is Status.PASS for c in judge_host(status, "cookcam-api"))


def test_a_held_lock_is_shown_with_its_holder() -> None:
    held = '@@held\n{"owner":"bo","host":"laptop","pid":7,"command":"deploy","time":"t0"}'
    status = parse_status("web1", healthy_output(lock=held))
    assert status.lock is not None and status.lock.owner == "bo"
    lock_check = next(c for c in judge_host(status, "cookcam-api") if c.name == "lock")
    assert lock_check.status is Status.WARN and "bo@laptop" in lock_check.detail
    assert parse_lock_read("@@held\n").command == "(no info.json)"  # type: ignore[union-attr]
    assert parse_lock_read("") is None


def test_unhealthy_and_stopped_workers_fail() -> None:
    out = sections(
        sha=(SHA, 0),
        pm2=(jlist_doc(status="errored"), 0),
        health=(json.dumps({"error": "ECONNREFUSED"}), 0),
    )
    checks = {c.name: c for c in judge_host(parse_status("web1", out), "cookcam-api")}
    assert checks["health"].status is Status.FAIL and "ECONNREFUSED" in checks["health"].detail
    assert checks["pm2"].status is Status.FAIL and "errored" in checks["pm2"].detail


def test_a_missing_pm2_daemon_is_reported_not_started() -> None:
    assert "pm2 jlist" not in composite.pm2_jlist().split("then")[0]
    out = sections(sha=(SHA, 0), pm2=('{"error":"the PM2 daemon is not running"}', 0))
    pm2 = next(c for c in judge_host(parse_status("web1", out), "x") if c.name == "pm2")
    assert pm2.status is Status.FAIL and "not running" in pm2.detail


@dataclass
class FakeTransport:
    label: str
    stdout: str
    commands: list[str] = field(default_factory=list)

    def run(
        self, command: str, *, timeout: float | None = None, on_line: object = None
    ) -> RunResult:
        self.commands.append(command)
        return RunResult(command, 0, self.stdout, "", 0.01)

    def read_file(self, path: str) -> bytes | None:
        return None

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        raise AssertionError("status never writes")

    def close(self) -> None:
        pass


def targets() -> list[Target]:
    app = AppConfig()
    return [
        target(HostConfig(ssh="deploy@web1", name="web1"), app),
        target(HostConfig(ssh="deploy@web2", name="web2"), app),
    ]


def test_collect_status_reports_an_unreachable_host_and_uses_one_round_trip() -> None:
    made: dict[str, FakeTransport] = {}

    def connector(host: HostConfig) -> FakeTransport:
        if host.label == "web2":
            raise HostError("web2 (deploy@web2): could not connect (timed out after 10s)")
        made[host.label] = FakeTransport(host.label, healthy_output())
        return made[host.label]

    report = collect_status("production", targets(), connector)
    assert not report.ok
    doc = report.to_dict()
    assert [h["reachable"] for h in doc["hosts"]] == [True, False]
    assert "timed out" in doc["hosts"][1]["error"]
    assert len(made["web1"].commands) == 2  # the host probe, then the status script
    assert set(doc) >= {"ok", "hosts", "checks"}
    assert set(doc["hosts"][0]) >= {
        "name",
        "reachable",
        "sha",
        "since",
        "healthy",
        "processes",
        "lock",
    }


def test_status_script_quotes_the_app_path() -> None:
    app = AppConfig.model_construct(path="/srv/my app")  # refused by ops.yaml; quoted anyway
    script = status_script(target(HostConfig(ssh="web1"), app))
    assert "'/srv/my app'" in script
    assert "'/srv/my app.ops/lock'" in script


def test_a_missing_sha_is_explained_per_strategy() -> None:
    from cookcam_ops.status import HostStatus

    for strategy, words in (
        ("in-place", "git rev-parse HEAD failed"),
        ("releases", "no REVISION file in current/"),
    ):
        status = HostStatus(name="web1", reachable=True, strategy=strategy)
        sha = next(c for c in judge_host(status, "cookcam-api") if c.name == "sha")
        assert sha.status is Status.FAIL and words in sha.detail
