"""Running and timing programs for the suite: output to a log file, never to the terminal."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class BenchError(Exception):
    """A benchmark could not be measured (the message says what and where to look)."""


@dataclass(frozen=True)
class Done:
    """A finished program: exit code, wall and CPU seconds (its own and its children's)."""

    rc: int
    seconds: float
    stdout: str
    stderr: str
    cpu_s: float = 0.0


def ops_env() -> dict[str, str]:
    """The environment for cookcam-ops subprocesses: this checkout first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("COOKCAM_OPS_CONFIG", None)
    env["NO_COLOR"] = "1"
    return env


def ops_argv(*args: str) -> list[str]:
    """`cookcam-ops ARGS` as this checkout's code, run by this interpreter."""
    return [sys.executable, "-m", "cookcam_ops", *args]


def run(
    argv: Sequence[str],
    log: Path,
    *,
    timeout: float = 600.0,
    env: dict[str, str] | None = None,
    check: bool = True,
    cwd: Path | None = None,
) -> Done:
    """Run argv; stderr (and stdout) appended to log; BenchError on a non-zero exit if check."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env if env is not None else ops_env(),
            check=False,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        raise BenchError(
            f"{Path(argv[0]).name} {' '.join(argv[1:3])}: timed out after "
            f"{timeout:.0f}s (see {log})"
        ) from e
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(
            f"$ {' '.join(argv)}\n[exit {done.returncode} in {seconds:.2f}s]\n"
            f"{done.stdout[-4000:]}{done.stderr[-4000:]}\n"
        )
    if check and done.returncode != 0:
        raise BenchError(
            f"{Path(argv[0]).name} {' '.join(argv[1:4])}: exit {done.returncode} (see {log})"
        )
    return Done(done.returncode, seconds, done.stdout, done.stderr, cpu)
