"""The run's signal guard: signals set the cancel flag and are reported, never crash the run."""

from __future__ import annotations

import io
import os
import signal
import threading
import time

from cookcam_ops.deploy.fleet import interrupts


def test_a_signal_during_a_write_to_the_same_stream_does_not_break_it() -> None:
    # The main thread writes to a small-buffered stream while signals arrive; the note each
    # signal prints goes to that stream too. Written from the handler itself, Python raises
    # "RuntimeError: reentrant call inside BufferedWriter" in whichever write it interrupted.
    fd = os.open(os.devnull, os.O_WRONLY)
    out = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(fd, "w"), buffer_size=64), write_through=True
    )
    notes: list[str] = []

    def note(line: str) -> None:
        out.write(line + "\n")
        notes.append(line)

    cancel = threading.Event()
    kicker = threading.Thread(target=_send, args=(signal.SIGINT, 300))
    with interrupts(cancel, note):
        kicker.start()
        try:
            while kicker.is_alive():
                out.write("y" * 5000 + "\n")
        finally:
            kicker.join()
            time.sleep(0.2)  # the last signals' notes (Python may merge signals that pile up)
    out.close()
    assert cancel.is_set()
    assert sum(n.startswith("SIGINT: stopping at the next safe point") for n in notes) == 1
    assert len(notes) > 100 and sum(n.startswith("SIGINT again") for n in notes) == len(notes) - 1


def _send(sig: signal.Signals, count: int) -> None:
    for _ in range(count):
        os.kill(os.getpid(), sig)
        time.sleep(0.0005)
