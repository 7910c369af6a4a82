"""The session agent (remote/agent.py + hostside/agent.js) for real, on this machine.

A pipe to a local `sh -c LAUNCHER` stands in for the SSH channel: the launcher, the probe's
hand-over, the node agent and the client's framing are the ones a host runs.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from cookcam_ops.errors import ConfigError, HostError
from cookcam_ops.limits import OUTPUT_CAP
from cookcam_ops.remote.agent import AgentTransport, Launch, launcher
from cookcam_ops.remote.protocol import RunResult

NODE_DIR = str(
    Path(subprocess.check_output(["sh", "-c", "command -v node"], text=True).strip()).parent
)


def alive(pid: int) -> bool:
    """pid runs (a zombie waiting for a reaper that may not come here does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


class PipeChannel:
    """A paramiko-like channel over a local process's stdin/stdout.

    Its stdout is never closed while a reader may be in recv(): a closed descriptor's number is
    reused by the next test's pipe, and the old session's reader thread would read the new
    one's answers. close() only marks it closed; recv() then returns the end (as paramiko's
    does), and the file is closed when the channel is collected."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self.timeout: float | None = None
        self.closed = False

    def sendall(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        if self.closed:
            raise OSError("the channel is closed")
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def recv(self, nbytes: int) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while not self.closed:
            if select.select([fd], [], [], 0.05)[0]:
                return os.read(fd, nbytes)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError
        return b""

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def close(self) -> None:
        self.closed = True
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()


class LocalHost:
    """A ChannelHost whose channels are local processes (its own run: the exec fallback)."""

    def __init__(self, path: str = "/usr/bin:/bin") -> None:
        self.label = "local"
        self.env = {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "SHELL": "/bin/sh"}
        self.channels: list[PipeChannel] = []
        self.execs: list[str] = []
        self.closed = False

    def open_channel(self, command: str) -> PipeChannel:
        channel = PipeChannel(command, self.env)
        self.channels.append(channel)
        return channel

    def run(
        self, command: str, *, timeout: float | None = None, on_line: object = None
    ) -> RunResult:
        self.execs.append(command)
        done = subprocess.run(
            ["/bin/sh", "-c", command],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        return RunResult(command, done.returncode, done.stdout, done.stderr, 0.0)

    def read_file(self, path: str) -> bytes | None:
        raise AssertionError("the agent reads files")

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        raise AssertionError("the agent writes files")

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def host() -> LocalHost:
    return LocalHost()


def session(host: LocalHost, probe: str = "echo probed") -> tuple[Launch, AgentTransport]:
    launch = Launch(host, probe, 10)
    transport = launch.session((NODE_DIR,))
    assert isinstance(transport, AgentTransport), "the agent did not start"
    return launch, transport


def test_the_probe_answers_then_every_command_runs_in_the_same_session(host: LocalHost) -> None:
    launch, t = session(host, "echo probed; echo 'section two'")
    assert launch.stdout.strip().splitlines() == ["probed", "section two"]
    first = t.run("echo $PPID; echo to-err >&2; exit 3", timeout=10)
    second = t.run("echo $PPID", timeout=10)
    assert (first.exit_code, first.stderr.strip()) == (3, "to-err")
    assert first.stdout == second.stdout  # both children of the one agent
    assert len(host.channels) == 1 and host.execs == []
    t.close()
    assert host.closed


def test_output_is_streamed_a_line_at_a_time_and_kept_apart(host: LocalHost) -> None:
    _, t = session(host)
    seen: list[tuple[str, str]] = []
    r = t.run(
        "printf 'a\\nb'; echo e >&2; sleep 0.2; echo c",
        timeout=10,
        on_line=lambda s, line: seen.append((s, line)),
    )
    assert r.stdout == "a\nbc\n" and r.stderr == "e\n"
    assert ("out", "bc") in seen and ("err", "e") in seen and ("out", "a") in seen
    t.close()


def test_a_timeout_stops_the_whole_process_group(host: LocalHost, tmp_path: Path) -> None:
    _, t = session(host)
    pidfile = tmp_path / "child"
    r = t.run(f"sleep 30 & echo $! > {pidfile}; wait", timeout=1)
    assert r.timed_out and "timed out after 1s" in r.stderr
    time.sleep(0.2)
    assert not alive(int(pidfile.read_text()))
    assert t.run("echo still here", timeout=5).stdout == "still here\n"
    t.close()


def test_ctrl_c_while_waiting_stops_the_command(host: LocalHost, tmp_path: Path) -> None:
    _, t = session(host)
    pidfile = tmp_path / "pid"
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        t.run(f"echo $$ > {pidfile}; exec sleep 30", timeout=60)
    time.sleep(0.5)
    assert not alive(int(pidfile.read_text()))
    assert t.run("echo next", timeout=5).stdout == "next\n"
    t.close()


def test_the_session_dying_mid_command_is_a_lost_connection(host: LocalHost) -> None:
    _, t = session(host)
    channel = host.channels[0]
    threading.Timer(0.5, lambda: os.killpg(channel.proc.pid, signal.SIGKILL)).start()
    with pytest.raises(HostError, match="local: connection lost"):
        t.run("sleep 20", timeout=60)
    with pytest.raises(HostError, match="connection lost"):
        t.run("true", timeout=5)


def test_files_are_read_and_written_through_the_agent(host: LocalHost, tmp_path: Path) -> None:
    _, t = session(host)
    path = str(tmp_path / "app.env")
    t.write_file(path, b"SECRET=s3cr3t\n\x00binary", 0o640)
    assert (os.stat(path).st_mode & 0o777) == 0o640
    assert t.read_file(path) == b"SECRET=s3cr3t\n\x00binary"
    assert t.read_file(str(tmp_path / "missing")) is None
    with pytest.raises(ConfigError, match="is not a regular file"):
        t.read_file(str(tmp_path))
    with pytest.raises(ConfigError, match="larger than the 0 KiB"):
        t.read_file(path, cap=10)
    with pytest.raises(HostError, match="cannot write") as e:
        t.write_file(str(tmp_path / "no" / "dir"), b"SECRET=s3cr3t", 0o600)
    assert "s3cr3t" not in str(e.value)
    t.close()


def test_output_past_the_cap_keeps_head_and_tail(host: LocalHost) -> None:
    _, t = session(host)
    r = t.run("head -c 6000000 /dev/zero | tr '\\0' x; echo END", timeout=30)
    assert len(r.stdout) <= OUTPUT_CAP + 100 and r.stdout.endswith("xEND\n")
    assert "output cut" in r.stdout
    t.close()


def test_a_host_without_node_keeps_an_exec_channel_per_command() -> None:
    host = LocalHost(path="/nowhere")
    launch = Launch(host, "echo probed", 10)
    t = launch.session(("/nonexistent",))
    assert not isinstance(t, AgentTransport)
    assert t.run("echo $PATH").stdout == "/nonexistent:/nowhere\n"
    assert host.execs


def test_the_launcher_never_runs_what_it_reads(host: LocalHost, tmp_path: Path) -> None:
    """The toolchain line is data: PATH, never a command."""
    marker = tmp_path / "ran"
    channel = host.open_channel(launcher("true"))
    channel.sendall(f"go$(touch {marker}):/x\n".encode())
    time.sleep(1)
    channel.close()
    assert not marker.exists()


class Chunks:
    """A channel that hands over fixed chunks, then the end."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def recv(self, nbytes: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


def test_frames_are_whole_lines_however_the_bytes_arrive() -> None:
    from cookcam_ops.remote.agent import _frames

    got = list(_frames(Chunks(b'{"a":', b'1}\n{"b"', b':2}\n\n{"c":3}\n'), b""))  # type: ignore[arg-type]
    assert got == [b'{"a":1}', b'{"b":2}', b"", b'{"c":3}']


def test_an_answer_past_the_frame_cap_ends_the_session() -> None:
    from cookcam_ops.remote.agent import MAX_FRAME, _frames

    endless = Chunks(*([b"x" * 65536] * (MAX_FRAME // 65536 + 2)))
    with pytest.raises(ValueError, match="longer than"):
        list(_frames(endless, b""))  # type: ignore[arg-type]
