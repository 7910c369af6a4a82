"""The transport protocol services depend on (connect / run / read / write), shell quoting, and
how host-side programs (cookcam_ops/hostside) are sent."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cookcam_ops.hostside import script

TIMEOUT_EXIT = 124  # what coreutils `timeout` uses; RunResult.exit_code when a command timed out
# Receives a command's output live, a line at a time: (stream "out" or "err", line).
LineSink = Callable[[str, str], None]


@dataclass(frozen=True)
class RunResult:
    """What one remote command did."""

    command: str
    exit_code: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def timed_out(self) -> bool:
        return self.exit_code == TIMEOUT_EXIT

    def tail(self, lines: int = 5) -> str:
        """The last lines of stderr (else stdout), for a one-line failure detail."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return " | ".join(text[-lines:])


class Transport(Protocol):
    """One connected host. run() never raises for a non-zero exit, only for a lost connection;
    with on_line it also hands each line of output over as it arrives."""

    label: str

    def run(
        self, command: str, *, timeout: float | None = None, on_line: LineSink | None = None
    ) -> RunResult: ...

    def read_file(self, path: str) -> bytes | None: ...

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None: ...

    def close(self) -> None: ...


def q(*args: str | int) -> str:
    """Join arguments into one shell word list, each quoted: the only way values reach a shell."""
    return " ".join(shlex.quote(str(a)) for a in args)


def node_program(name: str) -> str:
    """`node -e PROGRAM` for hostside/NAME, to be followed by the program's quoted arguments."""
    return f"node -e {q(script(name))}"


def sh_program(name: str) -> str:
    """`sh -c PROGRAM NAME` for hostside/NAME ($0 is NAME, so the shell's messages name the
    file), to be followed by the program's quoted arguments."""
    return f"sh -c {q(script(name))} {q(name)}"


class PathTransport:
    """A transport whose every command runs with directories prepended to PATH (the host's
    toolchain: node, npm and pm2 where a non-interactive ssh command does not find them)."""

    def __init__(self, inner: Transport, dirs: tuple[str, ...]) -> None:
        self.label = inner.label
        self._inner = inner
        self._prefix = f'export PATH={q(":".join(dirs))}:"$PATH"; '

    def run(
        self, command: str, *, timeout: float | None = None, on_line: LineSink | None = None
    ) -> RunResult:
        return self._inner.run(self._prefix + command, timeout=timeout, on_line=on_line)

    def read_file(self, path: str) -> bytes | None:
        return self._inner.read_file(path)

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        self._inner.write_file(path, data, mode)

    def close(self) -> None:
        self._inner.close()


def with_path(transport: Transport, dirs: tuple[str, ...]) -> Transport:
    """transport, with dirs prepended to PATH for every command (itself when there are none)."""
    return PathTransport(transport, dirs) if dirs else transport
