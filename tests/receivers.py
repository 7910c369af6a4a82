"""Test-side HTTP servers on loopback that record what cookcam-ops sends: a webhook receiver
(Slack's incoming-webhook answer, "ok") and a Sentry stand-in speaking the two endpoints the
tool uses (create a release; record a deploy of it), with bearer-token checks."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RELEASES_RE = re.compile(r"^/api/0/organizations/(?P<org>[^/]+)/releases/$")
DEPLOYS_RE = re.compile(
    r"^/api/0/organizations/(?P<org>[^/]+)/releases/(?P<version>[^/]+)"
    r"/deploys/$"
)
MAX_BODY = 1 << 20


@dataclass
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Recorder:
    """What the server saw, and how it answers: a token Sentry wants, a delay for /slow."""

    token: str = ""
    delay_s: float = 0.0
    requests: list[Received] = field(default_factory=list)
    releases: dict[str, list[str]] = field(default_factory=dict)  # version -> projects
    deploys: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if path == "/slow":
            time.sleep(self.delay_s)
        if path in ("/hook", "/json", "/slow"):
            return 200, "ok"
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"detail": "Invalid token"}
        if RELEASES_RE.match(path):
            with self.lock:
                if body["version"] in self.releases:
                    return 208, {"version": body["version"]}
                self.releases[body["version"]] = list(body["projects"])
            return 201, {"version": body["version"]}
        m = DEPLOYS_RE.match(path)
        if m:
            with self.lock:
                if m.group("version") not in self.releases:
                    return 404, {"detail": "release not found"}
                self.deploys.append({"version": m.group("version"), **body})
            return 201, {"id": str(len(self.deploys))}
        return 404, {"detail": "not found"}


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = min(int(self.headers.get("content-length") or 0), MAX_BODY)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            with recorder.lock:
                recorder.requests.append(Received(self.path, headers, body))
            code, answer = recorder.answer(self.path, headers, body)
            data = (answer if isinstance(answer, str) else json.dumps(answer)).encode()
            self.send_response(code)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


@contextmanager
def receiver(token: str = "", delay_s: float = 0.0) -> Iterator[tuple[str, Recorder]]:
    """A server on 127.0.0.1 (base URL, recorder), stopped when the block ends."""
    recorder = Recorder(token=token, delay_s=delay_s)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
