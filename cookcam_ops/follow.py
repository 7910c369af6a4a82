"""`logs -f`: follow the app's PM2 log files on every host at once, lines prefixed by host.

Per host: one round trip finds the app's log files (PM2's own list) and the host's clock, then
one long command runs `tail -F` on them beside a heartbeat. The heartbeat bounds everything:
on the host it notices within HEARTBEAT_S that the connection is gone and stops tail (nothing
is left running there); here a host silent for SILENCE_S is reported lost. Ctrl-C closes every
connection and ends cleanly. Lines are cleaned of terminal escapes and cut at MAX_LINE.

`--since` keeps lines whose time is known and recent: PM2 writes a time before each line when
the app has `time: true` (or `log_date_format`) in its ecosystem file, or JSON lines with
`log_type: json`; a line without one keeps the time of the line before it. A host whose lines
carry no time cannot be filtered: it is said once, and its lines are shown.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cookcam_ops.errors import HostError, UsageError
from cookcam_ops.logs import HostLogs, LogsReport, clean_line
from cookcam_ops.pm2.procs import of_app, parse_jlist
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import Connector, Target, open_host
from cookcam_ops.remote.protocol import Transport, q

HEARTBEAT = "@@cookcam-ops alive"
HEARTBEAT_S = 5
SILENCE_S = 4 * HEARTBEAT_S
MAX_LINE = 8192
MAX_BACKLOG = 10_000
PREPARE_TIMEOUT_S = 30.0
_HEADER_RE = re.compile(r"^==> (?P<path>.*) <==$")
_SINCE_RE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# PM2's `time: true` format (YYYY-MM-DDTHH:mm:ss, the host's local time) or any ISO-8601 start.
_STAMP_RE = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
Emit = Callable[[str, str], None]  # (kind "line" or "note", text)


@dataclass(frozen=True)
class FollowOptions:
    """What to follow: lines of backlog, --since (seconds), --grep, --err."""

    lines: int = 10
    since_s: float | None = None
    grep: re.Pattern[str] | None = None
    err_only: bool = False


def parse_since(text: str) -> float:
    """`90s`, `10m`, `2h`, `1d` as seconds (UsageError otherwise)."""
    m = _SINCE_RE.match(text.strip())
    if m is None or float(m.group("n")) <= 0:
        raise UsageError(
            f"--since '{text}' is not a duration", hint="write e.g. 90s, 10m, 2h or 1d"
        )
    return float(m.group("n")) * _UNITS[m.group("unit")]


def compile_grep(text: str) -> re.Pattern[str]:
    """--grep as a regular expression (Python's syntax; UsageError when it is not one)."""
    try:
        return re.compile(text)
    except re.error as e:
        raise UsageError(
            f"--grep '{text}' is not a regular expression ({e.msg})",
            hint="escape special characters, e.g. 'GET /health' or 'ECONN\\w+'",
        ) from None


def line_time(line: str, host_offset: timedelta) -> float | None:
    """When a log line was written, from the time PM2 put before it (None when it has none)."""
    text = line
    if line.startswith("{"):
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        text = str(doc.get("timestamp", "")) if isinstance(doc, dict) else ""
    m = _STAMP_RE.match(text)
    if m is None:
        return None
    try:
        moment = datetime.fromisoformat(m.group().replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is None:  # PM2 writes the host's local time, without its offset
        moment = moment.replace(tzinfo=timezone(host_offset))
    return moment.timestamp()


@dataclass
class HostLines:
    """One host's stream of tail output turned into the lines to show (pure)."""

    label: str
    err_files: frozenset[str]
    opts: FollowOptions
    cutoff: float | None = None
    host_offset: timedelta = timedelta(0)
    stream: str = "out"
    last_time: float | None = None
    timed: bool = False
    said_untimed: bool = False
    seen: int = 0

    def feed(self, raw: str) -> tuple[str, str] | None:
        """("line", text) to show, ("note", text) to say once, or None."""
        if raw == HEARTBEAT:
            return self._untimed_note()
        header = _HEADER_RE.match(raw)
        if header:
            self.stream = "err" if header.group("path") in self.err_files else "out"
            return None
        line = clean_line(raw)[:MAX_LINE]
        if not line.strip():
            return None
        self.seen += 1
        when = line_time(line, self.host_offset)
        if when is not None:
            self.last_time, self.timed = when, True
        if self.cutoff is not None and self.last_time is not None and self.last_time < self.cutoff:
            return None
        if self.opts.grep is not None and not self.opts.grep.search(line):
            return None
        return "line", f"[{self.label}{' err' if self.stream == 'err' else ''}] {line}"

    def _untimed_note(self) -> tuple[str, str] | None:
        if self.cutoff is None or self.timed or self.said_untimed or not self.seen:
            return None
        self.said_untimed = True
        return "note", (
            f"{self.label}: its log lines carry no time, so --since cannot drop "
            "older ones (PM2 writes one with `time: true` in ecosystem.config.js)"
        )


def follow_command(files: list[str], backlog: int) -> str:
    """tail -F the files beside a heartbeat that stops tail once the connection is gone."""
    return (
        f"tail -n {int(backlog)} -v -F -- {q(*files)} 2>&1 & t=$!; "
        "trap 'kill $t 2>/dev/null' EXIT HUP INT TERM PIPE; "
        f"while kill -0 $t 2>/dev/null; do sleep {HEARTBEAT_S}; "
        f"printf '%s\\n' {q(HEARTBEAT)} || break; done"
    )


def _prepare(
    transport: Transport, t: Target, opts: FollowOptions
) -> tuple[list[str], frozenset[str], float, timedelta]:
    """The app's log files on the host (out then err, or err only), and the host's clock."""
    script = composite.script([("pm2", composite.pm2_jlist()), ("clock", "date +%s; date +%z")])
    sections = composite.parse(transport.run(script, timeout=PREPARE_TIMEOUT_S).stdout)
    procs, error = parse_jlist(composite.json_section(sections, "pm2"))
    if error:
        raise _NoLogs(error)
    mine = of_app(procs, t.app.name)
    outs = [] if opts.err_only else [p.out_log for p in mine if p.out_log]
    errs = [p.err_log for p in mine if p.err_log]
    files = list(dict.fromkeys(outs + errs))
    if not files:
        raise _NoLogs(f"PM2 runs no process named {t.app.name} (no log files to follow)")
    clock = (sections["clock"].text.split() if "clock" in sections else []) + ["", ""]
    now = float(clock[0]) if clock[0].isdigit() else time.time()
    offset = (
        datetime.strptime(clock[1], "%z").utcoffset()
        if re.match(r"^[+-]\d{4}$", clock[1])
        else None
    )
    return files, frozenset(errs), now, offset or timedelta(0)


class _NoLogs(Exception):
    """The host answered but has nothing to follow."""


@dataclass
class _Host:
    target: Target
    transport: Transport | None = None
    following: bool = False
    last_seen: float = field(default_factory=time.monotonic)
    error: str | None = None
    reachable: bool = True

    def lost(self, why: str) -> None:
        if self.error is None:
            self.error, self.reachable = why, False


def _follow_one(
    h: _Host, connector: Connector, opts: FollowOptions, emit: Emit, stop: threading.Event
) -> None:
    try:
        h.transport, h.target = open_host(connector, h.target)
        if not h.target.toolchain.ok:
            raise _NoLogs(h.target.toolchain.explanation())
        files, errs, now, offset = _prepare(h.transport, h.target, opts)
    except HostError as e:
        h.lost(str(e))
        return
    except _NoLogs as e:
        h.error = str(e)
        return
    lines = HostLines(
        h.target.label,
        errs,
        opts,
        host_offset=offset,
        cutoff=now - opts.since_s if opts.since_s else None,
    )
    backlog = MAX_BACKLOG if opts.since_s and opts.lines < MAX_BACKLOG else opts.lines

    def on_line(stream: str, raw: str) -> None:
        h.last_seen = time.monotonic()
        shown = lines.feed(raw)
        if shown is not None:
            emit(*shown)

    h.last_seen, h.following = time.monotonic(), True
    try:
        h.transport.run(follow_command(files, backlog), timeout=None, on_line=on_line)
    except HostError as e:
        if not stop.is_set():
            h.lost(str(e))


def follow_logs(
    environment: str, targets: list[Target], connector: Connector, opts: FollowOptions, emit: Emit
) -> tuple[LogsReport, bool]:
    """Follow every host until Ctrl-C (or until every host is done); (report, interrupted)."""
    stop = threading.Event()
    hosts = [_Host(t) for t in targets]
    threads = [
        threading.Thread(target=_follow_one, args=(h, connector, opts, emit, stop), daemon=True)
        for h in hosts
    ]
    for t in threads:
        t.start()
    interrupted = False
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(0.2)
            _drop_silent(hosts)
    except KeyboardInterrupt:
        interrupted = True
    stop.set()
    for h in hosts:
        if h.transport is not None:
            h.transport.close()
    for t in threads:
        t.join(timeout=5)
    return LogsReport(
        environment, [HostLogs(h.target.label, [], h.error, h.reachable) for h in hosts]
    ), interrupted


def _drop_silent(hosts: list[_Host]) -> None:
    """A host that sent nothing, not even a heartbeat, for SILENCE_S is taken as lost."""
    for h in hosts:
        if (
            h.following
            and h.error is None
            and h.transport is not None
            and time.monotonic() - h.last_seen > SILENCE_S
        ):
            h.lost(f"{h.target.label}: no answer for {SILENCE_S}s; connection lost")
            h.transport.close()
