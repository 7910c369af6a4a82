"""From command-line choices to what `run_smoke` needs: targets, credentials and options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cookcam_ops.errors import UsageError

if TYPE_CHECKING:
    from cookcam_ops.config import LoadedConfig
    from cookcam_ops.smoke.checks import SmokeOptions
    from cookcam_ops.smoke.credentials import Credentials
    from cookcam_ops.smoke.targets import SmokeTarget


@dataclass(frozen=True)
class SmokePlan:
    """Everything a smoke run needs, resolved and validated before any request is sent."""

    targets: list[SmokeTarget]
    creds: Credentials
    options: SmokeOptions


def plan_smoke(
    loaded: LoadedConfig | None,
    environment: str | None,
    *,
    environ: Mapping[str, str],
    url: str | None = None,
    host: str | None = None,
    timeout_s: float | None = None,
    connections: int | None = None,
) -> SmokePlan:
    """Resolve an environment (from ops.yaml) or a bare --url into a plan.

    With --url, ops.yaml is optional: without one, the default variable names are used. host,
    timeout_s and connections are smoke's --host, --timeout and --connections (None: every
    host, smoke.timeout_s, smoke.connections).
    """
    from cookcam_ops.config import SmokeConfig
    from cookcam_ops.smoke.checks import SmokeOptions
    from cookcam_ops.smoke.credentials import find_credentials
    from cookcam_ops.smoke.targets import resolve_targets, url_target

    if (environment is None) == (url is None):
        raise UsageError(
            "smoke needs an ENVIRONMENT or --url URL (one of them, not both)",
            hint="e.g. cookcam-ops smoke production, or --url http://127.0.0.1:3000",
        )
    if url is not None and host is not None:
        raise UsageError("--host selects a host of an ENVIRONMENT; it cannot be used with --url")
    smoke = loaded.config.smoke if loaded is not None else SmokeConfig()
    if environment is not None:
        if loaded is None:
            raise UsageError(
                f"environment '{environment}' needs ops.yaml",
                hint="pass --config PATH, or use --url URL",
            )
        targets = resolve_targets(loaded, environment, host)
    else:
        assert url is not None
        health_path = loaded.config.app.health_path if loaded is not None else "/health"
        targets = [url_target(url, health_path)]
    env_file = loaded.resolve(smoke.env_file) if loaded is not None and smoke.env_file else None
    creds = find_credentials(smoke, env_file, environ)
    options = SmokeOptions.from_config(smoke, timeout_s=timeout_s, connections=connections)
    return SmokePlan(targets=targets, creds=creds, options=options)
