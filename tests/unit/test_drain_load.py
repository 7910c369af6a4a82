"""The keep-alive load client against small asyncio servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest

from cookcam_ops.drain.load import LoadRun, load_target
from cookcam_ops.errors import UsageError

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]


async def serve(handler: Handler) -> tuple[asyncio.Server, int]:
    """A server calling handler(reader, writer, n) per request (n: requests on this
    connection so far); handler returns False to stop serving the connection."""

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = 0
        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if not await handler(reader, writer, n):
                    return
                n += 1
        finally:
            writer.close()

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def drive(
    handler: Handler, *, seconds: float = 0.4, concurrency: int = 4, cap: int = 1_000_000
) -> LoadRun:
    server, port = await serve(handler)
    run = LoadRun(load_target(f"http://127.0.0.1:{port}", "/health"), concurrency, cap, 2.0)
    try:
        await run.run(seconds)
    finally:
        server.close()
    return run


def test_keep_alive_requests_all_succeed_on_c_connections() -> None:
    async def ok(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _n: int) -> bool:
        w.write(OK)
        await w.drain()
        return True

    run = asyncio.run(drive(ok))
    s = run.stats
    assert s.requests > 100 and s.ok_2xx == s.requests and s.failed == 0
    assert s.connections_opened == 4
    assert len(s.latencies_ms) == s.requests and len(s.success_times) == s.ok_2xx


def test_an_idle_connection_closed_by_the_server_is_a_retried_reset() -> None:
    async def close_after_3(_r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        if n == 3:
            return False  # closes with the request unanswered, as closeIdleConnections does
        w.write(OK)
        await w.drain()
        return True

    s = asyncio.run(drive(close_after_3, concurrency=2)).stats
    assert s.reset > 0 and s.retried == s.reset
    assert s.failed == 0 and s.ok_2xx == s.requests


def once_then_close(at: int, answer: bytes) -> Handler:
    """A handler answering OK, but `answer` (then closing) as a connection's request `at`."""

    async def handler(_r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        w.write(answer if n == at else OK)
        await w.drain()
        return n != at

    return handler


def test_a_reset_mid_response_is_a_failed_request() -> None:
    half = once_then_close(1, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    s = asyncio.run(drive(half, concurrency=1)).stats
    assert s.reset > 0 and s.retried == 0 and s.failed == s.reset


def test_5xx_and_connection_close_and_chunked() -> None:
    async def mixed(_r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        if n % 3 == 0:
            w.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        elif n % 3 == 1:
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        else:
            w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
            await w.drain()
            return False
        await w.drain()
        return True

    s = asyncio.run(drive(mixed, concurrency=2)).stats
    assert s.status_5xx > 0 and s.non_2xx == s.status_5xx and s.ok_2xx > 0
    assert s.connections_opened > 2 and s.reset == 0
    assert s.statuses.keys() == {200, 503}


def test_refused_connections_are_counted_without_spinning() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def go() -> LoadRun:
        run = LoadRun(load_target(f"http://127.0.0.1:{port}", "/"), 2, 1_000_000, 1.0)
        await run.run(0.3)
        return run

    s = asyncio.run(go()).stats
    assert s.refused > 0 and s.refused == s.failed
    assert s.refused < 2 * 0.3 / 0.005 + 10  # the pause after a refusal bounds the count


def test_the_request_cap_and_the_deadline_stop_the_load() -> None:
    async def ok(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _n: int) -> bool:
        w.write(OK)
        await w.drain()
        return True

    capped = asyncio.run(drive(ok, seconds=5.0, cap=50)).stats
    assert capped.requests <= 50

    async def hang(_r: asyncio.StreamReader, _w: asyncio.StreamWriter, _n: int) -> bool:
        await asyncio.sleep(10)
        return False

    async def timed() -> tuple[LoadRun, float]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        run = await drive(hang, seconds=0.3)
        return run, loop.time() - t0

    run, took = asyncio.run(timed())
    assert took < 2.0 and run.stats.requests == 0  # in flight at the deadline: abandoned


def test_only_plain_http_base_urls() -> None:
    target = load_target("http://user:pw@127.0.0.1:3000/", "/health")
    assert target.request.startswith(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n")
    assert b"pw" not in target.request and target.url == "http://127.0.0.1:3000/health"
    with pytest.raises(UsageError):
        load_target("https://api.example.com", "/health")


@pytest.mark.parametrize(
    "bad",
    [
        b"Content-Length: abc",
        b"Content-Length: -1",
        b"Content-Length: 1e3",
        b"Transfer-Encoding: chunked",
    ],
)
def test_a_malformed_length_fails_one_request_and_the_load_goes_on(bad: bytes) -> None:
    """One unreadable Content-Length (or chunk size) once stopped every worker: 0 requests."""
    body = b"zz\r\nok\r\n0\r\n\r\n" if b"chunked" in bad else b"ok"
    sometimes_bad = once_then_close(2, b"HTTP/1.1 200 OK\r\n" + bad + b"\r\n\r\n" + body)
    s = asyncio.run(drive(sometimes_bad, concurrency=3)).stats
    assert s.other > 0 and s.failed == s.other
    assert s.ok_2xx > 50 and s.requests == s.ok_2xx + s.other
    assert s.connections_opened > 3
