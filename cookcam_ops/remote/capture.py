"""A remote command's output, kept within limits.OUTPUT_CAP per stream: its head and its tail.

invoke keeps all of a command's output, and joins all of it again for every chunk it reads (to
feed watchers, which cookcam-ops never uses): a host printing megabytes costs memory and
quadratic time. Here a stream keeps its first part and its last limits.OUTPUT_TAIL characters,
with a marker line between them saying how much was left out; the rest is read (and streamed to
a line sink when one is given) and dropped, so the remote side never blocks on a full pipe.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cookcam_ops.limits import OUTPUT_CAP, OUTPUT_TAIL
from cookcam_ops.remote.protocol import LineSink

MAX_LINE = 64 * 1024  # a longer run without a newline is handed over in pieces this long
CUT = "\n@@cookcam-ops output cut: {} characters left out@@\n"


class Capture:
    """One stream's output as it arrives: all of it up to cap, else its head, a marker line
    and its last tail_size characters."""

    def __init__(self, cap: int = OUTPUT_CAP, tail_size: int = OUTPUT_TAIL) -> None:
        self.head_room = cap - tail_size
        self.tail_size = tail_size
        self.head: list[str] = []
        self.kept = 0
        self.tail: deque[str] = deque()
        self.tail_len = self.dropped = 0

    def add(self, chunk: str) -> None:
        rest = chunk
        if self.kept < self.head_room:
            self.head.append(chunk[: self.head_room - self.kept])
            self.kept += len(self.head[-1])
            rest = chunk[len(self.head[-1]) :]
            if not rest:
                return
        self.tail.append(rest)
        self.tail_len += len(rest)
        while self.tail and self.tail_len - len(self.tail[0]) >= self.tail_size:
            self.dropped += len(self.tail[0])
            self.tail_len -= len(self.tail.popleft())

    def into(self, buffer: list[str]) -> None:
        """Append what was kept to buffer."""
        buffer.extend(self.head)
        if self.dropped:
            text = "".join(self.tail)
            cut_from_tail = max(0, len(text) - self.tail_size)
            buffer.append(CUT.format(self.dropped + cut_from_tail))
            buffer.append(text[cut_from_tail:])
        else:
            buffer.extend(self.tail)

    def text(self) -> str:
        buffer: list[str] = []
        self.into(buffer)
        return "".join(buffer)


def capture(
    chunks: Iterable[str], buffer: list[str], cap: int = OUTPUT_CAP, tail_size: int = OUTPUT_TAIL
) -> None:
    """Fill buffer from chunks: all of them up to cap, else the head, a marker and the tail."""
    kept = Capture(cap, tail_size)
    for chunk in chunks:
        kept.add(chunk)
    kept.into(buffer)


class Lines:
    """A stream of output chunks handed to a LineSink a complete line at a time."""

    def __init__(self, stream: str, sink: LineSink) -> None:
        self.stream = stream
        self.sink = sink
        self.pending = ""

    def write(self, text: str) -> None:
        *lines, self.pending = (self.pending + text).split("\n")
        while len(self.pending) > MAX_LINE:
            lines.append(self.pending[:MAX_LINE])
            self.pending = self.pending[MAX_LINE:]
        for line in lines:
            self._hand_over(line)

    def _hand_over(self, line: str) -> None:
        with contextlib.suppress(Exception):  # a display or log that fails must not fail a step
            self.sink(self.stream, line.rstrip("\r"))

    def flush(self) -> None:
        return None

    def close(self) -> None:
        """Hand over a last line that had no newline."""
        if self.pending:
            self._hand_over(self.pending)
            self.pending = ""


def bounded_remote() -> type[Any]:
    """Fabric's Remote runner with bounded capture (imported only when connecting)."""
    from fabric.runners import Remote

    class BoundedRemote(Remote):  # type: ignore[misc]
        """Keeps each stream's head and tail; passes every chunk on when not hidden (the line
        sink that streams a step's output)."""

        def _bounded(
            self, buffer_: list[str], hide: bool, output: Any, reader: Callable[[int], Any]
        ) -> None:
            def chunks() -> Iterator[str]:
                for data in self.read_proc_output(reader):
                    if not hide:
                        self.write_our_output(stream=output, string=data)
                    yield data

            capture(chunks(), buffer_)

        def handle_stdout(self, buffer_: list[str], hide: bool, output: Any) -> None:
            self._bounded(buffer_, hide, output, self.read_proc_stdout)

        def handle_stderr(self, buffer_: list[str], hide: bool, output: Any) -> None:
            self._bounded(buffer_, hide, output, self.read_proc_stderr)

    return BoundedRemote
