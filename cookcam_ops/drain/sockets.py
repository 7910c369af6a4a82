"""Open Socket.IO clients held through a drain: why each was disconnected, how fast it came back.

One python-socketio AsyncClient per connection, websocket transport only (PM2 cluster mode
breaks long-polling without sticky sessions). Reconnection is ours, not the library's: the
library does not reconnect after a server-initiated disconnect (`io.close()` on shutdown), and
the time from the disconnect to the next `connect` is the figure we report. The token reaches
only the auth packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cookcam_ops.common import Secret

RETRY_PAUSE_S = 0.05


@dataclass
class SocketStats:
    """What the clients saw during the run."""

    clients: int
    connected_initially: int = 0
    disconnects: Counter[str] = field(default_factory=Counter)
    reconnect_ms: list[float] = field(default_factory=list)
    connect_errors: Counter[str] = field(default_factory=Counter)
    still_down: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "connected_initially": self.connected_initially,
            "disconnects": dict(self.disconnects),
            "reconnect_ms": {
                "max": round(max(self.reconnect_ms), 1) if self.reconnect_ms else None,
                "count": len(self.reconnect_ms),
            },
            "connect_errors": dict(self.connect_errors),
            "still_down": self.still_down,
        }


class SocketWatch:
    """N clients that stay connected (reconnecting on their own) until stop()."""

    def __init__(self, url: str, token: Secret, clients: int, timeout_s: float = 10.0) -> None:
        self.url = url
        self._token = token
        self.timeout_s = timeout_s
        self.stats = SocketStats(clients=clients)
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._connected_once = 0
        self.connected_now = 0

    def stop(self) -> None:
        self._stop.set()

    async def wait_connected(self, timeout_s: float) -> None:
        """Wait until every client has connected once (or the timeout passes)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        except TimeoutError:
            pass

    async def wait_all_connected(self, timeout_s: float) -> bool:
        """Wait until every client that ever connected is connected again."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.connected_now >= self._connected_once:
                return True
            await asyncio.sleep(0.05)
        return False

    async def run(self) -> SocketStats:
        tasks = [asyncio.create_task(self._client()) for _ in range(self.stats.clients)]
        await asyncio.gather(*tasks, return_exceptions=True)
        return self.stats

    def _first_connect(self) -> None:
        self._connected_once += 1
        self.stats.connected_initially += 1
        if self._connected_once >= self.stats.clients:
            self._ready.set()

    async def _client(self) -> None:
        down_since: float | None = None
        ever = False
        while not self._stop.is_set():
            reason = await self._session(ever, down_since)
            if reason is None:  # could not connect: try again shortly
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            ever, down_since = True, None  # it was connected
            if reason == "":  # we stopped it
                break
            self.stats.disconnects[reason] += 1
            down_since = time.monotonic()
        if down_since is not None:
            self.stats.still_down += 1

    async def _session(self, ever: bool, down_since: float | None) -> str | None:
        """Connect, wait for a disconnect or stop(): the reason, "" when we stopped, None when
        it could not connect."""
        import socketio

        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        gone = asyncio.Event()
        reasons: list[str] = []

        async def on_disconnect(*args: Any) -> None:
            reasons.append(str(args[0]) if args else "unknown")
            gone.set()

        async def on_connect_error(data: Any = None) -> None:
            message = data.get("message") if isinstance(data, dict) else None
            self.stats.connect_errors[str(message or "connect_error")[:80]] += 1

        sio.on("disconnect", on_disconnect)
        sio.on("connect_error", on_connect_error)
        if not await self._connect(sio):
            return None
        if not ever:
            self._first_connect()
        elif down_since is not None:
            self.stats.reconnect_ms.append((time.monotonic() - down_since) * 1000)
        self.connected_now += 1
        stopper = asyncio.create_task(self._stop.wait())
        waiter = asyncio.create_task(gone.wait())
        await asyncio.wait({stopper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        self.connected_now -= 1
        stopper.cancel()
        waiter.cancel()
        if gone.is_set():
            await _quiet_disconnect(sio)
            return reasons[0] if reasons else "unknown"
        await _quiet_disconnect(sio)
        return ""

    async def _connect(self, sio: Any) -> bool:
        """One bounded connection attempt: the library does not bound the websocket handshake,
        and a connection handed to a worker that is closing can hang there."""
        try:
            await asyncio.wait_for(
                sio.connect(
                    self.url,
                    auth={"token": self._token.reveal()},
                    transports=["websocket"],
                    wait_timeout=self.timeout_s,
                ),
                timeout=self.timeout_s + 1,
            )
        except TimeoutError:
            self.stats.connect_errors["handshake timed out"] += 1
            await _quiet_disconnect(sio)
            return False
        except Exception:  # socketio raises its own ConnectionError and transport errors
            await _quiet_disconnect(sio)
            return False
        return True


async def _quiet_disconnect(sio: Any) -> None:
    # A dying connection may fail to close; that is the point of the exercise.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(sio.disconnect(), timeout=2.0)
