"""`watch`: the bake's samples on every host of an environment, without deploying.

Each host is judged by the canary rules: absolute rules as they are, relative ones against the
other hosts (their worst figure), so one host unlike the rest stands out; with one host the
relative rules are skipped. No lock is taken and nothing on the hosts changes. Ctrl-C ends the
sampling early and reports what was seen (exit 130).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cookcam_ops.canary.bake import group, signed_sampling
from cookcam_ops.canary.metrics import Figure, MetricRow, judge_all
from cookcam_ops.canary.sampler import HostSampler, sample_rounds
from cookcam_ops.canary.settings import Metric
from cookcam_ops.canary.tally import HostSample, HostTally
from cookcam_ops.canary.view import SampleView, SamplingObserver, hosts_view
from cookcam_ops.errors import Unreachable
from cookcam_ops.report import Check, Report, Status

if TYPE_CHECKING:
    from cookcam_ops.config import LoadedConfig
    from cookcam_ops.deploy.session import Connector


@dataclass(frozen=True)
class WatchRequest:
    """What the user asked for."""

    environment: str
    duration_s: float = 60.0
    accept_new_host_keys: bool = False


def judge_hosts(
    loaded: LoadedConfig,
    environment: str,
    tallies: dict[str, HostTally],
    planned: dict[Metric, int] | None = None,
) -> dict[str, list[MetricRow]]:
    """Each host's rows: its figures against the worst of the other hosts."""
    settings = loaded.environment(environment).canary
    out = {}
    for label in tallies:
        others = [o for o in tallies if o != label]
        theirs = group(tallies, others) if others else {m: Figure(None) for m in Metric}
        out[label] = judge_all(settings, group(tallies, [label]), theirs, planned)
    return out


@dataclass(frozen=True)
class WatchResult:
    """The report (checks, JSON) and the final table of figures by host."""

    report: Report
    view: SampleView


def watch_environment(
    loaded: LoadedConfig,
    req: WatchRequest,
    *,
    observer: SamplingObserver,
    connector: Connector | None = None,
) -> WatchResult:
    """Sample every host for req.duration_s; one check per host and metric."""
    from cookcam_ops.deploy.fleet import Fleet, interrupts
    from cookcam_ops.remote.fanout import ssh_connector, targets_for

    env = loaded.environment(req.environment)
    settings = env.canary
    connector = connector or ssh_connector(loaded, env, req.accept_new_host_keys)
    cancel = threading.Event()
    started = time.monotonic()  # again once sampling starts
    tallies: dict[str, HostTally] = {}
    with (
        interrupts(cancel, observer.phase),
        Fleet(targets_for(loaded, env), connector, observer) as fleet,
    ):
        fleet.connect_all()  # as deploy does: the hosts first, then the smoke credentials
        plan, sign_in = signed_sampling(loaded, req.environment)
        urls = {t.label: t.base_url for t in plan.targets}
        samplers = [
            HostSampler(
                s.label,
                urls[s.label],
                loaded.config.app.health_path,
                s,
                loaded.config.app.name,
                settings,
                plan.options.timeout_s,
            )
            for s in fleet.sessions.values()
        ]
        tallies.update({s.label: HostTally() for s in samplers})
        token = sign_in()
        started = time.monotonic()
        observer.phase(
            f"sampling {len(samplers)} host(s) every {settings.interval_s:g}s for "
            f"{req.duration_s:g}s"
        )

        def on_round(k: int, samples: list[HostSample]) -> bool:
            for sampler, sample in zip(samplers, samples, strict=True):
                tallies[sampler.label].add(sample)
            figures = {label: t.figures() for label, t in tallies.items()}
            rows = judge_hosts(loaded, req.environment, tallies, {})
            observer.sampled(
                hosts_view(
                    f"watch {req.environment}",
                    min(k * settings.interval_s, req.duration_s),
                    req.duration_s,
                    figures,
                    rows,
                )
            )
            return True

        sample_rounds(
            samplers,
            token,
            duration_s=req.duration_s,
            interval_s=settings.interval_s,
            cancel=cancel,
            on_round=on_round,
        )
    return _result(loaded, req, tallies, time.monotonic() - started, cancel.is_set())


def _result(
    loaded: LoadedConfig,
    req: WatchRequest,
    tallies: dict[str, HostTally],
    elapsed_s: float,
    interrupted: bool,
) -> WatchResult:
    rows = judge_hosts(loaded, req.environment, tallies)
    view = hosts_view(
        f"watch {req.environment}",
        elapsed_s,
        req.duration_s,
        {label: t.figures() for label, t in tallies.items()},
        rows,
    )
    several = len(rows) > 1
    checks = [
        replace(
            row.check(str(row.metric), row.figures(label, "other hosts")),
            host=label if several else None,
        )
        for label, host_rows in rows.items()
        for row in host_rows
    ]
    if interrupted:
        checks.append(
            Check(
                "watch", Status.FAIL, f"interrupted after {elapsed_s:.0f}s of {req.duration_s:g}s"
            )
        )
    hosts = {
        label: {str(r.metric): r.to_dict()["canary"] for r in host_rows}
        for label, host_rows in rows.items()
    }
    extra = {
        "watch": {
            "environment": req.environment,
            "duration_s": req.duration_s,
            "interval_s": loaded.environment(req.environment).canary.interval_s,
            "interrupted": interrupted,
            "hosts": hosts,
        }
    }
    lost = [
        Unreachable(label, t.problems[-1])
        for label, t in tallies.items()
        if t.looks == 0 and t.problems
    ]
    answered = [label for label in tallies if label not in {u.host for u in lost}]
    return WatchResult(
        Report(
            title=f"watch {req.environment}",
            checks=checks,
            extra=extra,
            duration_s=elapsed_s,
            unreachable=lost,
            answered=answered,
        ),
        view,
    )
