"""One sample of one host, and samples of many hosts every few seconds for a while.

A sample: one SSH round trip for PM2 (`hostside.Pm2Sample`), then from this machine, as users
reach the API: a health check, a light probe load (a few keep-alive GETs) and a few
authenticated Socket.IO handshakes (the smoke package's client; the token is revealed only in
the auth packet). Every request and look has a timeout, every answer a size cap
(limits.HTTP_CAP, and the SSH output cap); a round never outlives its bounds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from cookcam_ops.canary.hostside import SIZE_ONLY, Pm2Look, Pm2Sample
from cookcam_ops.canary.tally import HostSample
from cookcam_ops.errors import HostError
from cookcam_ops.smoke.capped import capped_client

if TYPE_CHECKING:
    from cookcam_ops.canary.settings import CanaryConfig
    from cookcam_ops.common import Secret
    from cookcam_ops.deploy.session import HostSession

LOOK_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 5.0


class Sampler(Protocol):
    """Anything that samples one host (a HostSampler, or a test's scripted one)."""

    label: str

    def sample(self, token: Secret) -> HostSample: ...


@dataclass
class HostSampler:
    """Samples one host; keeps where each PM2 error log was last read."""

    label: str
    base_url: str
    health_path: str
    session: HostSession
    app_name: str
    settings: CanaryConfig
    timeout_s: float = 10.0
    offsets: dict[str, int] = field(default_factory=dict)

    def sample(self, token: Secret) -> HostSample:
        """PM2 first (its time is the sample's), then health, probes and handshakes."""
        at = time.monotonic()
        pm2, problem = self.pm2_look()
        return HostSample(
            at=at,
            health=self.health(),
            probes=self.probes(),
            handshakes=self.handshakes(token),
            pm2=pm2,
            problem=problem,
        )

    def _look(self, sample: Pm2Sample) -> Pm2Look:
        result = self.session.run(sample.command(), timeout=LOOK_TIMEOUT_S)
        return sample.process(result.stdout)

    def pm2_look(self) -> tuple[Pm2Look | None, str]:
        """The app's workers and the error lines since the last look (None: why not)."""
        try:
            if not self.session.ensure():
                return None, f"{self.label}: unreachable"
            look = self._look(Pm2Sample(self.app_name, dict(self.offsets)))
            new = {w.err_log for w in look.workers if w.err_log and w.err_log not in self.offsets}
            if new:  # a log seen for the first time: measure where it ends, count from there
                sizes = self._look(
                    Pm2Sample(self.app_name, dict.fromkeys(new, SIZE_ONLY), jlist=False)
                )
                look = replace(look, logs={**look.logs, **sizes.logs})
        except HostError as e:
            return None, str(e)
        self.offsets.update({path: size for path, (size, _) in look.logs.items()})
        return look, ""

    def health(self) -> tuple[bool, float]:
        """(answered 200, seconds) of one GET of the health path on a new connection."""
        import httpx

        started = time.monotonic()
        try:
            with capped_client(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as client:
                ok = client.get(self.base_url + self.health_path).status_code == 200
        except httpx.HTTPError:
            ok = False
        return ok, time.monotonic() - started

    def probes(self) -> tuple[int, int]:
        """(sent, answered 5xx or not at all), within one interval."""
        import httpx

        count = self.settings.probe_requests
        url = self.base_url + (self.settings.probe_path or self.health_path)
        deadline = time.monotonic() + self.settings.interval_s
        sent = bad = 0
        with capped_client(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as client:
            while sent < count and time.monotonic() < deadline:
                sent += 1
                try:
                    bad += client.get(url).status_code >= 500
                except httpx.HTTPError:
                    bad += 1
        return sent, bad

    def handshakes(self, token: Secret) -> tuple[tuple[bool, float], ...]:
        """(connected, seconds) of each of a few concurrent authenticated handshakes."""
        from cookcam_ops.smoke.judge import Outcome
        from cookcam_ops.smoke.socket_checks import run_rate

        results, _ = run_rate(
            self.base_url, token.reveal(), self.settings.handshakes, self.timeout_s
        )
        return tuple((h.outcome == Outcome.CONNECTED, h.latency_s) for h in results)


def planned_rounds(duration_s: float, interval_s: float) -> int:
    """Rounds at 0, interval, 2 x interval, ... and one at the end: the whole window seen."""
    whole = int(duration_s // interval_s)
    return whole + 1 + (1 if duration_s - whole * interval_s > 1e-6 else 0)


Round = Callable[[int, list[HostSample]], bool]


def sample_rounds(
    samplers: Sequence[Sampler],
    token: Secret,
    *,
    duration_s: float,
    interval_s: float,
    cancel: threading.Event,
    on_round: Round,
) -> None:
    """Sample every host each interval (in parallel) for duration_s; after each round
    on_round(index, samples in sampler order) says whether to go on. Ctrl-C (cancel) stops."""
    from cookcam_ops.common import parallel_map

    start = time.monotonic()
    for k in range(planned_rounds(duration_s, interval_s)):
        due = start + min(k * interval_s, duration_s)
        if cancel.wait(max(0.0, due - time.monotonic())):
            return
        samples = parallel_map(list(samplers), lambda s: s.sample(token))
        if cancel.is_set() or not on_round(k, samples):
            return
