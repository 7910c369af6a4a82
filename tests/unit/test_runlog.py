"""The run log and masking: full step output per host, masked with the host's .env values,
bounded, and never able to fail a run."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from cookcam_ops.config import HostConfig
from cookcam_ops.deploy.result import StepResult, StepStatus
from cookcam_ops.deploy.session import HostSession
from cookcam_ops.masking import Masker
from cookcam_ops.remote.capture import Lines
from cookcam_ops.remote.fanout import target
from cookcam_ops.remote.protocol import RunResult
from cookcam_ops.runlog import KEEP_RUNS, RunLog, state_dir
from tests.conftest import SENTINEL
from tests.unit.deploy_fakes import APP

ENV = (
    f"NODE_ENV=production\nPORT=3000\nJWT_SECRET={SENTINEL}-jwt\n"
    f'PEM="-----BEGIN KEY-----\n{SENTINEL}line2\n-----END KEY-----"\nSHORT=abc\n'
).encode()


def test_masker_hides_secret_values_not_ordinary_words() -> None:
    m = Masker.from_dotenv(ENV)
    text = f"NODE_ENV is production on 3000; secret {SENTINEL}-jwt; key {SENTINEL}line2; abc"
    assert m.mask(text) == "NODE_ENV is production on 3000; secret ***; key ***; abc"
    assert SENTINEL not in repr(m) and Masker.from_dotenv(None).mask("x") == "x"


def test_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_dir() == tmp_path / "cookcam-ops"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert state_dir() == Path(os.path.expanduser("~/.local/state/cookcam-ops"))


def test_run_log_keeps_each_hosts_steps_and_their_tails(tmp_path: Path) -> None:
    log = RunLog.open("deploy", "production", root=tmp_path)
    log.step_started("web1", "build")
    for i in range(30):
        log.step_output("web1", "out", f"line {i}")
    log.step_output("web1", "err", "npm ERR! boom")
    log.step_finished("web1", StepResult("build", StepStatus.FAILED, 3.0, "exit 1: npm ERR! boom"))
    log.host_finished("web1", "failed")
    log.close()
    text = log.host_path("web1").read_text()
    assert "== build\n" in text and "out | line 0\n" in text and "err | npm ERR! boom" in text
    assert "== build failed (3.0s): exit 1: npm ERR! boom" in text
    assert log.tail("web1", "build")[-1] == "npm ERR! boom" and len(log.tail("web1", "build")) == 12
    assert "web1: failed" in (log.dir / "run.log").read_text()
    assert stat.S_IMODE(log.dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(log.host_path("web1").stat().st_mode) == 0o600
    assert log.dir.parent == tmp_path / "runs" and log.error is None


def test_only_the_newest_runs_are_kept(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    for i in range(KEEP_RUNS + 5):
        (runs / f"20250101T0000{i:02d}Z-deploy-prod-abc123").mkdir()
    (runs / "not-ours").mkdir()
    RunLog.open("rollback", "prod", root=tmp_path).close()
    left = sorted(p.name for p in runs.iterdir())
    assert len(left) == KEEP_RUNS + 1 and "not-ours" in left
    assert "20250101T000000Z-deploy-prod-abc123" not in left


def test_a_run_log_that_cannot_be_written_never_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("a file where the directory should be")
    log = RunLog.open("deploy", "prod", root=tmp_path)
    log.step_started("web1", "build")
    log.step_output("web1", "out", "x")
    assert log.error is not None and "cannot write the run log" in log.error


def test_lines_are_handed_over_whole_and_bounded() -> None:
    got: list[tuple[str, str]] = []
    lines = Lines("out", lambda s, line: got.append((s, line)))
    lines.write("first\r\nsec")
    lines.write("ond\nthird")
    assert got == [("out", "first"), ("out", "second")]
    lines.close()
    assert got[-1] == ("out", "third")

    def broken(stream: str, line: str) -> None:
        raise BrokenPipeError

    Lines("err", broken).write("a display that fails does not fail the step\n")


class EnvTransport:
    label = "web1"

    def __init__(self) -> None:
        self.reads = 0

    def run(
        self, command: str, *, timeout: float | None = None, on_line: object = None
    ) -> RunResult:
        if not callable(on_line):  # the probe at connect: no answer, the target stays as is
            return RunResult(command, 0, "", "", 0.0)
        on_line("out", f"starting with {SENTINEL}-jwt")
        return RunResult(command, 1, f"out {SENTINEL}-jwt", f"err {SENTINEL}-jwt", 0.1)

    def read_file(self, path: str) -> bytes | None:
        assert path == "/srv/api/.env"
        self.reads += 1
        return ENV

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        return None

    def close(self) -> None:
        return None


def test_a_sessions_step_output_is_masked_at_the_edge() -> None:
    transport = EnvTransport()
    session = HostSession(
        target(HostConfig(ssh="d@web1", name="web1"), APP), lambda host: transport
    )
    session.connect()
    seen: list[str] = []
    for _ in range(2):
        result = session.run("npm run build", on_line=lambda s, line: seen.append(line))
    assert seen == ["starting with ***"] * 2
    assert SENTINEL not in result.stdout + result.stderr and transport.reads == 1


def test_a_write_from_inside_a_write_does_not_deadlock(tmp_path: Path) -> None:
    """Ctrl-C's handler writes a phase on the main thread, maybe while it is writing already
    (a second Ctrl-C while the first one's line is written deadlocked a deploy for good)."""
    log = RunLog.open("deploy", "prod", root=tmp_path)

    def nested() -> None:
        with log._lock:  # the main thread inside a write when the signal arrives
            log.phase("SIGINT again: cutting host1")

    t = threading.Thread(target=nested, daemon=True)
    t.start()
    t.join(timeout=5)
    assert not t.is_alive(), "a nested write deadlocked"
    log.close()
    assert "SIGINT again: cutting host1" in (log.dir / "run.log").read_text()
