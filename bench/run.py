"""The benchmark suite: `make bench` (= `python bench/run.py`). Writes bench/RESULTS.md and
bench/results.json; every figure is a ratio of pairs measured back to back in this run.

It brings up a sandbox (`cookcam-ops sandbox up`, 8 hosts when fan-out runs, else 2 for the
canary, else 1; 2 more for the releases rollback row) in a temp dir and always takes it down
(`sandbox down`, by pid), on errors, Ctrl-C and SIGTERM too.
Options: --quick (fewer pairs, for development), --only NAME[,NAME] (a subset), --pairs N,
--use-sandbox DIR (an already running sandbox, left running), --keep (keep the temp dir).
Partial runs (--quick, --only) write to bench/partial/ so they never replace the full results.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import canary, deploy, diagnostic, drain_rate, fanout, handshakes, rollback, startup
from bench.context import Context
from bench.figures import Figure
from bench.proc import ROOT, BenchError
from bench.report import spread, this_machine, write_results
from bench.sandbox import Sandbox, attach, sandbox

SUITE: dict[str, Callable[[Context], list[Figure]]] = {
    "startup": startup.measure,
    "deploy": deploy.measure,
    "rollback": rollback.measure,
    "handshakes": handshakes.measure,
    "drain": drain_rate.measure,
    "canary": canary.measure,
    # Last: their light deploys switch git without building, which the others must not inherit.
    "fanout": fanout.measure,
    "diagnostic": diagnostic.measure,
}
NEEDS_SANDBOX = {"deploy", "fanout", "rollback", "handshakes", "drain", "canary", "diagnostic"}
FANOUT_HOSTS = 8
CANARY_HOSTS = 2  # the canary and its baseline: the sandbox's first two hosts


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer pairs (development)")
    parser.add_argument(
        "--only",
        type=lambda s: s.split(","),
        default=list(SUITE),
        metavar="NAME[,NAME]",
        help=f"any of: {', '.join(SUITE)}",
    )
    parser.add_argument("--pairs", type=int, help="pairs per figure (default 3, quick 1)")
    parser.add_argument(
        "--use-sandbox",
        type=Path,
        metavar="DIR",
        help="use this running sandbox (left running) instead of a new one",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument("--out", type=Path, help="where RESULTS.md and results.json go")
    args = parser.parse_args(argv)
    unknown = [n for n in args.only if n not in SUITE]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(SUITE)}")
    return args


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sandbox(
    args: argparse.Namespace, workdir: Path, say: Callable[[str], None]
) -> Iterator[Sandbox | None]:
    if not NEEDS_SANDBOX & set(args.only):
        yield None
    elif args.use_sandbox:
        yield attach(args.use_sandbox, workdir / "sandbox.log")
    else:
        # host1 for the one-host figures (the first 2 for the canary, 8 for fan-out), and the
        # releases row's hosts of their own at the end: they leave the in-place layout
        first = (
            FANOUT_HOSTS
            if {"fanout", "diagnostic"} & set(args.only)
            else CANARY_HOSTS
            if "canary" in args.only
            else 1
        )
        hosts = first + (rollback.RELEASES_HOSTS if "rollback" in args.only else 0)
        say(f"bringing up a {hosts}-host sandbox in {workdir}")
        with sandbox(workdir, hosts) as sb:
            yield sb
        say("sandbox down")


def _measure(name: str, ctx: Context) -> list[Figure]:
    ctx.say(f"{name}: measuring")
    try:
        figures = SUITE[name](ctx)
    except (BenchError, RuntimeError, OSError, ValueError) as e:
        ctx.say(f"{name}: could not measure: {e}")
        return [
            Figure(
                name,
                f"{name}: not measured",
                "ours",
                "theirs",
                "",
                None,
                status="error",
                notes=f"error: {e}",
            )
        ]
    for f in figures:
        ratio = f.ratio()
        ctx.say(
            f"  {f.name}: "
            + (spread(ratio, ratio=True) if ratio else f.status)
            + (f" (goal {f.goal})" if f.goal else "")
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the selected figures; write the results; 0 when every figure was measured."""
    args = _args(argv)
    partial = args.quick or set(args.only) != set(SUITE)
    out = args.out or (ROOT / "bench" / ("partial" if partial else ""))
    out.mkdir(parents=True, exist_ok=True)
    pairs = args.pairs or (1 if args.quick else 3)
    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="cookcam-bench-"))
    started = time.perf_counter()
    figures: list[Figure] = []
    startup_runs = 5 if args.quick else 21
    base = Context(workdir, pairs, startup_runs, args.quick, None)
    try:
        # What needs no sandbox runs first, on a machine not yet busy with one.
        for name in [n for n in args.only if n not in NEEDS_SANDBOX]:
            figures += _measure(name, base)
        with _sandbox(args, workdir, base.say) as sb:
            ctx = dataclasses.replace(base, sandbox_=sb)
            for name in [n for n in args.only if n in NEEDS_SANDBOX]:
                figures += _measure(name, ctx)
    finally:
        if args.keep:
            base.say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    wall = time.perf_counter() - started
    command = (
        "make bench" if not partial else "python bench/run.py " + " ".join(argv or sys.argv[1:])
    )
    note = f"{pairs} pair(s) per figure ({startup_runs} for start-up)."
    md, js = write_results(out, figures, this_machine(), command, wall, note)
    base.say(f"wrote {md} and {js} in {wall / 60:.1f} min")
    return 0 if all(f.status != "error" for f in figures) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(
            "bench: interrupted; no results written (a sandbox it brought up is down)",
            file=sys.stderr,
        )
        sys.exit(130)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(1)
