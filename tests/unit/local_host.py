"""A Transport that runs commands in a local `sh`: for the lock's shell scripts, for real."""

from __future__ import annotations

import subprocess
import time

from cookcam_ops.remote.protocol import TIMEOUT_EXIT, RunResult
from tests.unit.deploy_fakes import FakeTransport


class LocalHost(FakeTransport):
    """Runs each command with `sh -c` on this machine (real files, real rename(2))."""

    def __init__(self, label: str = "local") -> None:
        super().__init__(label, [])

    def run(
        self, command: str, *, timeout: float | None = None, on_line: object = None
    ) -> RunResult:
        self.log.append((self.label, command))
        started = time.monotonic()
        try:
            done = subprocess.run(
                ["sh", "-c", command], capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return RunResult(command, TIMEOUT_EXIT, "", "timed out", time.monotonic() - started)
        return RunResult(
            command, done.returncode, done.stdout, done.stderr, time.monotonic() - started
        )
