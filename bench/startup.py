"""Figure 1, start-up: `cookcam-ops --help` and `env validate` against a bare Typer app's --help.

The three commands run interleaved (noise hits all alike), each pair giving one ratio. Our
package is byte-compiled first, as `pip install` does: the environment may set
PYTHONDONTWRITEBYTECODE, and recompiling our sources on every start is not what users run.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.context import Context
from bench.figures import Figure, Goal
from bench.proc import ROOT, ops_argv, ops_env
from cookcam_ops.sandbox.files import app_env, env_text

GOAL = Goal("<=", 1.25)
BARE_APP = '''import typer
app = typer.Typer()
@app.command()
def first() -> None:
    """One."""
@app.command()
def second() -> None:
    """Two."""
app()
'''


def _timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of argv."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        env=ops_env(),
        cwd=cwd,
        timeout=60,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])}: exit {done.returncode}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(ctx: Context) -> list[Figure]:
    """Two figures: --help and env validate, each over the bare app's --help."""
    runs = ctx.startup_runs
    here = ctx.workdir / "startup"
    here.mkdir()
    (here / "bare.py").write_text(BARE_APP, encoding="utf-8")
    env_file = here / "valid.env"
    env_file.write_text(
        env_text(app_env(3000, "http://127.0.0.1:9", "x" * 40, "4500001")), encoding="utf-8"
    )
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "cookcam_ops")],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )
    bare = [sys.executable, str(here / "bare.py"), "--help"]
    commands = {
        "help": ops_argv("--help"),
        "env-validate": ops_argv("env", "validate", str(env_file), "--json"),
    }
    theirs = "bare 2-command Typer app --help"
    figures = {
        "help": Figure("startup-help", "Start-up: `cookcam-ops --help`", "ours", theirs, "s", GOAL),
        "env-validate": Figure(
            "startup-env-validate",
            "Start-up: `cookcam-ops env validate` (valid file)",
            "ours",
            theirs,
            "s",
            GOAL,
        ),
    }
    for argv in (bare, *commands.values()):  # warm the page cache
        _timed(argv, here)
    cpu_ratios: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        base, base_cpu = _timed(bare, here)
        for name, argv in commands.items():
            wall, cpu = _timed(argv, here)
            figures[name].add(wall, base)
            cpu_ratios[name].append(cpu / base_cpu)
    for name, f in figures.items():
        f.notes = (
            f"wall time of a fresh process, {runs} interleaved runs, cwd without ops.yaml; "
            "same interpreter and site-packages for both; CPU-time ratio (less "
            f"sensitive to other load) {statistics.median(cpu_ratios[name]):.2f}×"
        )
    figures["env-validate"].notes += (
        "; of what remains, Typer's own coercion of every option through pydantic "
        "TypeAdapters (the bare app's --help never coerces), our schema models, and YAML"
    )
    return list(figures.values())
