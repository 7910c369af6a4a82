"""Figure 4b, rollback vs its floor: `rollback --to FROM --yes` of a releases host against the
least a person could do by hand over one ssh session: point `current` at the previous release
(a new link renamed over it), `pm2 reload` the app, and one health request.

Each pair: deploy a fresh release (untimed), roll it back by hand (timed); deploy the next one
(untimed), roll it back with cookcam-ops (timed). Both sides are whole processes (ours: start-up,
connect, lock, facts, checks, switch, reload with its checks, health, record, unlock).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.context import Context
from bench.figures import Figure, Goal
from bench.proc import BenchError, run
from bench.remote import ssh_argv
from bench.sandbox import Host
from cookcam_ops.remote.protocol import q

NOTES = (
    "ours: one `rollback ENV --to FROM --yes` process of a releases host (the deploy it "
    "undoes is untimed); the floor: one `ssh host '…'` that points `current` at the "
    "previous release (ln -sfn + mv -T), runs `pm2 reload APP --update-env` and one "
    "`curl` of /health; a fresh release is deployed before each side"
)


def _deploy(ctx: Context, config: Path, environment: str) -> dict[str, Any]:
    ctx.sandbox.change()
    _, doc = ctx.ops_json(config, "deploy", environment, "--yes")
    if doc.get("outcome") != "deployed":
        raise BenchError(f"deploy {environment}: outcome {doc.get('outcome')!r}")
    return dict(doc)


def _by_hand(ctx: Context, host: Host, app_name: str, health_path: str, release: str) -> float:
    """The floor: switch back to release, reload, one health request (seconds)."""
    app = host.app_path.rstrip("/")
    script = (
        f"cd {q(app)} && ln -sfn {q('releases/' + release)} current.bench && "
        "mv -T current.bench current && "
        f"pm2 reload {q(app_name)} --update-env >/dev/null && "
        f"curl -fsS -o /dev/null http://127.0.0.1:{host.port}{q(health_path)}"
    )
    return run([*ssh_argv(ctx.sandbox, host), script], ctx.log, timeout=300).seconds


def _current(ctx: Context, host: Host) -> str:
    out = run(
        [*ssh_argv(ctx.sandbox, host), f"readlink {q(host.app_path.rstrip('/'))}/current"],
        ctx.log,
        timeout=60,
    ).stdout.strip()
    return out.rpartition("/")[2]


def measure_floor(ctx: Context, config: Path, environment: str, host: Host) -> Figure:
    """Pairs of (ours, by hand) on one releases host (config's environment: that host)."""
    app = ctx.sandbox.doc["app"]
    figure = Figure(
        "rollback-vs-floor",
        "Rollback of a releases host vs by hand",
        "cookcam-ops rollback",
        "one `ssh host 'ln … && pm2 reload … && curl …'`",
        "s",
        Goal("<=", 1.5),
        notes=NOTES,
    )
    steps: dict[str, list[float]] = {}
    for i in range(ctx.pairs):
        previous = _current(ctx, host)
        _deploy(ctx, config, environment)
        floor = _by_hand(ctx, host, app["name"], app["health_path"], previous)
        doc = _deploy(ctx, config, environment)
        done, back = ctx.ops_json(
            config, "rollback", environment, "--to", doc["hosts"][0]["from_sha"], "--yes"
        )
        if not back.get("ok"):
            raise BenchError(f"rollback {environment}: outcome {back.get('outcome')!r}")
        figure.add(done.seconds, floor)
        steps.setdefault("process start/exit", []).append(done.seconds - back["duration_s"])
        spent = sum(s["duration_s"] for s in back["hosts"][0]["steps"])
        steps.setdefault("connect+lock+facts+checks", []).append(back["duration_s"] - spent)
        for s in back["hosts"][0]["steps"]:
            steps.setdefault(s["name"], []).append(float(s["duration_s"]))
        ctx.say(f"rollback-vs-floor round {i + 1}: ours {done.seconds:.2f}s, by hand {floor:.2f}s")
    figure.analysis = _analysis(steps)
    return figure


def _analysis(steps: dict[str, list[float]]) -> str:
    parts = ", ".join(
        f"{name} {statistics.median(v):.2f} s"
        for name, v in steps.items()
        if statistics.median(v) >= 0.05
    )
    return (
        f"profile (step times of these runs: {parts}; process start/exit includes the "
        "unlock): every command of ours goes to one session per host (one SSH channel, the "
        "login shell paid once); the lock and the facts are one request, the audit record "
        "and the unlock another. What remains is what only ours does: the Python process "
        "and its SSH handshake, the lock, the facts (git, and PM2's list asked of the daemon "
        "over RPC), the reload as an overlap (hostside/overlap.js: every new worker "
        "started and ready before the old ones stop, then watched for a stable window to "
        "catch a crash loop), `pm2 save` (a pm2 CLI start), the health loop and the "
        "audit record; the floor trusts `pm2 reload` and one request"
    )
