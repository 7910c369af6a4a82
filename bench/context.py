"""What every figure's measure() gets: the work dir, how many pairs, the sandbox, a log."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.proc import BenchError, Done, ops_argv, run
from bench.sandbox import Sandbox


@dataclass(frozen=True)
class Context:
    """One run of the suite."""

    workdir: Path
    pairs: int  # pairs for the figures that take seconds per sample
    startup_runs: int  # pairs for the start-up figures (milliseconds each)
    quick: bool  # development run: smaller loads
    sandbox_: Sandbox | None

    @property
    def sandbox(self) -> Sandbox:
        if self.sandbox_ is None:
            raise BenchError("this figure needs the sandbox")
        return self.sandbox_

    @property
    def load_seconds(self) -> float:
        """Seconds of load per drain sample."""
        return 3.0 if self.quick else 5.0

    @property
    def log(self) -> Path:
        return self.workdir / "bench.log"

    def say(self, text: str) -> None:
        """Progress for people, on stderr."""
        print(f"bench: {text}", file=sys.stderr, flush=True)

    def ops_json(self, config: Path, *args: str, timeout: float = 900.0) -> tuple[Done, Any]:
        """Run `cookcam-ops --config CONFIG ARGS --json`; (how it ran, document); exit 0 only."""
        done = run(ops_argv("--config", str(config), *args, "--json"), self.log, timeout=timeout)
        return done, json.loads(done.stdout)
