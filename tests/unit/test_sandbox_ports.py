"""Sandbox ports and processes: free loopback ports, and stopping only our own pids."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from cookcam_ops.sandbox import procs


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = procs.pick_free_ports(10)
    assert len(set(ports)) == 10
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_port_open_and_ssh_banner() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert procs.port_open(port)
        assert not procs.ssh_banner(port, timeout=0.3)  # listens, but says nothing
    assert not procs.port_open(port)


def _sleeper(tmp_path: Path, marker: str) -> int:
    return procs.spawn_detached(
        [sys.executable, "-c", "import time; time.sleep(60)", marker], tmp_path / "sleeper.log"
    )


def test_spawn_detached_then_stop_by_pid(tmp_path: Path) -> None:
    pid = _sleeper(tmp_path, "cookcam-marker-1")
    assert procs.wait_until(lambda: "cookcam-marker-1" in procs.cmdline(pid), 5)
    assert procs.owned_alive(pid, "cookcam-marker-1")
    assert procs.stop_pid(pid, "cookcam-marker-1").how == "term"
    assert not procs.pid_alive(pid)
    assert procs.stop_pid(pid, "cookcam-marker-1").how == "gone"


def test_stop_pid_skips_a_pid_that_is_not_ours(tmp_path: Path) -> None:
    pid = _sleeper(tmp_path, "cookcam-marker-2")
    try:
        assert procs.wait_until(lambda: "cookcam-marker-2" in procs.cmdline(pid), 5)
        assert procs.stop_pid(pid, "some-other-sandbox").how == "skipped"
        assert procs.pid_alive(pid)
    finally:
        procs.stop_pid(pid, "cookcam-marker-2")


def test_stop_pid_escalates_to_sigkill(tmp_path: Path) -> None:
    code = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    log = tmp_path / "stubborn.log"
    pid = procs.spawn_detached([sys.executable, "-c", code, "cookcam-stubborn"], log)
    assert procs.wait_until(lambda: "ready" in log.read_text(), 10)
    assert procs.stop_pid(pid, "cookcam-stubborn", grace=0.3).how == "kill"
    assert not procs.pid_alive(pid)


def test_zombie_child_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert procs.wait_until(lambda: not procs.pid_alive(child.pid), 10)
    child.wait()


def test_read_pid_file(tmp_path: Path) -> None:
    assert procs.read_pid_file(tmp_path / "missing.pid") is None
    (tmp_path / "bad.pid").write_text("abc\n")
    assert procs.read_pid_file(tmp_path / "bad.pid") is None
    (tmp_path / "ok.pid").write_text("1234\n")
    assert procs.read_pid_file(tmp_path / "ok.pid") == 1234
