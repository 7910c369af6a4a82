"""A host's connection for the length of a run, able to reconnect after the connection drops.

A dropped connection must not leave a host half-deployed or locked: the engine reconnects, stops
(or waits for) what the lost session left running, and then rolls back and releases the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from cookcam_ops.errors import HostError
from cookcam_ops.masking import Masker
from cookcam_ops.remote.protocol import LineSink, RunResult, Transport

if TYPE_CHECKING:
    from cookcam_ops.config import HostConfig
    from cookcam_ops.remote.fanout import Target

Connector = Callable[["HostConfig"], Transport]
RECONNECT_ATTEMPTS = 4
RECONNECT_DELAY_S = 1.5


class Runner(Protocol):
    """Anything that runs a command on one host (a Transport, or a HostSession)."""

    def run(
        self, command: str, *, timeout: float | None = None, on_line: LineSink | None = None
    ) -> RunResult: ...


class HostSession:
    """One host's transport, with reconnect. Used by one thread at a time."""

    def __init__(
        self, target: Target, connector: Connector, reconnect_delay_s: float = RECONNECT_DELAY_S
    ) -> None:
        self.target = target
        self._connector = connector
        self.reconnect_delay_s = reconnect_delay_s
        self._transport: Transport | None = None
        self._masker: Masker | None = None
        self.lost = False

    @property
    def label(self) -> str:
        return self.target.label

    def connect(self) -> None:
        """Open the connection and probe the host (HostError when it cannot be reached)."""
        from cookcam_ops.remote.fanout import open_host

        self._transport, self.target = open_host(self._connector, self.target)
        self.lost = False

    @property
    def transport(self) -> Transport:
        """The live transport (HostError when not connected)."""
        if self._transport is None:
            raise HostError(f"{self.label}: not connected", host=self.label)
        return self._transport

    def run(
        self, command: str, *, timeout: float | None = None, on_line: LineSink | None = None
    ) -> RunResult:
        """Run a command; HostError when the connection is (or turns out to be) gone.

        With on_line (a step's output, streamed) every line and the result are masked with
        the host's .env values first, read once per session.
        """
        transport = self._transport
        if transport is None:
            raise HostError(f"{self.label}: not connected", host=self.label)
        masker: Masker | None = None
        sink: LineSink | None = None
        try:
            if on_line is not None:
                masker = self._masks(transport)
                sink = _masked(on_line, masker)
            result = transport.run(command, timeout=timeout, on_line=sink)
        except HostError:
            self._drop()
            raise
        if result.exit_code < 0:  # the channel closed without an exit status: the link died
            self._drop()
            raise HostError(
                f"{self.label}: connection lost (the session ended without an exit status)",
                host=self.label,
            )
        if masker is None:
            return result
        return RunResult(
            result.command,
            result.exit_code,
            masker.mask(result.stdout),
            masker.mask(result.stderr),
            result.duration_s,
        )

    def _masks(self, transport: Transport) -> Masker:
        if self._masker is None:
            self._masker = Masker.from_dotenv(transport.read_file(self.target.env_path))
        return self._masker

    def cut(self) -> None:
        """Close the connection from another thread: the running command ends, `lost` set."""
        self._drop()

    def _drop(self) -> None:
        self.lost = True
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def reconnect(self, attempts: int = RECONNECT_ATTEMPTS) -> bool:
        """Drop the old connection and open a new one; False when the host stays unreachable."""
        self._drop()
        for attempt in range(attempts):
            try:
                self.connect()
                return True
            except HostError:
                if attempt + 1 < attempts:
                    time.sleep(self.reconnect_delay_s)
        return False

    def ensure(self) -> bool:
        """Connected, reconnecting if the connection was lost; False when it cannot be."""
        return self._transport is not None or self.reconnect()

    def close(self) -> None:
        self._drop()
        self.lost = False


def _masked(on_line: LineSink, masker: Masker) -> LineSink:
    def sink(stream: str, line: str) -> None:
        on_line(stream, masker.mask(line))

    return sink


class Cuts:
    """The sessions running a step before their host's switch: the ones safe to cut.

    Cutting closes the connection, so the step's command ends with the session "lost"; the
    engine then reconnects, stops what the step left running (the reap) and cleans up, as for
    any lost connection before a switch.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, HostSession] = {}

    @contextmanager
    def cuttable(self, session: HostSession) -> Iterator[None]:
        """While the block runs, a cut_all() may close this session."""
        with self._lock:
            self._live[session.label] = session
        try:
            yield
        finally:
            with self._lock:
                self._live.pop(session.label, None)

    def cut_all(self) -> list[str]:
        """Close every cuttable session; the labels cut."""
        with self._lock:
            live = list(self._live.values())
            self._live.clear()
        for session in live:
            session.cut()
        return [s.label for s in live]
