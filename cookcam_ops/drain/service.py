"""Running a drain: load and sockets on one host's base URL while the watcher swaps its workers.

Timeline: Socket.IO clients connect; C keep-alive connections start sending; after a warm-up the
watcher runs over SSH (one round trip: it triggers the stop and watches it); the load goes on
until --duration has passed and at least TAIL_S after the trigger ended; the sockets get time to
reconnect; then everything is judged. Bounded: the load never runs past LOAD_CAP_S nor past
MAX_REQUESTS, and it only ever targets the host's configured base URL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import assert_never

from cookcam_ops.common import Secret
from cookcam_ops.config import LoadedConfig
from cookcam_ops.drain.judge import DrainFacts, Via, judge, metrics
from cookcam_ops.drain.load import LoadRun, load_target
from cookcam_ops.drain.shutdown import analyze
from cookcam_ops.drain.sockets import SocketStats, SocketWatch
from cookcam_ops.drain.watcher import WatchResult, parse_watch, watcher_command
from cookcam_ops.errors import UsageError
from cookcam_ops.remote.fanout import Target
from cookcam_ops.remote.protocol import Transport
from cookcam_ops.report import Check, Report, Status

MAX_DURATION_S = 120.0
LOAD_CAP_S = 120.0
MAX_REQUESTS = 2_000_000
MAX_CONCURRENCY = 256
WATCH_DEADLINE_S = 90.0
TAIL_S = 1.0
RECONNECT_WAIT_S = 10.0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DrainOptions:
    """What to do and how hard to push."""

    environment: str
    via: Via = Via.RELOAD
    duration_s: float = 10.0
    concurrency: int = 16
    socket_clients: int = 4
    request_timeout_s: float = 10.0
    socket_timeout_s: float = 10.0

    def validate(self) -> DrainOptions:
        if not 2 <= self.duration_s <= MAX_DURATION_S:
            raise UsageError(f"--duration must be from 2 to {MAX_DURATION_S:g} seconds")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise UsageError(f"--concurrency must be from 1 to {MAX_CONCURRENCY}")
        return self

    @property
    def warmup_s(self) -> float:
        return min(2.0, self.duration_s / 4)


def run_drain(
    t: Target,
    transport: Transport,
    opts: DrainOptions,
    token: Secret | None,
    *,
    progress: Progress,
    extra_checks: list[Check] | None = None,
) -> Report:
    """Run the drain against one host and judge it."""
    opts.validate()
    started = time.monotonic()
    if not t.toolchain.ok:  # the watcher and PM2 need node on the host
        return Report(
            title=f"drain {opts.environment} {t.label} via {opts.via}",
            checks=[Check("toolchain", Status.FAIL, t.toolchain.explanation(), t.label)],
            duration_s=0.0,
            extra={"host": t.label, "via": opts.via},
        )
    facts = asyncio.run(_drive(t, transport, opts, token, progress))
    checks = list(extra_checks or []) + judge(facts)
    return Report(
        title=f"drain {opts.environment} {t.label} via {opts.via}",
        checks=checks,
        duration_s=time.monotonic() - started,
        extra={
            "host": t.label,
            "via": opts.via,
            "url": load_target(t.base_url, t.app.health_path).url,
            "metrics": metrics(facts),
        },
    )


async def _drive(
    t: Target, transport: Transport, opts: DrainOptions, token: Secret | None, progress: Progress
) -> DrainFacts:
    load = LoadRun(
        load_target(t.base_url, t.app.health_path),
        opts.concurrency,
        MAX_REQUESTS,
        opts.request_timeout_s,
    )
    sockets = (
        SocketWatch(t.base_url, token, opts.socket_clients, opts.socket_timeout_s)
        if token is not None and opts.socket_clients > 0
        else None
    )
    socket_task = asyncio.create_task(sockets.run()) if sockets else None
    if sockets:
        progress(f"{t.label}: connecting {opts.socket_clients} Socket.IO client(s)")
        await sockets.wait_connected(opts.socket_timeout_s + 5)
    progress(
        f"{t.label}: load on {load.target.url} with {opts.concurrency} keep-alive connection(s)"
    )
    load_task = asyncio.create_task(load.run(LOAD_CAP_S))
    await asyncio.sleep(opts.warmup_s)
    progress(f"{t.label}: {_what(opts.via, t.app.name)}, watching the old workers")
    watch = await _watch(t, transport, opts.via)
    remaining = opts.duration_s - (time.monotonic() - load.started)
    await asyncio.sleep(max(TAIL_S, remaining))
    load.stop()
    stats = await load_task
    socket_stats = await _finish_sockets(sockets, socket_task)
    progress(f"{t.label}: {stats.requests} requests, {stats.failed} failed")
    return DrainFacts(
        via=opts.via,
        host=t.label,
        load=stats,
        load_window=(load.started, load.ended),
        watch=watch,
        workers=analyze(watch) if not watch.error else [],
        sockets=socket_stats,
    )


def _what(via: Via, name: str) -> str:
    match via:
        case Via.SIGNAL:
            return f"sending each {name} worker PM2's kill signal"
        case Via.RELOAD | Via.RESTART:
            return f"pm2 {via} {name}"
        case _:
            assert_never(via)


async def _watch(t: Target, transport: Transport, via: str) -> WatchResult:
    command = watcher_command(t.app.name, t.code_path, via, int(WATCH_DEADLINE_S * 1000))
    result = await asyncio.to_thread(transport.run, command, timeout=WATCH_DEADLINE_S + 20)
    if result.timed_out:
        return WatchResult(
            error=f"the watcher on {t.label} did not finish within {WATCH_DEADLINE_S + 20:.0f}s"
        )
    watch = parse_watch(result.stdout)
    if watch.error and result.exit_code != 0:
        return WatchResult(error=f"{watch.error} (exit {result.exit_code}: {result.tail(2)})")
    return watch


async def _finish_sockets(
    sockets: SocketWatch | None, task: asyncio.Task[SocketStats] | None
) -> SocketStats | None:
    if sockets is None or task is None:
        return None
    await sockets.wait_all_connected(RECONNECT_WAIT_S)
    sockets.stop()
    return await task


def drain_token(
    loaded: LoadedConfig, environ: Mapping[str, str]
) -> tuple[Secret | None, list[Check]]:
    """The smoke user's access token for the Socket.IO clients, or why there is none.

    No credentials configured: the clients are skipped (a skip check). Credentials that fail
    to sign in: a failed check. The token never leaves this process except in the auth packet.
    """
    from cookcam_ops.errors import ConfigError
    from cookcam_ops.report import Status
    from cookcam_ops.smoke.credentials import SignInUnavailable, find_credentials, sign_in

    smoke = loaded.config.smoke
    env_file = loaded.resolve(smoke.env_file) if smoke.env_file else None
    try:
        creds = find_credentials(smoke, env_file, environ)
    except ConfigError as e:
        return None, [Check("socketio-credentials", Status.SKIP, e.message)]
    try:
        signed = sign_in(creds, smoke.timeout_s)
    except (SignInUnavailable, ConfigError) as e:
        return None, [Check("socketio-credentials", Status.FAIL, str(e))]
    return signed.token, []
