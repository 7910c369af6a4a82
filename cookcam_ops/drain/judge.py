"""A drain's checks and metrics from what the load, the sockets and the watcher saw (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cookcam_ops.drain.load import LoadStats
from cookcam_ops.drain.shutdown import WorkerShutdown
from cookcam_ops.drain.sockets import SocketStats
from cookcam_ops.drain.stats import latency_summary, longest_gap, rate
from cookcam_ops.drain.watcher import WatchResult
from cookcam_ops.errors import UsageError
from cookcam_ops.pm2 import killsignal
from cookcam_ops.report import Check, Status

DOWNTIME_WARN_MS = 1000


class Via(StrEnum):
    """How a drain stops the old workers (--via)."""

    RELOAD = "reload"  # pm2 reload: must fail no request
    RESTART = "restart"  # pm2 restart: not zero-downtime, some failures expected
    SIGNAL = "signal"  # PM2's kill signal to each worker in turn, as PM2 would send it

    @classmethod
    def parse(cls, text: str) -> Via:
        """--via's value, or UsageError."""
        try:
            return cls(text)
        except ValueError:
            raise UsageError(f"--via must be one of {', '.join(cls)}, not {text!r}") from None


@dataclass(frozen=True)
class DrainFacts:
    """Everything a drain observed."""

    via: Via
    host: str
    load: LoadStats
    load_window: tuple[float, float]  # monotonic start, end
    watch: WatchResult
    workers: list[WorkerShutdown]
    sockets: SocketStats | None


def metrics(f: DrainFacts) -> dict[str, Any]:
    """The `metrics` object of the JSON report."""
    start, end = f.load_window
    gap, _ = longest_gap(f.load.success_times, start, end)
    s = f.load
    return {
        "requests": s.requests,
        "ok_2xx": s.ok_2xx,
        "non_2xx": s.non_2xx,
        "status_5xx": s.status_5xx,
        "refused": s.refused,
        "reset": s.reset,
        "reset_retried": s.retried,
        "timeouts": s.timeouts,
        "other_errors": s.other,
        "failed": s.failed,
        "connections_opened": s.connections_opened,
        "rate_rps": round(rate(s.requests, end - start), 1),
        "load_s": round(end - start, 3),
        "downtime_ms": round(gap * 1000, 1),
        "latency_ms": latency_summary(s.latencies_ms),
        "socketio": f.sockets.to_dict() if f.sockets else None,
        "workers": [w.to_dict() for w in f.workers],
        "trigger": {
            "via": f.via,
            "exit_code": f.watch.trigger_code,
            "duration_ms": f.watch.trigger_end_ms - f.watch.trigger_start_ms,
        },
        "kill_signal": _pm2_signal(f.watch).signal,
    }


def _pm2_signal(watch: WatchResult) -> killsignal.PM2Signal:
    return killsignal.parse_pm2_signal(watch.kill_signal)


def _handled(watch: WatchResult) -> set[str] | None:
    if watch.handler_lines is None:
        return None
    return killsignal.parse_handlers("\n".join(watch.handler_lines))


def check_requests(f: DrainFacts) -> Check:
    s = f.load
    parts = [
        f"{s.requests} requests, {s.ok_2xx} 2xx, {s.non_2xx} non-2xx ({s.status_5xx} 5xx),"
        f" {s.refused} refused, {s.reset} reset, {s.timeouts} timed out"
    ]
    if s.retried:
        parts.append(
            f"{s.retried} reset(s) were on idle keep-alive connections the server "
            "closed as the request went out, and succeeded when sent again on a new "
            "connection, as browsers do"
        )
    detail = "; ".join(parts)
    if s.failed == 0 and s.requests > 0:
        return Check("requests", Status.PASS, f"no failed request: {detail}", f.host)
    if s.requests == 0:
        return Check("requests", Status.FAIL, "no request completed", f.host)
    status = Status.FAIL if f.via == Via.RELOAD else Status.WARN
    why = (
        "pm2 reload must not fail a request"
        if f.via == Via.RELOAD
        else f"{f.via} is not zero-downtime: expected some"
    )
    return Check("requests", status, f"{s.failed} failed request(s) ({why}): {detail}", f.host)


def check_downtime(f: DrainFacts) -> Check:
    start, end = f.load_window
    gap, _ = longest_gap(f.load.success_times, start, end)
    ms = gap * 1000
    detail = (
        f"longest gap without a successful answer: {ms:.0f} ms; "
        f"{rate(f.load.requests, end - start):.0f} requests/s"
    )
    return Check("downtime", Status.WARN if ms > DOWNTIME_WARN_MS else Status.PASS, detail, f.host)


def check_worker(w: WorkerShutdown, explanation: str | None, host: str) -> Check:
    name = f"shutdown-worker-{w.pm_id if w.pm_id is not None else w.pid}"
    prefix = f"pid {w.pid}: "
    if w.ok:
        note = (
            (
                f"; {w.file_lost} of them missing from the worker's log file (PM2 writes it "
                "asynchronously and the worker exited first), read from PM2's log bus"
            )
            if w.file_lost
            else ""
        )
        return Check(
            name,
            Status.PASS,
            f"{prefix}4 shutdown lines in order ({w.signal_seen}), drained in "
            f"{w.completed_ms} ms (kill_timeout {w.kill_timeout_ms} ms){note}",
            host,
        )
    problems = []
    if w.misordered:
        problems.append("the 4 shutdown lines came out of order")
    elif w.missing:
        problems.append(f"missing: {'; '.join(repr(m) for m in w.missing)}")
    if w.sigkilled:
        problems.append(f"PM2 sent SIGKILL after kill_timeout {w.kill_timeout_ms} ms")
    elif w.killed:
        problems.append("the worker ended before completing its shutdown")
    if w.completed_ms is not None and not w.in_time:
        problems.append(f"took {w.completed_ms} ms, over kill_timeout {w.kill_timeout_ms} ms")
    if not w.exited:
        problems.append("the worker was still running at the end")
    if explanation and (w.killed or 0 not in w.steps):
        problems.append(explanation)
    return Check(name, Status.FAIL, prefix + "; ".join(problems), host)


def signal_explanation(f: DrainFacts) -> str | None:
    """Plain words when PM2's signal killed workers the app cannot drain on that signal."""
    pm2 = _pm2_signal(f.watch)
    handled = _handled(f.watch)
    undrained = [w for w in f.workers if 0 not in w.steps and (w.exited or w.killed)]
    if not undrained:
        return None
    if handled is not None and pm2.signal not in handled:
        others = " and ".join(sorted(handled)) or "no signal"
        return (
            f"the app handles {others} but PM2 sends {pm2.signal}: the workers were killed "
            f"without draining; fix: handle {pm2.signal} too, or set "
            "PM2_KILL_SIGNAL=SIGTERM for the PM2 daemon"
        )
    return (
        f"the workers got {pm2.signal} and exited without logging a graceful shutdown; "
        f"check that the app handles {pm2.signal} (" + killsignal.fix_hint(pm2.signal) + ")"
    )


def check_signal(f: DrainFacts, explanation: str | None) -> Check:
    pm2 = _pm2_signal(f.watch)
    if explanation:
        return Check("kill-signal", Status.FAIL, explanation, f.host)
    handled = _handled(f.watch)
    mismatch = killsignal.mismatch(pm2, handled)
    if mismatch:
        return Check("kill-signal", Status.WARN, mismatch, f.host)
    shown = ", ".join(sorted(handled)) if handled else "unknown (no dist/ build found)"
    return Check(
        "kill-signal",
        Status.PASS,
        f"PM2 sends {pm2.signal} ({pm2.source}); the app handles {shown}",
        f.host,
    )


def check_sockets(f: DrainFacts) -> Check:
    s = f.sockets
    if s is None:
        return Check(
            "socketio", Status.SKIP, "no smoke credentials: Socket.IO clients not run", f.host
        )
    reasons = ", ".join(f"{n}x {r}" for r, n in s.disconnects.items()) or "none"
    worst = f"{max(s.reconnect_ms):.0f} ms" if s.reconnect_ms else "-"
    detail = (
        f"{s.connected_initially}/{s.clients} connected; disconnects: {reasons}; "
        f"slowest reconnect {worst}"
    )
    if s.connected_initially < s.clients:
        errors = ", ".join(f"{r} ({n})" for r, n in s.connect_errors.items()) or "no answer"
        return Check("socketio", Status.FAIL, f"{detail}; could not connect: {errors}", f.host)
    if s.still_down:
        return Check(
            "socketio", Status.FAIL, f"{detail}; {s.still_down} client(s) never reconnected", f.host
        )
    return Check("socketio", Status.PASS, detail, f.host)


def check_trigger(f: DrainFacts) -> Check:
    w = f.watch
    took = w.trigger_end_ms - w.trigger_start_ms
    if f.via == Via.SIGNAL:
        return Check(
            "trigger",
            Status.PASS,
            f"sent {_pm2_signal(w).signal} to {len(w.sent)} worker(s), one at a time, in {took} ms",
            f.host,
        )
    if w.trigger_code == 0:
        return Check("trigger", Status.PASS, f"pm2 {f.via} succeeded in {took} ms", f.host)
    tail = " | ".join(w.trigger_output.strip().splitlines()[-3:])
    return Check("trigger", Status.FAIL, f"pm2 {f.via} exited {w.trigger_code}: {tail}", f.host)


def check_after(f: DrainFacts) -> Check:
    after = f.watch.after
    if after is None:
        return Check("workers-online", Status.FAIL, "pm2 jlist failed after the drain", f.host)
    online = [w for w in after if w.status == "online"]
    old = {w.pid for w in f.watch.before}
    new = [w for w in online if w.pid not in old]
    detail = f"{len(online)}/{len(after)} online after, {len(new)} new worker(s)"
    ok = len(online) >= len(f.watch.before) and len(online) == len(after)
    return Check("workers-online", Status.PASS if ok else Status.FAIL, detail, f.host)


def judge(f: DrainFacts) -> list[Check]:
    """Every check of a drain, in the order a person reads them."""
    if f.watch.error:
        return [Check("trigger", Status.FAIL, f.watch.error, f.host), check_requests(f)]
    explanation = signal_explanation(f)
    return [
        check_trigger(f),
        check_requests(f),
        check_downtime(f),
        *(check_worker(w, explanation, f.host) for w in f.workers),
        check_signal(f, explanation),
        check_sockets(f),
        check_after(f),
    ]
