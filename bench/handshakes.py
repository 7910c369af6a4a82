"""Figure 5, smoke at scale: authenticated Socket.IO handshakes per second, 1000 at concurrency
100, our asyncio client path (smoke's socket-auth checks) against the official Node
socket.io-client, on the same host, taking turns. The token is signed in once (as smoke does)
and handed to both on stdin: never on a command line, never written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.context import Context
from bench.figures import Figure, Goal
from bench.proc import ROOT, BenchError, ops_env
from cookcam_ops.config import SmokeConfig
from cookcam_ops.smoke.credentials import find_credentials, sign_in

TOTAL, CONCURRENCY, TIMEOUT_S = 1000, 100, 10.0
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"


def _token(ctx: Context) -> str:
    creds = find_credentials(SmokeConfig(), ctx.sandbox.dir / "smoke.env", {})
    return sign_in(creds, TIMEOUT_S).token.reveal()


def _rate(argv: list[str], token: str, total: int, env: dict[str, str]) -> tuple[float, int]:
    """(handshakes per second, failures) of one client run."""
    done = subprocess.run(
        argv, input=token, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    if done.returncode != 0:
        raise BenchError(
            f"{os.path.basename(argv[0])} client: exit {done.returncode}: "
            f"{done.stderr.strip()[-300:]}"
        )
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    return total / float(doc["seconds"]), int(doc["failed"])


def measure(ctx: Context) -> list[Figure]:
    """Pairs of (python-socketio, socket.io-client) rates."""
    if not (NODE_MODULES / "socket.io-client").is_dir():
        raise BenchError(f"{NODE_MODULES}/socket.io-client missing: run scripts/ensure-deps.sh")
    total = TOTAL // 5 if ctx.quick else TOTAL
    url = ctx.sandbox.hosts[0].base_url
    token = _token(ctx)
    ours_argv = [
        sys.executable,
        "-m",
        "bench.handshake_client",
        url,
        str(total),
        str(CONCURRENCY),
        str(TIMEOUT_S),
    ]
    node_argv = [
        "node",
        str(ROOT / "bench" / "handshakes.js"),
        url,
        str(total),
        str(CONCURRENCY),
        str(int(TIMEOUT_S * 1000)),
    ]
    node_env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    figure = Figure(
        "handshakes",
        f"Smoke at scale: {total} authenticated Socket.IO handshakes, concurrency {CONCURRENCY}",
        "python-socketio (smoke's path)",
        "Node socket.io-client",
        "handshakes/s",
        Goal(">=", 0.5),
    )
    failures = 0
    for i in range(ctx.pairs):
        ours, ours_failed = _rate(ours_argv, token, total, ops_env())
        theirs, theirs_failed = _rate(node_argv, token, total, node_env)
        failures += ours_failed + theirs_failed
        figure.add(ours, theirs)
        ctx.say(f"handshakes round {i + 1}: ours {ours:.0f}/s, node {theirs:.0f}/s")
    figure.notes = (
        f"websocket transport, auth {{token}}, wait for the server's `connected`, "
        "then disconnect; every handshake makes the API ask the auth stand-in "
        f"(GoTrue /user) once; {failures} failed handshake(s) in all; the API runs "
        "2 PM2 workers on the same 2 cores as the clients"
    )
    return [figure]
