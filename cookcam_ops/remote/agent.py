"""One remote session per host per run: the host probe, then a small agent on the same channel.

An exec channel per command pays the login shell (and its rc files) every time. Here the
first channel of a connection runs the probe (remote/probe.py) and waits for one line: the
toolchain directories the probe led to. With them on PATH it becomes `node` running
hostside/agent.js, which runs every later command of the run, each in a session and process
group of its own, with its own timeout, its stdout and stderr apart (streamed to a LineSink
when one is given) and its exit status; files are read and written through it too (no SFTP
channel). A host without node keeps an exec channel per command (`Launch.session`).

The agent's answers are JSON lines, read by one thread per host; every stream is kept within
limits.OUTPUT_CAP (capture.Capture) and every line within MAX_FRAME. When the channel ends
mid-command, the command's caller gets the same "connection lost" HostError as over exec.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cookcam_ops.errors import HostError
from cookcam_ops.limits import ENV_CAP
from cookcam_ops.remote.capture import Capture, Lines
from cookcam_ops.remote.protocol import (
    LineSink,
    RunResult,
    Transport,
    node_program,
    q,
    with_path,
)

READY = "@@cookcam-ops agent@@"  # the probe's output ends here; the launcher waits for "go"
NO_NODE = "@@cookcam-ops no node@@"
MAX_FRAME = 4 * 1024 * 1024  # one answer line: a 64 KiB output chunk, JSON-escaped, fits
PROBE_CAP = 1024 * 1024
START_TIMEOUT_S = 20.0  # from "go" to the agent's hello (one node start)
ANSWER_SLACK_S = 20.0  # past a command's timeout (and the agent's 5 s kill grace)
FILE_TIMEOUT_S = 60.0


class Channel(Protocol):
    """The part of a paramiko Channel used here (a pipe to a local agent in tests)."""

    def sendall(self, data: bytes) -> None: ...

    def recv(self, nbytes: int) -> bytes: ...

    def settimeout(self, timeout: float | None) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class ChannelHost(Transport, Protocol):
    """A connected host that can open a raw channel (SSHTransport); the fallback transport."""

    def open_channel(self, command: str) -> Channel: ...


def launcher(probe: str) -> str:
    """The channel's command: the probe, then (on "go DIRS") the agent with DIRS on PATH.

    The agent's own stderr goes nowhere: nothing reads a channel's stderr here, and unread it
    would hold the channel's window (its commands' stderr comes back in its answers)."""
    return (
        f"{probe}; printf '\\n%s\\n' {q(READY)}; IFS= read -r d || exit 0; "
        'case "$d" in go*) ;; *) exit 0;; esac; d=${d#go}; '
        'if [ -n "$d" ]; then PATH="$d:$PATH"; export PATH; fi; '
        f"command -v node >/dev/null 2>&1 || {{ echo {q(NO_NODE)}; exit 0; }}; "
        f"exec {node_program('agent.js')} 2>/dev/null"
    )


def _frames(channel: Channel, buffered: bytes) -> Iterator[bytes]:
    """The channel's output a line at a time (without the newline), each within MAX_FRAME."""
    pending = buffered
    while True:
        *lines, pending = pending.split(b"\n")
        yield from lines
        if len(pending) > MAX_FRAME:
            raise ValueError(f"an answer longer than {MAX_FRAME} bytes")
        data = channel.recv(65536)
        if not data:
            return
        pending += data


class Launch:
    """The probe's channel: its output (`stdout`), and then the session (`session()`)."""

    def __init__(self, host: ChannelHost, probe: str, timeout: float) -> None:
        self.host = host
        self.channel = host.open_channel(launcher(probe))
        self.channel.settimeout(timeout)
        lines: list[str] = []
        self._rest = b""
        self.ready = False
        size = 0
        try:
            frames = _frames(self.channel, b"")
            for line in frames:
                text = line.decode("utf-8", "replace")
                if text == READY:
                    self.ready = True
                    break
                size += len(line) + 1
                if size > PROBE_CAP:
                    raise ValueError(f"a probe answer longer than {PROBE_CAP} bytes")
                lines.append(text)
        except (OSError, ValueError, EOFError) as e:
            self.channel.close()
            raise HostError(
                f"{host.label}: the host probe failed ({type(e).__name__})", host=host.label
            ) from e
        self.stdout = "\n".join(lines)

    def session(self, dirs: tuple[str, ...]) -> Transport:
        """The agent with dirs on PATH; exec per command (dirs on PATH) when it cannot start."""
        from cookcam_ops.remote.ssh import connection_lost

        if self.ready and not any("\n" in d or ":" in d for d in dirs):
            try:
                self.channel.settimeout(None)
                self.channel.sendall(("go" + ":".join(dirs) + "\n").encode())
            except Exception as e:  # any failure to send: the connection is gone
                self.channel.close()
                raise connection_lost(self.host.label, type(e).__name__) from e
            agent = AgentTransport(self.host, self.channel)
            if agent.started(START_TIMEOUT_S):
                return agent
            agent.end()
        else:
            self.channel.close()
        return with_path(self.host, dirs)


@dataclass
class _Call:
    """One request in flight: its output so far, then its answer (or why it has none)."""

    on_line: LineSink | None
    done: threading.Event = field(default_factory=threading.Event)
    kept: dict[str, Capture] = field(default_factory=lambda: {"out": Capture(), "err": Capture()})
    lines: dict[str, Lines] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)
    lost: str | None = None

    def __post_init__(self) -> None:
        if self.on_line is not None:
            self.lines = {k: Lines(k, self.on_line) for k in self.kept}

    def feed(self, message: dict[str, Any]) -> None:
        for key, kept in self.kept.items():
            text = message.get(key)
            if isinstance(text, str):
                kept.add(text)
                if key in self.lines:
                    self.lines[key].write(text)
                return
        self.answer = message
        self.done.set()

    def lose(self, why: str) -> None:
        self.lost = why
        self.done.set()

    def flush(self) -> None:
        for lines in self.lines.values():
            lines.close()


class AgentTransport:
    """A Transport whose commands all go to the host's one agent (see the module's doc)."""

    def __init__(self, host: ChannelHost, channel: Channel) -> None:
        self.label = host.label
        self._host = host
        self._channel = channel
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._calls: dict[int, _Call] = {}
        self._next = 0
        self._dead: str | None = None
        self._hello = threading.Event()
        self.node = ""
        threading.Thread(target=self._read, daemon=True, name=f"agent-{self.label}").start()

    def started(self, timeout: float) -> bool:
        """The agent said hello in time (False: it could not start, e.g. no node)."""
        return self._hello.wait(timeout) and self._dead is None

    def run(
        self, command: str, *, timeout: float | None = None, on_line: LineSink | None = None
    ) -> RunResult:
        start = time.monotonic()
        wait = None if timeout is None else timeout + ANSWER_SLACK_S
        call = self._call({"run": command, "timeout": timeout}, on_line, wait)
        code = call.answer.get("exit")
        stderr = call.kept["err"].text()
        if call.answer.get("timedOut"):
            stderr += f"\ntimed out after {timeout}s"
        return RunResult(
            command,
            code if isinstance(code, int) else -1,
            call.kept["out"].text(),
            stderr,
            time.monotonic() - start,
        )

    def read_file(self, path: str, cap: int = ENV_CAP) -> bytes | None:
        """A remote regular file of at most cap bytes, in memory; None when it is missing."""
        from cookcam_ops.remote.ssh import read_refused

        answer = self._call({"read": path, "cap": cap}, None, FILE_TIMEOUT_S).answer
        if answer.get("missing"):
            return None
        if isinstance(answer.get("data"), str):
            return base64.b64decode(answer["data"])
        why = str(answer.get("error"))
        if why.isupper():  # an errno code
            raise HostError(f"{self.label}: cannot read {path} ({why})", host=self.label)
        raise read_refused(self.label, path, why, cap)

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        """Write a remote file atomically: a temp file with the mode set, renamed into place."""
        answer = self._call(
            {
                "write": path,
                "data": base64.b64encode(data).decode(),
                "mode": mode,
                "tag": os.getpid(),
            },
            None,
            FILE_TIMEOUT_S,
        ).answer
        if not answer.get("done"):
            raise HostError(
                f"{self.label}: cannot write {path} ({answer.get('error')})", host=self.label
            )

    def close(self) -> None:
        """Stop what still runs, end the agent and close the connection."""
        with self._lock:
            running = list(self._calls)
        for cid in running:
            self._send_quietly({"kill": cid})
        self.end()
        self._host.close()

    def end(self) -> None:
        """End the agent's channel (the agent exits); the connection stays open."""
        self._die("the session was closed")

    def _call(self, request: dict[str, Any], on_line: LineSink | None, wait: float | None) -> _Call:
        from cookcam_ops.remote.ssh import connection_lost

        call = _Call(on_line)
        with self._lock:
            if self._dead is not None:
                raise connection_lost(self.label, self._dead)
            self._next += 1
            cid = self._next
            self._calls[cid] = call
        try:
            self._send({"id": cid, **request})
            if not call.done.wait(wait):
                self._die(f"no answer from the host's session in {wait:g}s")
        except BaseException:  # Ctrl-C while waiting: stop the command, leave the session
            self._send_quietly({"kill": cid})
            raise
        finally:
            with self._lock:
                self._calls.pop(cid, None)
            call.flush()
        if call.lost is not None:
            raise connection_lost(self.label, call.lost)
        return call

    def _send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        try:
            with self._sending:
                self._channel.sendall(data)
        except Exception as e:  # any failure to send means the session is gone
            self._die(f"cannot send ({type(e).__name__})")

    def _send_quietly(self, message: dict[str, Any]) -> None:
        if self._dead is None:
            self._send(message)

    def _read(self) -> None:
        why = "the session ended"
        try:
            for frame in _frames(self._channel, b""):
                self._dispatch(frame)
        except Exception as e:  # the reader's end: every caller is told why
            why = f"the session failed ({type(e).__name__})"
        self._die(why)

    def _dispatch(self, frame: bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            return  # not the agent's (a line an rc file printed before it started)
        if not isinstance(message, dict):
            return
        if "hello" in message:
            self.node = str(message.get("node", ""))
            self._hello.set()
            return
        with self._lock:
            call = self._calls.get(message.get("id", 0))
        if call is not None:
            call.feed(message)

    def _die(self, why: str) -> None:
        with self._lock:
            if self._dead is not None:
                return
            self._dead = why
            calls = list(self._calls.values())
        for call in calls:
            call.lose(why)
        self._hello.set()
        with contextlib.suppress(Exception):  # closing a dead channel must not mask why
            self._channel.close()
