"""Figure 6, drain load: the request rate the drain's load client sustains against one host,
against autocannon on the same endpoint (/health) with the same connection count, taking turns.
"""

from __future__ import annotations

import asyncio
import json

from bench.context import Context
from bench.figures import Figure, Goal
from bench.proc import run
from bench.tools import ensure_autocannon
from cookcam_ops.drain.load import LoadRun, load_target

CONNECTIONS = 16  # `cookcam-ops drain`'s default --concurrency
PATH = "/health"


async def _ours(url: str, seconds: float) -> float:
    load = LoadRun(load_target(url, PATH), CONNECTIONS, 5_000_000)
    stats = await load.run(seconds)
    return stats.ok_2xx / (load.ended - load.started)


def measure(ctx: Context) -> list[Figure]:
    """Pairs of (drain load client, autocannon) rates of 2xx answers."""
    binary = ensure_autocannon(ctx.log)
    url = ctx.sandbox.hosts[0].base_url
    seconds = ctx.load_seconds
    figure = Figure(
        "drain-load",
        f"Drain load: keep-alive GET {PATH}, {CONNECTIONS} connections",
        "drain load client",
        "autocannon",
        "req/s",
        Goal(">=", 0.3),
        notes=f"{seconds:g} s per sample; ours counts 2xx answers per second of "
        "its run, autocannon's requests.average (2xx only: non-2xx fail "
        "the sample); ours runs in the suite's Python process",
    )
    for i in range(ctx.pairs):
        ours = asyncio.run(_ours(url, seconds))
        done = run(
            [str(binary), "-j", "-c", str(CONNECTIONS), "-d", str(int(seconds)), url + PATH],
            ctx.log,
            timeout=seconds + 60,
        )
        doc = json.loads(done.stdout)
        if doc.get("non2xx") or doc.get("errors"):
            raise ValueError(
                f"autocannon saw {doc.get('non2xx')} non-2xx, {doc.get('errors')} errors"
            )
        theirs = float(doc["requests"]["average"])
        figure.add(ours, theirs)
        ctx.say(f"drain round {i + 1}: ours {ours:.0f} req/s, autocannon {theirs:.0f} req/s")
    return [figure]
