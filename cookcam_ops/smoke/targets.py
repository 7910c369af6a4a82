"""Where smoke tests reach the API: one base URL per host, resolved from ops.yaml or --url."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cookcam_ops.errors import UsageError

if TYPE_CHECKING:
    from cookcam_ops.config import EnvironmentConfig, HostConfig, LoadedConfig

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class SmokeTarget:
    """One API instance: its label (for metrics), the host shown on checks, and its URLs."""

    label: str
    base_url: str
    health_path: str = "/health"
    environment: str | None = None
    show_host: bool = True

    @property
    def check_host(self) -> str | None:
        """The `host` field of this target's checks (None for a one-host environment)."""
        return self.label if self.show_host else None

    @property
    def health_url(self) -> str:
        return self.base_url + self.health_path


def _bracket(hostname: str) -> str:
    return f"[{hostname}]" if ":" in hostname else hostname


def host_base_url(env: EnvironmentConfig, host: HostConfig, app_port: int) -> str:
    """host.base_url, else the environment's base_url when it has one host, else http://HOST:PORT."""
    if host.base_url:
        return host.base_url.rstrip("/")
    if env.base_url and len(env.hosts) == 1:
        return env.base_url.rstrip("/")
    return f"http://{_bracket(host.hostname)}:{host.port or app_port}"


def resolve_targets(
    loaded: LoadedConfig, environment: str, host: str | None = None
) -> list[SmokeTarget]:
    """The environment's hosts as smoke targets; `host` selects one by its label."""
    env = loaded.environment(environment)
    app = loaded.config.app
    several = len(env.hosts) > 1
    targets = [
        SmokeTarget(
            label=h.label,
            base_url=host_base_url(env, h, app.port),
            health_path=app.health_path,
            environment=environment,
            show_host=several,
        )
        for h in env.hosts
    ]
    for target in targets:
        check_url(target.base_url, f"the base URL of {target.label}")
    if host is None:
        return targets
    chosen = [t for t in targets if t.label == host]
    if not chosen:
        labels = ", ".join(t.label for t in targets)
        raise UsageError(
            f"unknown host '{host}' in environment '{environment}'", hint=f"known hosts: {labels}"
        )
    return chosen


def check_url(url: str, what: str) -> tuple[str, int]:
    """(hostname, port) of an http(s) URL; UsageError (never echoing userinfo) otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UsageError(f"{what} is not a valid URL") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise UsageError(
            f"{what} must be an http:// or https:// URL with a host",
            hint="for example http://127.0.0.1:3000",
        )
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"{what} must not carry credentials (user:password@)")
    if parts.query or parts.fragment:
        raise UsageError(f"{what} must not have a query string or fragment")
    return parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def url_target(url: str, health_path: str = "/health") -> SmokeTarget:
    """A target for --url: labelled host:port, shown on every check."""
    hostname, port = check_url(url, "--url")
    return SmokeTarget(
        label=f"{_bracket(hostname)}:{port}",
        base_url=url.rstrip("/"),
        health_path=health_path,
        environment=None,
        show_host=True,
    )
