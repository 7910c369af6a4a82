"""A remote command's output, kept within limits.OUTPUT_CAP per stream: its head and its tail.

invoke keeps all of a command's output, and joins all of it again for every chunk it reads (to
feed watchers, which cookcam-ops never uses): a host printing megabytes costs memory and
quadratic time. Here a stream keeps its first part and its last limits.OUTPUT_TAIL characters,
with a marker line between them saying how much was left out; the rest is read (and streamed to
a line sink when one is given) and dropped, so the remote side never blocks on a full pipe.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cookcam_ops.limits import OUTPUT_CAP, OUTPUT_TAIL

CUT = "\n@@cookcam-ops output cut: {} characters left out@@\n"


def capture(chunks: Iterable[str], buffer: list[str], cap: int = OUTPUT_CAP,
            tail_size: int = OUTPUT_TAIL) -> None:
    """Fill buffer from chunks: all of them up to cap, else the head, a marker and the tail."""
    head_room = cap - tail_size
    kept = 0
    tail: deque[str] = deque()
    tail_len = dropped = 0
    for chunk in chunks:
        rest = chunk
        if kept < head_room:
            buffer.append(chunk[:head_room - kept])
            kept += len(buffer[-1])
            rest = chunk[len(buffer[-1]):]
            if not rest:
                continue
        tail.append(rest)
        tail_len += len(rest)
        while tail and tail_len - len(tail[0]) >= tail_size:
            dropped += len(tail[0])
            tail_len -= len(tail.popleft())
    if dropped:
        text = "".join(tail)
        cut_from_tail = max(0, len(text) - tail_size)
        buffer.append(CUT.format(dropped + cut_from_tail))
        buffer.append(text[cut_from_tail:])
    else:
        buffer.extend(tail)


def bounded_remote() -> type[Any]:
    """Fabric's Remote runner with bounded capture (imported only when connecting)."""
    from fabric.runners import Remote

    class BoundedRemote(Remote):  # type: ignore[misc]
        """Keeps each stream's head and tail; passes every chunk on when not hidden (the line
        sink that streams a step's output)."""

        def _bounded(self, buffer_: list[str], hide: bool, output: Any,
                     reader: Callable[[int], Any]) -> None:
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
