"""A few hundred seeded mutations of a valid ops.yaml, playbook, schema and .env against the
loaders: no traceback, exit codes 0, 1 or 2 only, each case within 2 s and 200 MB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parents[1] / "fuzz_loaders.py"
CASES, SEED = 400, 1414
MB = 1024  # ru_maxrss is in KB on Linux


def test_mutated_inputs_give_one_clear_error_fast_and_small() -> None:
    done = subprocess.run(
        [sys.executable, str(FUZZ), str(CASES), str(SEED)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    *rows, peak = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == CASES
    bugs = [r for r in rows if r["error"]]
    assert not bugs, f"{len(bugs)} tracebacks, the first:\n{bugs[0]['error']}"
    assert {r["code"] for r in rows} <= {0, 1, 2}
    assert {r["kind"] for r in rows if r["code"] == 2} == {"ops.yaml", "playbook", "schema", "env"}
    # CPU time: the machine is shared (the harness's own alarm stops a case after 10 s of wall)
    slow = [r for r in rows if r["cpu"] >= 2.0]
    assert not slow, slow[:3]
    assert peak["maxrss_kb"] - peak["baseline_kb"] < 200 * MB, peak
