"""The drain's load client against autocannon on the same endpoint (goal: >= 0.3x its rate).

Usage: python bench/drain_rate.py URL [--concurrency 16] [--seconds 8] [--autocannon PATH]
URL must be a loopback base URL (e.g. a sandbox host's base_url); the path is /health.
autocannon is looked up on PATH (or given); without it only our figure is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
from urllib.parse import urlsplit

from cookcam_ops.drain.load import LoadRun, load_target


async def ours(url: str, concurrency: int, seconds: float) -> float:
    run = LoadRun(load_target(url, "/health"), concurrency, 5_000_000)
    stats = await run.run(seconds)
    return stats.requests / (run.ended - run.started)


def autocannon(binary: str, url: str, concurrency: int, seconds: float) -> float:
    done = subprocess.run([binary, "-j", "-c", str(concurrency), "-d", str(int(seconds)),
                           url.rstrip("/") + "/health"], capture_output=True, text=True,
                          check=True, timeout=seconds + 60)
    return float(json.loads(done.stdout)["requests"]["average"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--autocannon", default=shutil.which("autocannon"))
    args = parser.parse_args()
    if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the benchmark only targets loopback")
    rate = asyncio.run(ours(args.url, args.concurrency, args.seconds))
    print(f"cookcam-ops drain load client: {rate:,.0f} req/s")
    if args.autocannon:
        reference = autocannon(args.autocannon, args.url, args.concurrency, args.seconds)
        print(f"autocannon: {reference:,.0f} req/s; ratio {rate / reference:.2f}x")


if __name__ == "__main__":
    main()
