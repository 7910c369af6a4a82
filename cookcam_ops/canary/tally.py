"""A host's samples added up into one figure per metric (pure).

PM2 figures are differences between looks: restarts since the first look (per worker id),
memory a worker gained since it was first seen (the same pid: a restarted worker starts
again), error-log lines per minute between the first look and the last.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cookcam_ops.canary.hostside import Pm2Look
from cookcam_ops.canary.metrics import Figure
from cookcam_ops.canary.settings import Metric
from cookcam_ops.common import percentile

MB = 1024 * 1024
MIN_LOG_SPAN_S = 1.0


@dataclass(frozen=True)
class HostSample:
    """One sample of one host (`at`: monotonic seconds)."""

    at: float
    health: tuple[bool, float] | None = None  # (answered 200, seconds)
    probes: tuple[int, int] = (0, 0)  # (sent, answered 5xx or not at all)
    handshakes: tuple[tuple[bool, float], ...] = ()  # (connected, seconds) each
    pm2: Pm2Look | None = None  # None: the look failed (see `problem`)
    problem: str = ""


def _rate(ok: int, total: int, of_bad: bool = False) -> Figure:
    """A percentage figure: of successes (or, of_bad, of failures) among total."""
    if total == 0:
        return Figure(None)
    bad = total - ok
    value = (bad if of_bad else ok) * 100 / total
    return Figure(value, bad, total)


def _p95_ms(seconds: list[float]) -> Figure:
    p = percentile(seconds, 95)
    return Figure(None if p is None else p * 1000)


@dataclass
class HostTally:
    """Everything measured on one host so far."""

    handshakes: list[tuple[bool, float]] = field(default_factory=list)
    health: list[tuple[bool, float]] = field(default_factory=list)
    probes_sent: int = 0
    probes_bad: int = 0
    looks: int = 0
    first_restarts: dict[str, int] = field(default_factory=dict)
    last_restarts: dict[str, int] = field(default_factory=dict)
    not_online_max: int = 0
    seen_workers: int = 0
    memory: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    log_lines: int = 0
    first_look_at: float | None = None
    last_look_at: float | None = None
    problems: list[str] = field(default_factory=list)

    def add(self, s: HostSample) -> None:
        """Add one sample."""
        self.handshakes.extend(s.handshakes)
        if s.health is not None:
            self.health.append(s.health)
        self.probes_sent += s.probes[0]
        self.probes_bad += s.probes[1]
        if s.pm2 is None:
            self.problems.append(s.problem)
            return
        self._look(s.pm2, s.at)

    def _look(self, look: Pm2Look, at: float) -> None:
        self.looks += 1
        self.first_look_at = self.first_look_at if self.first_look_at is not None else at
        self.last_look_at = at
        self.log_lines += sum(lines for _, lines in look.logs.values())
        self.seen_workers = max(self.seen_workers, len(look.workers))
        if look.error is not None:  # PM2 did not answer: count every worker as not online
            self.not_online_max = max(self.not_online_max, self.seen_workers or 1)
            return
        down = sum(w.status != "online" for w in look.workers)
        missing = max(0, self.seen_workers - len(look.workers))
        self.not_online_max = max(self.not_online_max, down + missing)
        for w in look.workers:
            if w.restarts is not None:
                self.first_restarts.setdefault(w.pm_id, w.restarts)
                self.last_restarts[w.pm_id] = w.restarts
            if w.pid is not None and w.memory is not None:
                first = self.memory.get((w.pm_id, w.pid), (w.memory, w.memory))[0]
                self.memory[(w.pm_id, w.pid)] = (first, w.memory)

    def figures(self) -> dict[Metric, Figure]:
        """One figure per metric (None where nothing was measured)."""
        connected = [s for ok, s in self.handshakes if ok]
        health_s = [s for _, s in self.health]
        looked = self.looks > 0
        restarts = sum(
            max(0, n - self.first_restarts.get(k, n)) for k, n in self.last_restarts.items()
        )
        growth = [(last - first) / MB for first, last in self.memory.values()]
        span = (self.last_look_at or 0.0) - (self.first_look_at or 0.0)
        return {
            Metric.SOCKET_AUTH_SUCCESS: _rate(len(connected), len(self.handshakes)),
            Metric.SOCKET_AUTH_P95: _p95_ms(connected),
            Metric.HEALTH_SUCCESS: _rate(sum(ok for ok, _ in self.health), len(self.health)),
            Metric.HEALTH_P95: _p95_ms(health_s),
            Metric.HTTP_5XX: _rate(
                self.probes_sent - self.probes_bad, self.probes_sent, of_bad=True
            ),
            Metric.PM2_RESTARTS: Figure(float(restarts) if looked else None),
            Metric.WORKERS_NOT_ONLINE: Figure(float(self.not_online_max) if looked else None),
            Metric.MEMORY_GROWTH: Figure(max(growth) if growth and self.looks > 1 else None),
            Metric.ERROR_LOG_RATE: Figure(
                self.log_lines * 60 / span if span >= MIN_LOG_SPAN_S else None
            ),
        }
