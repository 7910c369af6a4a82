"""Start-up time: `cookcam-ops --help` and `env validate` against a bare two-command Typer app.

Run: python bench/startup.py [--runs N]. Every figure is a ratio measured in the same run
(interleaved, so machine noise hits both sides alike); medians with min and max.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BARE_APP = '''
import typer
app = typer.Typer()
@app.command()
def first() -> None:
    """One."""
@app.command()
def second() -> None:
    """Two."""
app()
'''


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    from tests.conftest import VALID_ENV, env_text

    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        env = Path(tmp) / ".env"
        env.write_text(env_text(dict(VALID_ENV)))
        commands = {
            "bare_typer_help": [sys.executable, str(bare), "--help"],
            "cookcam_ops_help": [sys.executable, "-m", "cookcam_ops", "--help"],
            "cookcam_ops_env_validate": [sys.executable, "-m", "cookcam_ops", "env", "validate",
                                         str(env), "--json"],
        }
        for cmd in commands.values():  # warm the page cache and .pyc files
            timed(cmd)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                samples[name].append(timed(cmd))
    base = statistics.median(samples["bare_typer_help"])
    result = {name: summary(s) for name, s in samples.items()}
    ratios = {name: statistics.median(s) / base for name, s in samples.items()}
    print(json.dumps({"runs": args.runs, "results": result, "ratio_to_bare_typer": ratios,
                      "goal": "<= 1.25"}, indent=2))


if __name__ == "__main__":
    main()
