"""Figure 4, rollback: the time of a rollback over the time of the deploy it undoes.

The releases strategy (goal <= 0.2, on 2 hosts of their own after `migrate-to-releases`), and
in-place (one host) for comparison. Each pair: push a release, deploy it, roll back to the
SHA it replaced (`rollback --to FROM_SHA`, which undoes exactly that deploy). The ratio uses
both commands' `duration_s` (as issue 6 states its goal); the notes add whole-process times.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.context import Context
from bench.figures import Figure, Goal
from bench.proc import BenchError, ops_argv, run
from bench.rollback_floor import measure_floor

RELEASES_ENV = "rel"
SOLO_RELEASES_ENV = "rel1"  # the first of them alone: the rollback-vs-floor row
# issue 6 states its goal on a 2-host sandbox; these are the sandbox's last hosts, which no
# other figure uses (after migrate-to-releases they are no longer in-place hosts)
RELEASES_HOSTS = 2


def _pair(ctx: Context, config: Path, environment: str) -> tuple[float, float, float]:
    """(rollback duration_s, deploy duration_s, ratio of their whole-process times)."""
    ctx.sandbox.change()
    deployed, doc = ctx.ops_json(config, "deploy", environment, "--yes")
    if doc.get("outcome") != "deployed":
        raise BenchError(f"deploy {environment}: outcome {doc.get('outcome')!r}")
    from_sha = doc["hosts"][0]["from_sha"]
    rolled, back = ctx.ops_json(config, "rollback", environment, "--to", from_sha, "--yes")
    if not back.get("ok"):
        raise BenchError(f"rollback {environment}: outcome {back.get('outcome')!r}")
    return float(back["duration_s"]), float(doc["duration_s"]), rolled.seconds / deployed.seconds


def _measure_row(ctx: Context, figure: Figure, config: Path, environment: str) -> None:
    walls = []
    for i in range(ctx.pairs):
        rollback_s, deploy_s, wall_ratio = _pair(ctx, config, environment)
        figure.add(rollback_s, deploy_s)
        walls.append(wall_ratio)
        ctx.say(f"{figure.name} round {i + 1}: {rollback_s:.1f}s / {deploy_s:.1f}s")
    figure.notes += f"; whole-process time ratio {statistics.median(walls):.2f}×"


def _prepare_releases(ctx: Context, config: Path) -> None:
    """Turn the releases host into the releases layout (issue 6's migrate-to-releases)."""
    run(
        ops_argv("--config", str(config), "migrate-to-releases", RELEASES_ENV, "--yes"),
        ctx.log,
        timeout=900,
    )


def measure(ctx: Context) -> list[Figure]:
    """The in-place row, then the releases row."""
    sb = ctx.sandbox
    in_place = Figure(
        "rollback-in-place",
        "Rollback / deploy, in-place strategy",
        "rollback",
        "deploy",
        "s",
        None,
        notes="`duration_s` of `rollback --to FROM --yes` over that of the "
        "`deploy --yes` it undoes, one host; in-place keeps the replaced "
        "build in <app>.ops/prev, so the rollback swaps it back and "
        "reloads",
    )
    releases = Figure(
        "rollback-releases",
        "Rollback / deploy, releases strategy",
        "rollback",
        "deploy",
        "s",
        Goal("<=", 0.2),
        notes="measured like the in-place row, on 2 hosts of their own (issue "
        "6's 2-host sandbox) with strategy: releases after "
        "`migrate-to-releases`; the deploy goes host by host (batch 1), "
        "the rollback switches every host at once",
    )
    config = sb.write_config("bench-rollback.yaml", {"solo": {"hosts": sb.hosts_doc(1)}})
    every = sb.hosts_doc(len(sb.hosts))
    rel_hosts = every[-RELEASES_HOSTS:] if len(every) > RELEASES_HOSTS else every[-1:]
    rel_config = sb.write_config(
        "bench-releases.yaml",
        {
            RELEASES_ENV: {"hosts": rel_hosts, "strategy": "releases"},
            SOLO_RELEASES_ENV: {"hosts": rel_hosts[:1], "strategy": "releases"},
        },
    )
    _measure_row(ctx, in_place, config, "solo")
    _prepare_releases(ctx, rel_config)
    _measure_row(ctx, releases, rel_config, RELEASES_ENV)
    host = next(h for h in sb.hosts if h.name == rel_hosts[0]["name"])
    return [in_place, releases, measure_floor(ctx, rel_config, SOLO_RELEASES_ENV, host)]
