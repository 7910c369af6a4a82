"""The run log: the full output of every step of a run, one file per host, kept locally.

`$XDG_STATE_HOME/cookcam-ops/runs/<UTC time>-<action>-<environment>-<id>/` (default
`~/.local/state/cookcam-ops/...`): `run.log` (phases and each host's outcome) and `<host>.log`
(each step's output, line by line, as it ran). Step output arrives masked with the host's .env
values (deploy.session), so no secret is written. A run log is an observer: it never fails or
slows a run; a write that fails (a full disk) turns it off and is reported once. Bounded: each
file stops at MAX_FILE_BYTES, and only the newest KEEP_RUNS runs are kept.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from cookcam_ops.canary.view import SampleView
    from cookcam_ops.deploy.result import StepResult

KEEP_RUNS = 50
MAX_FILE_BYTES = 20 * 1024 * 1024
TAIL_LINES = 12
_RUN_DIR_RE = re.compile(r"^\d{8}T\d{6}Z-[a-z-]+-[A-Za-z0-9_.-]+-[0-9a-f]{6}$")
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_.:-]")


def state_dir() -> Path:
    """cookcam-ops' state directory: $XDG_STATE_HOME/cookcam-ops, else ~/.local/state/..."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "cookcam-ops"


def _now() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


class RunLog:
    """A DeployObserver writing each host's step output to its own file (thread-safe)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.error: str | None = None
        # Re-entrant: Ctrl-C's handler (deploy.fleet.InterruptGuard) writes a phase from the
        # main thread, which may be inside a write already; a plain Lock deadlocked there.
        self._lock = threading.RLock()
        self._files: dict[str, tuple[IO[str], list[int]]] = {}
        self._current: dict[str, str] = {}
        self._tails: dict[tuple[str, str], deque[str]] = {}

    @classmethod
    def open(cls, action: str, environment: str, root: Path | None = None) -> RunLog:
        """A new run directory (mode 700) under root/runs; the oldest runs beyond KEEP_RUNS go."""
        runs = (root or state_dir()) / "runs"
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        log = cls(runs / f"{stamp}-{action}-{environment}-{secrets.token_hex(3)}")
        try:
            runs.mkdir(parents=True, exist_ok=True, mode=0o700)
            log.dir.mkdir(mode=0o700)
            _prune(runs, KEEP_RUNS)
        except OSError as e:
            log.error = f"cannot write the run log in {runs} ({e.strerror or type(e).__name__})"
        log.phase(f"{action} {environment}")
        return log

    def host_path(self, host: str) -> Path:
        return self.dir / f"{_UNSAFE_RE.sub('_', host)}.log"

    def tail(self, host: str, step: str) -> list[str]:
        """The last lines a step printed on a host (masked)."""
        with self._lock:
            return list(self._tails.get((host, step), ()))

    def _write(self, name: str, path: Path, text: str) -> None:
        with self._lock:
            if self.error is not None:
                return
            try:
                if name not in self._files:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                    self._files[name] = (os.fdopen(fd, "w", encoding="utf-8"), [0])
                handle, written = self._files[name]
                if written[0] >= MAX_FILE_BYTES:
                    return
                if written[0] + len(text) >= MAX_FILE_BYTES:
                    text = (
                        f"[run log: {MAX_FILE_BYTES // (1024 * 1024)} MiB reached, the rest "
                        "of this file is dropped]\n"
                    )
                    written[0] = MAX_FILE_BYTES
                written[0] += len(text)
                handle.write(text)
                handle.flush()
            except OSError as e:
                self.error = f"cannot write {path} ({e.strerror or type(e).__name__})"

    def phase(self, message: str) -> None:
        self._write("", self.dir / "run.log", f"{_now()} {message}\n")

    def step_started(self, host: str, step: str) -> None:
        with self._lock:
            self._current[host] = step
            self._tails[(host, step)] = deque(maxlen=TAIL_LINES)
        self._write(host, self.host_path(host), f"{_now()} == {step}\n")

    def step_output(self, host: str, stream: str, line: str) -> None:
        from cookcam_ops.logs import clean_line

        line = clean_line(line)
        with self._lock:
            tail = self._tails.get((host, self._current.get(host, "")))
            if tail is not None:
                tail.append(line)
        self._write(host, self.host_path(host), f"{_now()} {stream} | {line}\n")

    def step_finished(self, host: str, result: StepResult) -> None:
        detail = f": {result.detail}" if result.detail else ""
        self._write(
            host,
            self.host_path(host),
            f"{_now()} == {result.name} {result.status} ({result.duration_s:.1f}s){detail}\n",
        )

    def host_finished(self, host: str, outcome: str) -> None:
        self.phase(f"{host}: {outcome}")

    def sampled(self, view: SampleView) -> None:
        self.phase(view.summary())

    def close(self) -> None:
        with self._lock:
            for handle, _ in self._files.values():
                handle.close()
            self._files.clear()


def _prune(runs: Path, keep: int) -> None:
    """Delete the oldest run directories (only ones this module names) beyond keep."""
    ours = sorted(p for p in runs.iterdir() if p.is_dir() and _RUN_DIR_RE.match(p.name))
    for old in ours[:-keep] if len(ours) > keep else []:
        shutil.rmtree(old, ignore_errors=True)
