"""The bake (deploy --canary): sample the canary and its baseline for the bake time, judge every
metric, and tell the engine to go on or to put the canary back.

The baseline is the hosts still on the old release, sampled alongside the canary; when none is
left (one host, or every host in the canary) it is the canary's own figures before its switch.
A failure that no later sample can undo (a restart, too many refused handshakes) ends the bake
at once; Ctrl-C ends it too (the engine then puts the canary back). Signs in once per run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cookcam_ops.canary.metrics import (
    Figure,
    MetricRow,
    MetricStatus,
    failed_lines,
    judge_all,
    worst,
)
from cookcam_ops.canary.sampler import HostSampler, Sampler, planned_rounds, sample_rounds
from cookcam_ops.canary.settings import CanaryConfig, Metric
from cookcam_ops.canary.tally import HostSample, HostTally
from cookcam_ops.canary.view import SamplingObserver, bake_view
from cookcam_ops.errors import ChecksFailed, OpsError
from cookcam_ops.report import Check

if TYPE_CHECKING:
    from cookcam_ops.common import Secret
    from cookcam_ops.config import LoadedConfig
    from cookcam_ops.deploy.session import HostSession
    from cookcam_ops.smoke.plan import SmokePlan


@dataclass(frozen=True)
class BakeVerdict:
    """Go on (promote) or put the canary back; the outcome and one line naming why."""

    promote: bool
    outcome: str  # promoted | rolled_back | interrupted
    detail: str
    elapsed_s: float


class Verdict(StrEnum):
    """How a canary ended (the JSON's `canary.verdict` and the audit record's outcome)."""

    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"  # failed its bake, kept where it is (--no-auto-rollback)
    INTERRUPTED = "interrupted"
    NOT_BAKED = "not_baked"
    PLANNED = "planned"


@dataclass
class CanaryReport:
    """The canary part of a deploy's result (JSON `canary`, checks `canary:<metric>`)."""

    hosts: list[str]
    bake_s: float
    verdict: Verdict
    detail: str
    baseline_hosts: list[str] = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)
    elapsed_s: float = 0.0
    samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "hosts": self.hosts,
            "bake_s": self.bake_s,
            "verdict": str(self.verdict),
            "detail": self.detail,
            "baseline": "hosts" if self.baseline_hosts else "before_switch",
            "baseline_hosts": self.baseline_hosts,
            "metrics": [m.to_dict() for m in self.metrics],
            "elapsed_s": round(self.elapsed_s, 1),
            "samples": self.samples,
        }

    @property
    def failed(self) -> bool:
        """Failed its bake and left in place (--no-auto-rollback): the run failed."""
        return self.verdict is Verdict.FAILED

    def checks(self) -> list[Check]:
        """One check per metric judged."""
        return [m.check(f"canary:{m.metric}", m.figures()) for m in self.metrics]


def group(tallies: Mapping[str, HostTally], labels: Sequence[str]) -> dict[Metric, Figure]:
    """A group's figures: its worst host's, per metric (hosts never sampled left out)."""
    figures = [tallies[label].figures() for label in labels if label in tallies]
    return {m: worst(m, [f[m] for f in figures]) for m in Metric}


@dataclass
class Window:
    """One sampling window: the canary hosts, the baseline (hosts sampled alongside, or figures
    fixed before), and what was seen."""

    canary: list[str]
    others: list[str]
    fixed: Mapping[Metric, Figure] | None = None
    tallies: dict[str, HostTally] = field(default_factory=dict)
    rounds: int = 0

    def add(self, samples: list[HostSample]) -> None:
        for label, sample in zip([*self.canary, *self.others], samples, strict=True):
            self.tallies.setdefault(label, HostTally()).add(sample)
        self.rounds += 1

    def baseline(self) -> dict[Metric, Figure]:
        return group(self.tallies, self.others) if self.fixed is None else dict(self.fixed)

    def judged(
        self, settings: CanaryConfig, planned: Mapping[Metric, int] | None = None
    ) -> list[MetricRow]:
        return judge_all(settings, group(self.tallies, self.canary), self.baseline(), planned)


class Bake:
    """The engine's BakeHook for one run."""

    def __init__(
        self,
        settings: CanaryConfig,
        samplers: Mapping[str, Sampler],
        *,
        bake_s: float,
        sign_in: Callable[[], Secret],
        observer: SamplingObserver,
        cancel: threading.Event,
        auto_rollback: bool = True,
    ) -> None:
        self.settings, self.samplers, self.bake_s = settings, samplers, bake_s
        self.hosts = settings.hosts
        self.sign_in, self.observer, self.cancel = sign_in, observer, cancel
        self.auto_rollback = auto_rollback
        self.before: dict[str, HostTally] = {}
        self.report = CanaryReport(
            [], bake_s, Verdict.NOT_BAKED, "the canary did not reach its bake"
        )
        self._token: Secret | None = None

    def _run(self, window: Window, seconds: float, title: str, *, stop_early: bool) -> None:
        """Sample the window's hosts for seconds (until a certain failure, with stop_early)."""
        if self._token is None:
            self._token = self.sign_in()
        rounds = planned_rounds(seconds, self.settings.interval_s)
        planned = {
            Metric.SOCKET_AUTH_SUCCESS: rounds * self.settings.handshakes,
            Metric.HEALTH_SUCCESS: rounds,
            Metric.HTTP_5XX: rounds * self.settings.probe_requests,
        }
        interval = self.settings.interval_s

        def on_round(k: int, samples: list[HostSample]) -> bool:
            window.add(samples)
            rows = window.judged(self.settings, planned)
            self.observer.sampled(bake_view(title, min(k * interval, seconds), seconds, rows))
            return not (stop_early and any(r.status is MetricStatus.FAIL for r in rows))

        samplers = [self.samplers[label] for label in [*window.canary, *window.others]]
        sample_rounds(
            samplers,
            self._token,
            duration_s=seconds,
            interval_s=self.settings.interval_s,
            cancel=self.cancel,
            on_round=on_round,
        )

    def before_switch(self, canary: list[str], rest: list[str]) -> None:
        """No host stays on the old release: the canary's own figures now are the baseline."""
        seconds = min(self.bake_s, self.settings.baseline_s)
        if rest or seconds <= 0:
            return
        self.observer.phase(
            f"sampling {', '.join(canary)} for {seconds:g}s before the switch: "
            "no host stays on the old release, so this is the baseline"
        )
        window = Window(canary, [])
        try:
            self._run(window, seconds, "baseline (before the switch)", stop_early=False)
        except OpsError as e:
            self.observer.phase(f"could not sample the baseline: {e}")
        self.before = window.tallies

    def after_switch(self, canary: list[str], rest: list[str]) -> BakeVerdict:
        """Bake: sample the canary and its baseline, judge, and say whether to go on."""
        started = time.monotonic()
        against = ", ".join(rest) if rest else "its own figures before the switch"
        self.observer.phase(f"baking {', '.join(canary)} for {self.bake_s:g}s against {against}")
        window = Window(canary, rest, None if rest else group(self.before, canary))
        try:
            self._run(window, self.bake_s, "canary bake", stop_early=True)
        except OpsError as e:
            return self._end(window, started, f"could not sample: {e}")
        return self._end(window, started)

    def _end(self, window: Window, started: float, problem: str = "") -> BakeVerdict:
        elapsed = time.monotonic() - started
        interrupted = self.cancel.is_set()
        rows = window.judged(self.settings, {} if interrupted else None) if window.rounds else []
        failed = problem or failed_lines(rows) or ("" if window.rounds else "nothing sampled")
        if interrupted:
            verdict, detail = Verdict.INTERRUPTED, f"interrupted after {elapsed:.0f}s of the bake"
        elif failed:
            verdict = Verdict.ROLLED_BACK if self.auto_rollback else Verdict.FAILED
            detail = failed
        else:
            verdict = Verdict.PROMOTED
            detail = f"every metric within its rule over {elapsed:.0f}s ({window.rounds} samples)"
        self.report = CanaryReport(
            window.canary, self.bake_s, verdict, detail, window.others, rows, elapsed, window.rounds
        )
        return BakeVerdict(verdict is Verdict.PROMOTED, str(verdict), detail, elapsed)


@dataclass
class CanaryRun:
    """deploy --canary for one run: its settings, its bake once made, and its report."""

    settings: CanaryConfig
    bake: Bake | None = None

    def report(self, labels: Sequence[str], outcome: str) -> CanaryReport:
        """The bake's report, or why there was none (labels: the hosts that had work)."""
        if self.bake is not None and self.bake.report.verdict is not Verdict.NOT_BAKED:
            return self.bake.report
        n, bake_s = self.settings.hosts, self.settings.bake_s
        if outcome == "dry_run":
            verdict, why = Verdict.PLANNED, f"a deploy bakes {bake_s:g}s; a dry run bakes nothing"
        elif bake_s == 0:
            verdict, why = Verdict.NOT_BAKED, "bake 0: deployed as without --canary"
        else:
            verdict, why = (
                Verdict.NOT_BAKED,
                "the canary did not reach its bake"
                if self.bake is not None
                else "the run stopped before any host changed",
            )
        return CanaryReport(list(labels[:n]), bake_s, verdict, why, list(labels[n:]))


def canary_settings(base: CanaryConfig, hosts: int | None, bake_s: float | None) -> CanaryConfig:
    """ops.yaml's canary settings with --canary-hosts and --bake over them."""
    update = {k: v for k, v in (("hosts", hosts), ("bake_s", bake_s)) if v is not None}
    return base.model_copy(update=update)


def new_bake(
    loaded: LoadedConfig,
    environment: str,
    settings: CanaryConfig,
    sessions: Mapping[str, HostSession],
    *,
    observer: SamplingObserver,
    cancel: threading.Event,
    auto_rollback: bool,
) -> Bake:
    """A bake sampling every host of the run through its session, signed in as smoke is."""
    plan, sign_in_once = signed_sampling(loaded, environment)
    urls = {t.label: t.base_url for t in plan.targets}
    app = loaded.config.app
    samplers = {
        label: HostSampler(
            label, urls[label], app.health_path, session, app.name, settings, plan.options.timeout_s
        )
        for label, session in sessions.items()
    }
    return Bake(
        settings,
        samplers,
        bake_s=settings.bake_s,
        sign_in=sign_in_once,
        observer=observer,
        cancel=cancel,
        auto_rollback=auto_rollback,
    )


def signed_sampling(
    loaded: LoadedConfig, environment: str
) -> tuple[SmokePlan, Callable[[], Secret]]:
    """The smoke plan of the environment (URLs, credentials, timeout) and a sign-in that
    turns an unreachable auth server into a ChecksFailed (the token is never shown)."""
    from cookcam_ops.smoke import plan_smoke
    from cookcam_ops.smoke.credentials import SignInUnavailable, sign_in

    plan = plan_smoke(loaded, environment, environ=os.environ)

    def token() -> Secret:
        try:
            return sign_in(plan.creds, plan.options.timeout_s).token
        except SignInUnavailable as e:
            raise ChecksFailed(str(e)) from e

    return plan, token
