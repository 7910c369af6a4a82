"""A minimal HTTP/1.1 keep-alive load client on asyncio streams, built to see what pools hide.

Why not httpx: its pool reconnects silently and folds a refused connect, a reset on a reused
socket and a server that closed an idle socket into a few exception types after the fact, and
at ~1-2k requests/s per core it is too slow to keep the server busy while PM2 swaps workers.
Here every request is one GET on one of C persistent connections, and each outcome is counted
where it happens: 2xx / non-2xx / 5xx, refused (connect refused), reset (the connection died
before a full answer), timeout. A response with `Connection: close` closes that connection and
the next request opens a new one, as a browser would.

The load targets one URL only, and stops by itself: at the deadline or the request cap.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cookcam_ops.errors import UsageError

MAX_RESPONSE_BYTES = 1024 * 1024
CONNECT_ERROR_PAUSE_S = 0.005  # a client retrying a refused connect does not spin


@dataclass
class LoadStats:
    """Counters for one load run; latencies in ms, success times as monotonic seconds."""

    requests: int = 0
    ok_2xx: int = 0
    non_2xx: int = 0
    status_5xx: int = 0
    refused: int = 0
    reset: int = 0
    timeouts: int = 0
    other: int = 0
    retried: int = 0  # resets on a reused idle connection, sent again (counted in `reset` too)
    connections_opened: int = 0
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    success_times: array[float] = field(default_factory=lambda: array("d"))
    failure_times: array[float] = field(default_factory=lambda: array("d"))
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        """Requests whose final outcome was not a 2xx answer."""
        return (
            self.non_2xx + self.refused + (self.reset - self.retried) + self.timeouts + self.other
        )


@dataclass(frozen=True)
class LoadTarget:
    """Where the load goes: host, port and the request bytes (one GET)."""

    host: str
    port: int
    request: bytes
    url: str


def load_target(base_url: str, path: str) -> LoadTarget:
    """Parse the base URL (http only: the load client speaks plain HTTP/1.1)."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        raise UsageError(
            f"drain needs an http:// base URL for the host, not {base_url!r}",
            hint="set base_url on the host in ops.yaml (the app's own port)",
        )
    port = parts.port or 80
    host_header = parts.netloc.rpartition("@")[2]
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\n"
        "User-Agent: cookcam-ops-drain\r\nAccept: */*\r\n\r\n"
    ).encode("ascii")
    return LoadTarget(parts.hostname, port, request, f"http://{host_header}{path}")


class _Reset(Exception):
    """The connection ended before a full response; `answered` when a status line had come."""

    def __init__(self, answered: bool = False) -> None:
        super().__init__("connection ended before a full response")
        self.answered = answered


class _Malformed(Exception):
    """A response whose framing cannot be read (a bad Content-Length or chunk size): a failed
    request; its connection is dropped, the other connections go on."""


class _Conn:
    """One keep-alive connection and how many answers it has carried."""

    __slots__ = ("reader", "served", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.served = reader, writer, 0

    def close(self) -> None:
        self.writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep_alive) of one response, its body read and dropped."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
        raise _Reset(answered=bool(getattr(e, "partial", b""))) from e
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise _Reset(answered=True)
    status = int(parts[1])
    length, chunked, close = None, False, parts[0] == b"HTTP/1.0"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = _length(value.strip(), 10)
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif key == b"connection":
            close = value.strip().lower() == b"close"
    try:
        if chunked:
            await _read_chunked(reader)
        elif length is not None:
            await reader.readexactly(min(length, MAX_RESPONSE_BYTES))
        else:
            await reader.read(MAX_RESPONSE_BYTES)
            close = True
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as e:
        raise _Reset(answered=True) from e
    return status, not close


def _length(text: bytes, base: int) -> int:
    """A Content-Length (base 10) or chunk size (base 16); _Malformed unless it is one."""
    digits = b"0123456789abcdefABCDEF"[: 10 if base == 10 else 22]
    if not text or len(text) > 12 or text.strip(digits):
        raise _Malformed(f"bad length {text[:20]!r}")
    return int(text, base)


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = _length(size_line.split(b";")[0].strip(), 16)
        if size > MAX_RESPONSE_BYTES:
            raise _Malformed(f"a chunk of {size} bytes")
        await reader.readexactly(size + 2)
        if size == 0:
            return


class LoadRun:
    """C connections each sending GETs back to back until stop(), the deadline or the cap.

    A request the server never began to answer on a reused keep-alive connection (it closed or
    reset the connection as idle just as the request went out) is counted as a reset and sent
    again once on a new connection, as browsers and Go's net/http do for idempotent requests
    (RFC 9112, 9.3.1); any other reset, refusal or timeout is a failed request.
    """

    def __init__(
        self,
        target: LoadTarget,
        concurrency: int,
        max_requests: int,
        timeout_s: float = 10.0,
        pause_s: float = 0.0,
    ) -> None:
        self.target = target
        self.concurrency = concurrency
        self.max_requests = max_requests
        self.timeout_s = timeout_s
        self.pause_s = pause_s  # between a connection's requests: a steady, not a flat-out load
        self.stats = LoadStats()
        self._sent = 0
        self._stop = asyncio.Event()
        self.started = 0.0
        self.ended = 0.0

    def stop(self) -> None:
        self._stop.set()

    async def run(self, deadline_s: float) -> LoadStats:
        """Run until stop(), the deadline (seconds from now) or the request cap; requests still
        in flight then are abandoned, not counted."""
        self.started = time.monotonic()
        workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        stopper = asyncio.create_task(self._stop.wait())
        everyone: asyncio.Future[list[None]] = asyncio.gather(*workers)
        try:
            waiting: list[asyncio.Future[Any]] = [stopper, everyone]
            await asyncio.wait(waiting, timeout=deadline_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.ended = time.monotonic()
            for task in [*workers, stopper]:
                task.cancel()
            await asyncio.gather(everyone, stopper, return_exceptions=True)
        return self.stats

    async def _worker(self) -> None:
        conn: _Conn | None = None
        try:
            while self._sent < self.max_requests:
                self._sent += 1
                conn = await self._one(conn)
                if self.pause_s:
                    await asyncio.sleep(self.pause_s)
        finally:
            if conn is not None:
                conn.close()

    async def _one(self, conn: _Conn | None) -> _Conn | None:
        """One request (retried once as described above); the connection to use next."""
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):
                try:
                    conn, status, keep = await self._exchange(conn)
                except (_Reset, ConnectionError) as e:
                    if conn is None or conn.served == 0 or getattr(e, "answered", False):
                        raise
                    self.stats.reset += 1
                    self.stats.retried += 1
                    conn.close()
                    conn, status, keep = await self._exchange(None)
        except ConnectionRefusedError:
            await self._failed("refused", conn)
            return None
        except _Malformed:
            await self._failed("other", conn)
            return None
        except (_Reset, ConnectionError):
            await self._failed("reset", conn)
            return None
        except TimeoutError:
            await self._failed("timeouts", conn)
            return None
        except OSError:
            await self._failed("other", conn)
            return None
        now = time.monotonic()
        self._record(status, now, (now - t0) * 1000)
        conn.served += 1
        if not keep:
            conn.close()
            return None
        return conn

    async def _exchange(self, conn: _Conn | None) -> tuple[_Conn, int, bool]:
        if conn is None:
            conn = _Conn(*await asyncio.open_connection(self.target.host, self.target.port))
            self.stats.connections_opened += 1
        conn.writer.write(self.target.request)
        status, keep = await _read_response(conn.reader)
        return conn, status, keep

    def _record(self, status: int, now: float, latency_ms: float) -> None:
        stats = self.stats
        stats.requests += 1
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        stats.latencies_ms.append(latency_ms)
        if 200 <= status < 300:
            stats.ok_2xx += 1
            stats.success_times.append(now)
        else:
            stats.non_2xx += 1
            stats.failure_times.append(now)
            if status >= 500:
                stats.status_5xx += 1

    async def _failed(self, kind: str, conn: _Conn | None) -> None:
        stats = self.stats
        stats.requests += 1
        setattr(stats, kind, getattr(stats, kind) + 1)
        stats.failure_times.append(time.monotonic())
        if conn is not None:
            conn.close()
        if kind in ("refused", "other"):
            await asyncio.sleep(CONNECT_ERROR_PAUSE_S)
