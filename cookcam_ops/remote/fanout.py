"""Running one piece of work on every host of an environment, in parallel, over SSH.

A host that cannot be reached (or that drops the connection) becomes an outcome with an error
line instead of an exception, so reports can show the other hosts. Where a host's app lives,
which port it serves and its base URL are resolved here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from cookcam_ops.config import AppConfig, EnvironmentConfig, HostConfig, LoadedConfig
from cookcam_ops.errors import HostError, UsageError
from cookcam_ops.limits import clip_value
from cookcam_ops.remote.protocol import Transport

T = TypeVar("T")
Connector = Callable[[HostConfig], Transport]
MAX_PARALLEL = 16


@dataclass(frozen=True)
class Target:
    """One host with its app's resolved location."""

    host: HostConfig
    app: AppConfig
    app_path: str
    port: int
    base_url: str
    strategy: str = "in-place"
    keep_releases: int = 5

    @property
    def label(self) -> str:
        return self.host.label

    @property
    def releases(self) -> bool:
        """True when the host keeps releases side by side (strategy: releases)."""
        return self.strategy == "releases"

    @property
    def current_path(self) -> str:
        """releases: the `current` symlink; in-place: the checkout itself."""
        return f"{self.app_path.rstrip('/')}/current" if self.releases else self.app_path

    @property
    def code_path(self) -> str:
        """Where the served code is read from (ecosystem file, package.json, dist)."""
        return self.current_path

    @property
    def repo_path(self) -> str:
        """Where git runs: the checkout (in-place) or the bare repository `APP/repo`."""
        return f"{self.app_path.rstrip('/')}/repo" if self.releases else self.app_path

    @property
    def shared_path(self) -> str:
        """releases: `APP/shared`, the .env deploys copy and what every release links to."""
        return f"{self.app_path.rstrip('/')}/shared"

    @property
    def releases_path(self) -> str:
        return f"{self.app_path.rstrip('/')}/releases"

    @property
    def ops_dir(self) -> str:
        """Where deploy keeps its lock and audit log: beside the app, `<app_path>.ops`."""
        return self.app_path.rstrip("/") + ".ops"

    @property
    def lock_dir(self) -> str:
        """The lock is this directory (renamed into place whole); info.json inside names who."""
        return f"{self.ops_dir}/lock"

    @property
    def lock_file(self) -> str:
        return f"{self.lock_dir}/info.json"

    @property
    def history_file(self) -> str:
        return f"{self.ops_dir}/history.jsonl"

    @property
    def env_path(self) -> str:
        env_file = self.app.env_file
        if env_file.startswith("/"):
            return env_file
        return f"{self.shared_path if self.releases else self.app_path}/{env_file}"

    @property
    def local_url(self) -> str:
        """The app as seen from the host itself."""
        return f"http://127.0.0.1:{self.port}{self.app.health_path}"


@dataclass(frozen=True)
class HostOutcome(Generic[T]):
    """What the work returned on one host, or why the host could not be used."""

    target: Target
    value: T | None
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None


def target(host: HostConfig, app: AppConfig, env: EnvironmentConfig | None = None) -> Target:
    """Resolve a host's app path, port and base URL (host overrides first)."""
    port = host.port or app.port
    base_url = host.base_url or f"http://{host.hostname}:{port}"
    return Target(host=host, app=app, app_path=host.app_path or app.path, port=port,
                  base_url=base_url.rstrip("/"),
                  strategy=env.strategy if env else "in-place",
                  keep_releases=env.keep_releases if env else 5)


def select_hosts(env_name: str, env: EnvironmentConfig, only: str | None) -> list[HostConfig]:
    """Every host of the environment, or the one named by --host."""
    if only is None:
        return list(env.hosts)
    chosen = [h for h in env.hosts if only in (h.label, h.ssh, h.hostname)]
    if not chosen:
        known = ", ".join(h.label for h in env.hosts)
        raise UsageError(f"no host {clip_value(only)} in environment {env_name}",
                         hint=f"its hosts are: {known}")
    return chosen[:1]


def ssh_connector(loaded: LoadedConfig, env: EnvironmentConfig,
                  accept_new_host_keys: bool = False) -> Connector:
    """A connector that opens strict-host-key SSH connections for this environment."""
    from cookcam_ops.remote.ssh import connect

    base_dir: Path = loaded.base_dir

    def _connect(host: HostConfig) -> Transport:
        return connect(host, env, accept_new_host_keys=accept_new_host_keys, base_dir=base_dir)

    return _connect


def run_on_hosts(targets: list[Target], connector: Connector,
                 work: Callable[[Transport, Target], T]) -> list[HostOutcome[T]]:
    """Connect to each target and run work on it, all hosts in parallel, in config order."""

    def one(t: Target) -> HostOutcome[T]:
        try:
            transport = connector(t.host)
        except HostError as e:
            return HostOutcome(t, None, str(e))
        try:
            return HostOutcome(t, work(transport, t))
        except HostError as e:
            return HostOutcome(t, None, str(e))
        finally:
            transport.close()

    if len(targets) == 1:
        return [one(targets[0])]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(targets))) as pool:
        return list(pool.map(one, targets))
