"""drain: shutdown-line analysis, percentile and downtime math, and the checks they imply."""

from __future__ import annotations

import json
import shlex
from array import array

from cookcam_ops.common import percentile
from cookcam_ops.drain.judge import DrainFacts, Via, judge, metrics
from cookcam_ops.drain.load import LoadStats
from cookcam_ops.drain.shutdown import analyze, step_of
from cookcam_ops.drain.sockets import SocketStats
from cookcam_ops.drain.stats import latency_summary, longest_gap, rate
from cookcam_ops.drain.watcher import (
    LogLine,
    WatchResult,
    Worker,
    parse_watch,
    watcher_command,
)
from cookcam_ops.hostside import script
from cookcam_ops.report import Status

LINES = (
    "SIGINT received, starting graceful shutdown...",
    "HTTP server closed - no longer accepting connections",
    "Closing WebSocket connections...",
    "✅ Graceful shutdown complete",
)
OUT0 = "/pm2/logs/api-out-0.log"
BOTH_HANDLERS = [
    "process.on('SIGTERM', () => shutdown('SIGTERM'));",
    "process.on('SIGINT', () => shutdown('SIGINT'));",
]


def worker(pm_id: int = 0, pid: int = 100, kill_timeout: int = 10000) -> Worker:
    return Worker(
        pm_id=pm_id,
        pid=pid,
        status="online",
        kill_timeout_ms=kill_timeout,
        out_log=f"/pm2/logs/api-out-{pm_id}.log",
        err_log=None,
    )


def bus(pm_id: str, t: int, text: str) -> LogLine:
    return LogLine(t_ms=t, source="bus", text=text, pm_id=pm_id)


def watch(
    lines: list[LogLine],
    workers: list[Worker] | None = None,
    *,
    handlers: list[str] | None = None,
    signal: str = "daemon ",
    exits: dict[int, int] | None = None,
) -> WatchResult:
    workers = workers if workers is not None else [worker()]
    return WatchResult(
        kill_signal=signal,
        handler_lines=BOTH_HANDLERS if handlers is None else handlers,
        before=workers,
        after=[worker(w.pm_id or 0, w.pid + 1000) for w in workers],
        trigger_code=0,
        trigger_start_ms=100,
        trigger_end_ms=900,
        exits=exits if exits is not None else {w.pid: 800 for w in workers},
        lines=lines,
    )


def full(pm_id: str = "_old_0", start: int = 500, step: int = 10) -> list[LogLine]:
    return [bus(pm_id, start + i * step, text) for i, text in enumerate(LINES)]


def test_step_of() -> None:
    assert [step_of(t) for t in LINES] == [0, 1, 2, 3]
    assert step_of("🚀 CookCam API listening") is None


def test_four_lines_in_order_within_kill_timeout() -> None:
    [w] = analyze(watch(full()))
    assert w.ok and w.in_order and w.completed_ms == 30 and w.signal_seen == "SIGINT"
    assert w.to_dict()["lines_in_order"] is True and w.to_dict()["killed"] is False


def test_misordered_lines_fail() -> None:
    lines = full()
    lines[1], lines[2] = (
        LogLine(lines[1].t_ms, "bus", LINES[2], "_old_0"),
        LogLine(lines[2].t_ms, "bus", LINES[1], "_old_0"),
    )
    [w] = analyze(watch(lines))
    assert w.misordered and not w.ok
    check = next(c for c in judge(facts(watch(lines))) if c.name == "shutdown-worker-0")
    assert check.status is Status.FAIL and "out of order" in check.detail


def test_missing_complete_line_means_killed() -> None:
    [w] = analyze(watch(full()[:3]))
    assert w.killed and w.missing == ["✅ Graceful shutdown complete"]


def test_sigkill_from_the_daemon_log_is_caught() -> None:
    lines = [
        *full()[:2],
        LogLine(
            9000,
            "daemon",
            "PM2 log: Process with pid 100 still alive after 1600ms, "
            "sending SIGKILL to 1 remaining pids...",
        ),
    ]
    [w] = analyze(watch(lines, [worker(kill_timeout=1600)]))
    assert w.sigkilled and w.killed
    check = next(
        c
        for c in judge(facts(watch(lines, [worker(kill_timeout=1600)])))
        if c.name == "shutdown-worker-0"
    )
    assert "SIGKILL" in check.detail


def test_drain_slower_than_kill_timeout_fails() -> None:
    [w] = analyze(watch(full(step=700), [worker(kill_timeout=1600)]))
    assert w.completed_ms == 2100 and not w.in_time and not w.ok


def test_files_are_the_fallback_and_bus_lines_lost_from_files_are_counted() -> None:
    file_only = [
        LogLine(t, "file", text, file=OUT0)
        for t, text in zip(range(500, 540, 10), LINES, strict=True)
    ]
    [w] = analyze(watch(file_only))
    assert w.ok and w.source == "file"
    partial_file = [LogLine(505, "file", LINES[0], file=OUT0)]
    [w2] = analyze(watch(full() + partial_file))
    assert w2.ok and w2.source == "bus" and w2.file_lost == 3


def test_lines_before_the_trigger_are_ignored() -> None:
    [w] = analyze(watch(full(start=0)))
    assert w.steps == []


def test_sigterm_only_is_explained_in_plain_words() -> None:
    w = watch(
        [LogLine(600, "daemon", "App [api:_old_0] exited with code [0] via signal [SIGINT]")],
        handlers=["process.on('SIGTERM', () => shutdown('SIGTERM'));"],
    )
    checks = {c.name: c for c in judge(facts(w, via=Via.RESTART))}
    explanation = (
        "the app handles SIGTERM but PM2 sends SIGINT: the workers were killed "
        "without draining; fix: handle SIGINT too, or set PM2_KILL_SIGNAL=SIGTERM"
    )
    assert checks["kill-signal"].status is Status.FAIL
    assert explanation in checks["kill-signal"].detail
    assert checks["shutdown-worker-0"].status is Status.FAIL
    assert explanation in checks["shutdown-worker-0"].detail


def test_pm2_kill_signal_from_the_daemon_changes_the_verdict() -> None:
    w = watch(full(), handlers=["process.on('SIGTERM', f)"], signal="daemon SIGTERM")
    checks = {c.name: c for c in judge(facts(w))}
    assert checks["kill-signal"].status is Status.PASS
    assert "PM2_KILL_SIGNAL" in checks["kill-signal"].detail


def load_stats(**counts: int) -> LoadStats:
    s = LoadStats()
    for name, count in counts.items():
        setattr(s, name, count)
    s.success_times = array("d", [10.0 + i * 0.01 for i in range(100)])
    s.latencies_ms = array("d", [float(i) for i in range(1, 101)])
    return s


def facts(
    w: WatchResult,
    via: Via = Via.RELOAD,
    load: LoadStats | None = None,
    sockets: SocketStats | None = None,
) -> DrainFacts:
    return DrainFacts(
        via=via,
        host="web1",
        load=load or load_stats(requests=100, ok_2xx=100),
        load_window=(10.0, 11.0),
        watch=w,
        workers=analyze(w),
        sockets=sockets,
    )


def test_failed_requests_fail_a_reload_but_only_warn_a_restart() -> None:
    bad = load_stats(requests=100, ok_2xx=97, refused=1, reset=3, timeouts=0)
    bad.retried = 1
    reload = {c.name: c for c in judge(facts(watch(full()), load=bad))}
    assert reload["requests"].status is Status.FAIL
    assert "3 failed" in reload["requests"].detail
    restart = {c.name: c for c in judge(facts(watch(full()), via=Via.RESTART, load=bad))}
    assert restart["requests"].status is Status.WARN


def test_retried_resets_are_not_failures_but_are_reported() -> None:
    s = load_stats(requests=100, ok_2xx=100, reset=4)
    s.retried = 4
    check = next(c for c in judge(facts(watch(full()), load=s)) if c.name == "requests")
    assert check.status is Status.PASS and "4 reset(s)" in check.detail
    m = metrics(facts(watch(full()), load=s))
    assert m["reset"] == 4 and m["reset_retried"] == 4 and m["failed"] == 0


def test_metrics_shape() -> None:
    sockets = SocketStats(clients=4, connected_initially=4)
    sockets.disconnects["transport error"] = 4
    sockets.reconnect_ms.extend([50.0, 120.5])
    m = metrics(facts(watch(full()), sockets=sockets))
    assert set(m) >= {
        "requests",
        "ok_2xx",
        "non_2xx",
        "status_5xx",
        "refused",
        "reset",
        "timeouts",
        "rate_rps",
        "downtime_ms",
        "latency_ms",
        "socketio",
        "workers",
    }
    assert m["rate_rps"] == 100.0
    assert m["latency_ms"] == {"p50": 50.0, "p95": 95.0, "max": 100.0}
    assert m["socketio"]["disconnects"] == {"transport error": 4}
    assert m["socketio"]["reconnect_ms"]["max"] == 120.5
    assert m["workers"][0]["lines_in_order"] is True
    json.dumps(m)


def test_sockets_that_never_came_back_fail() -> None:
    sockets = SocketStats(clients=2, connected_initially=2, still_down=1)
    check = next(c for c in judge(facts(watch(full()), sockets=sockets)) if c.name == "socketio")
    assert check.status is Status.FAIL and "never reconnected" in check.detail
    skipped = next(c for c in judge(facts(watch(full()))) if c.name == "socketio")
    assert skipped.status is Status.SKIP


def test_percentiles_and_rate() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(i) for i in range(1, 11)], 50) == 5.0
    assert percentile([float(i) for i in range(1, 11)], 95) == 10.0
    assert rate(10, 0) == 0.0 and rate(10, 2) == 5.0
    assert latency_summary([]) == {"p50": None, "p95": None, "max": None}


def test_longest_gap_counts_the_window_edges() -> None:
    assert longest_gap([], 0.0, 2.0) == (2.0, 0.0)
    gap, began = longest_gap([0.1, 0.2, 0.9, 1.0], 0.0, 1.05)
    assert round(gap, 3) == 0.7 and began == 0.2
    gap, began = longest_gap([0.1], 0.0, 3.0)
    assert round(gap, 3) == 2.9 and began == 0.1


def test_parse_watch() -> None:
    doc = {
        "t_end": 2000,
        "kill_signal": "daemon ",
        "handlers": BOTH_HANDLERS,
        "before": [{"pm_id": 0, "pid": 10, "status": "online", "kill_timeout": 5000, "out": OUT0}],
        "after": [{"pm_id": 0, "pid": 11, "status": "online"}],
        "trigger": {"via": "reload", "start_ms": 5, "end_ms": 900, "code": 0, "out": "ok"},
        "sent": [{"pid": 10, "t": 7, "signal": "SIGINT"}],
        "exits": {"10": 850},
        "lines": [{"t": 800, "src": "bus", "pm_id": "_old_0", "text": LINES[0]}],
    }
    w = parse_watch("noise\n" + json.dumps(doc) + "\n")
    assert w.error is None and w.before[0].kill_timeout_ms == 5000
    assert w.sent == {10: 7} and w.exits == {10: 850} and w.lines[0].pm_id == "_old_0"
    assert parse_watch("").error and parse_watch('{"error":"x"}').error == "x"


def test_watcher_command_quotes_its_arguments() -> None:
    cmd = watcher_command("cookcam-api", "/srv/it's here", "reload", 90000)
    argv = shlex.split(cmd.split(" && ", 1)[1])
    assert argv[:2] == ["node", "-e"] and argv[2] == script("drain_watcher.js")
    assert json.loads(argv[3])["app_path"] == "/srv/it's here"
