"""ops.yaml's `canary:` per environment: how many hosts, how long to bake, how hard to sample,
and one rule per metric (absolute, or relative to the baseline). Defaults live here.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Metric(StrEnum):
    """What a bake (and `watch`) measures on each host."""

    SOCKET_AUTH_SUCCESS = "socket-auth-success"
    SOCKET_AUTH_P95 = "socket-auth-p95-ms"
    HEALTH_SUCCESS = "health-success"
    HEALTH_P95 = "health-p95-ms"
    HTTP_5XX = "http-5xx"
    PM2_RESTARTS = "pm2-restarts"
    WORKERS_NOT_ONLINE = "workers-not-online"
    MEMORY_GROWTH = "memory-growth-mb"
    ERROR_LOG_RATE = "error-log-lines-per-min"


class Rule(BaseModel):
    """One metric's rule: `min` or `max` (absolute), or `ratio` and/or `margin` (relative).

    Relative: the canary may be worse than the baseline by at most `baseline x ratio + margin`
    (for a metric where higher is better, `baseline x ratio - margin`). `enabled: false` turns a
    metric off.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float | None = None
    max: float | None = None
    ratio: float | None = Field(default=None, gt=0)
    margin: float | None = Field(default=None, ge=0)
    enabled: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [
            self.min is not None,
            self.max is not None,
            self.ratio is not None or self.margin is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "give one of: min, max (absolute), or ratio and/or margin "
                "(relative to the baseline)"
            )
        return self

    @property
    def relative(self) -> bool:
        return self.min is None and self.max is None


# The seed's success metrics: WebSocket auth above 99%, no dropped request, no error spike; the
# rest relative to the hosts still on the old release, with room for a fresh worker's warm-up.
DEFAULT_RULES: dict[Metric, Rule] = {
    Metric.SOCKET_AUTH_SUCCESS: Rule(min=99),
    Metric.SOCKET_AUTH_P95: Rule(ratio=2, margin=250),
    Metric.HEALTH_SUCCESS: Rule(min=99),
    Metric.HEALTH_P95: Rule(ratio=2, margin=250),
    Metric.HTTP_5XX: Rule(max=0),
    Metric.PM2_RESTARTS: Rule(max=0),
    Metric.WORKERS_NOT_ONLINE: Rule(max=0),
    Metric.MEMORY_GROWTH: Rule(ratio=1, margin=64),
    Metric.ERROR_LOG_RATE: Rule(ratio=2, margin=10),
}


class CanaryConfig(BaseModel):
    """`canary:` of one environment (deploy --canary and watch)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: int = Field(default=1, ge=1)  # the first N hosts to deploy are the canary
    bake_s: float = Field(default=300, ge=0, le=3600)  # 0: no bake (today's deploy)
    interval_s: float = Field(default=5, ge=1, le=300)  # one sample of every host this often
    baseline_s: float = Field(default=60, ge=0, le=3600)  # no host left on the old release:
    #                                                      sample the canary this long first
    handshakes: int = Field(default=10, ge=1, le=200)  # authenticated handshakes per sample
    probe_requests: int = Field(default=10, ge=0, le=500)  # GETs of probe_path per sample
    probe_path: str | None = None  # default: app.health_path
    rules: dict[Metric, Rule] = Field(default_factory=dict)  # over DEFAULT_RULES

    @field_validator("probe_path")
    @classmethod
    def _http_path(cls, v: str | None) -> str | None:
        if v is not None and (not v.startswith("/") or any(c in v for c in " \r\n#?")):
            raise ValueError("must be a path starting with '/', without query or spaces")
        return v

    def rule(self, metric: Metric) -> Rule:
        """The rule ops.yaml gives the metric, else its default (no probes: http-5xx off)."""
        rule = self.rules.get(metric, DEFAULT_RULES[metric])
        if metric is Metric.HTTP_5XX and self.probe_requests == 0:
            return rule.model_copy(update={"enabled": False})
        return rule
