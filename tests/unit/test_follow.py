"""`logs -f` logic: which lines show (headers, --err, --grep, --since from PM2's times), the
remote command's heartbeat, and a run that follows fake hosts until Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import threading
from datetime import timedelta

import pytest

from cookcam_ops.config import AppConfig, HostConfig
from cookcam_ops.errors import HostError, UsageError
from cookcam_ops.follow import (
    HEARTBEAT,
    FollowOptions,
    HostLines,
    follow_command,
    follow_logs,
    line_time,
    parse_since,
)
from cookcam_ops.remote.fanout import target
from cookcam_ops.remote.protocol import RunResult

OUT, ERR = "/home/deploy/.pm2/logs/cookcam-api-out-0.log", "/home/d/.pm2/logs/api-error-0.log"


def test_since_and_grep_are_validated() -> None:
    assert parse_since("90s") == 90 and parse_since("10m") == 600 and parse_since("1.5h") == 5400
    for bad in ("10", "-1m", "0s", "ten minutes"):
        with pytest.raises(UsageError):
            parse_since(bad)


def test_line_times_pm2_writes() -> None:
    two = timedelta(hours=2)
    ten_utc = 1767261600.0  # 2026-01-01T10:00:00Z
    assert line_time("2026-01-01T12:00:00: listening", two) == ten_utc  # host time, +02:00
    assert line_time("2026-01-01T10:00:00Z x", two) == ten_utc
    doc = json.dumps({"message": "x", "timestamp": "2026-01-01T10:00:00.500+00:00"})
    assert line_time(doc, timedelta(0)) == ten_utc + 0.5
    assert line_time("listening on 3000", two) is None


def test_lines_are_prefixed_by_host_and_stream_and_filtered() -> None:
    lines = HostLines("web1", frozenset({ERR}), FollowOptions(grep=re.compile("GET|boom")))
    fed = [
        lines.feed(x)
        for x in (
            f"==> {OUT} <==",
            "GET /health 200",
            "POST /x",
            "",
            f"==> {ERR} <==",
            "boom \x1b[31mred\x1b[0m",
            HEARTBEAT,
        )
    ]
    assert [f for f in fed if f] == [
        ("line", "[web1] GET /health 200"),
        ("line", "[web1 err] boom red"),
    ]


def test_since_drops_older_lines_and_lines_inherit_the_time_before_them() -> None:
    lines = HostLines("web1", frozenset(), FollowOptions(), cutoff=1767261600.0)
    fed = [
        lines.feed(x)
        for x in (
            "2026-01-01T09:59:00Z old",
            "  at stack (old)",
            "2026-01-01T10:00:01Z new",
            "  at stack (new)",
        )
    ]
    assert [f[1] for f in fed if f] == [
        "[web1] 2026-01-01T10:00:01Z new",
        "[web1]   at stack (new)",
    ]
    assert lines.feed(HEARTBEAT) is None  # its lines carry times: nothing to say


def test_since_on_lines_without_time_shows_them_and_says_so_once() -> None:
    lines = HostLines("web1", frozenset(), FollowOptions(), cutoff=1.0)
    assert lines.feed("listening") == ("line", "[web1] listening")
    note = lines.feed(HEARTBEAT)
    assert note is not None and note[0] == "note" and "time: true" in note[1]
    assert lines.feed(HEARTBEAT) is None


def test_the_remote_command_stops_tail_once_the_connection_is_gone() -> None:
    cmd = follow_command([OUT, "/logs/it's.log"], 10)
    assert cmd.startswith("tail -n 10 -v -F -- ")
    assert "'/logs/it'\"'\"'s.log'" in cmd  # quoted
    assert "trap 'kill $t 2>/dev/null' EXIT HUP INT TERM PIPE" in cmd
    assert f"printf '%s\\n' '{HEARTBEAT}' || break" in cmd


class FollowedHost:
    """A host whose follow command prints two lines, then waits until its connection closes."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.closed = threading.Event()

    def run(
        self, command: str, *, timeout: float | None = None, on_line: object = None
    ) -> RunResult:
        if command.startswith("tail"):
            assert callable(on_line)
            on_line("out", f"==> {OUT} <==")
            on_line("out", f"hello from {self.label}")
            self.closed.wait(10)
            raise HostError(f"{self.label}: connection lost (closed)")
        jlist = {
            "now": 1,
            "processes": [{"name": "cookcam-api", "pm_out_log_path": OUT, "pm_err_log_path": ERR}],
        }
        out = (
            f"\n@@cookcam-ops begin pm2@@\n{json.dumps(jlist)}\n@@cookcam-ops end pm2 0@@\n"
            "\n@@cookcam-ops begin clock@@\n1767261600\n+0000\n@@cookcam-ops end clock 0@@\n"
        )
        return RunResult(command, 0, out, "", 0.01)

    def read_file(self, path: str) -> bytes | None:
        return None

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        return None

    def close(self) -> None:
        self.closed.set()


def test_follow_runs_until_ctrl_c_and_reports_an_unreachable_host() -> None:
    app = AppConfig(path="/srv/api")
    targets = [target(HostConfig(ssh=f"d@{n}", name=n), app) for n in ("web1", "web2")]
    opened: list[FollowedHost] = []

    def connect(host: HostConfig) -> FollowedHost:
        if host.name == "web2":
            raise HostError("web2: could not connect (refused)", host="web2")
        opened.append(FollowedHost(host.label))
        return opened[-1]

    shown: list[tuple[str, str]] = []

    def emit(kind: str, text: str) -> None:
        shown.append((kind, text))
        if kind == "line":  # Ctrl-C once the first line is shown
            threading.Timer(0.1, signal.raise_signal, (signal.SIGINT,)).start()

    report, interrupted = follow_logs("prod", targets, connect, FollowOptions(), emit)
    assert interrupted and shown == [("line", "[web1] hello from web1")]
    assert opened[0].closed.is_set()  # the connection was closed: the remote tail stops
    assert [(h.label, h.reachable) for h in report.hosts] == [("web1", True), ("web2", False)]
    assert report.hosts[0].error is None and int(report.exit_code) == 3
