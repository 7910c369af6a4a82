"""Remote output and HTTP answers are kept within their caps (limits.py)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest

from cookcam_ops.limits import HTTP_CAP
from cookcam_ops.remote.capture import capture
from cookcam_ops.smoke.capped import capped_client


def test_small_output_is_kept_whole() -> None:
    buffer: list[str] = []
    capture(["a" * 10, "b" * 10], buffer, cap=100, tail_size=30)
    assert "".join(buffer) == "a" * 10 + "b" * 10


def test_large_output_keeps_its_head_and_tail_and_says_how_much_was_cut() -> None:
    buffer: list[str] = []
    chunks = (f"{i:04d}\n" for i in range(10_000))  # 50,000 characters
    capture(chunks, buffer, cap=1000, tail_size=200)
    text = "".join(buffer)
    assert text.startswith("0000\n0001\n")
    assert text.endswith("9998\n9999\n")
    assert "@@cookcam-ops output cut: 49000 characters left out@@" in text
    assert len(text) < 1100


def test_a_never_ending_output_costs_only_the_cap() -> None:
    buffer: list[str] = []

    def endless() -> Iterator[str]:
        for _ in range(200_000):  # 200 MB of a stream read chunk by chunk
            yield "x" * 1000

    capture(endless(), buffer, cap=4096, tail_size=1024)
    assert sum(len(b) for b in buffer) < 4096 + 100


class Big(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()  # no length: the body just keeps coming
        for _ in range(4 * HTTP_CAP // 65536):
            self.wfile.write(b" " * 65536)

    def log_message(self, *args: object) -> None:
        return


def test_an_http_answer_larger_than_the_cap_is_a_transport_error() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Big)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with capped_client(timeout=5) as client, pytest.raises(httpx.TransportError) as e:
            client.get(f"http://127.0.0.1:{server.server_address[1]}/health")
        assert type(e.value).__name__ == "AnswerTooLarge"
    finally:
        server.shutdown()
        server.server_close()
