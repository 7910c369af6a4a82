"""Running one piece of work on every host of an environment, in parallel, over SSH.

A host that cannot be reached (or that drops the connection) becomes an outcome with an error
line instead of an exception, so reports can show the other hosts. Where a host's app lives,
which port it serves and its base URL are resolved here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Generic, TypeVar

from cookcam_ops.common import parallel_map
from cookcam_ops.config import AppConfig, EnvironmentConfig, HostConfig, LoadedConfig, Strategy
from cookcam_ops.errors import HostError, Unreachable, UsageError
from cookcam_ops.layout import Layout, layout_for
from cookcam_ops.limits import clip_value
from cookcam_ops.remote.agent import ChannelHost, Launch
from cookcam_ops.remote.probe import (
    PROBE_TIMEOUT_S,
    HostProbe,
    Toolchain,
    choose_toolchain,
    parse_probe,
    probe_script,
)
from cookcam_ops.remote.protocol import Transport, with_path

T = TypeVar("T")
Connector = Callable[[HostConfig], Transport]


@dataclass(frozen=True)
class Target:
    """One host with its app's resolved location: its layout and, once probed, its toolchain."""

    host: HostConfig
    app: AppConfig
    layout: Layout
    port: int
    base_url: str
    keep_releases: int = 5
    tool_path: tuple[str, ...] = ()  # ssh.path / the host's path: prepended to PATH
    toolchain: Toolchain = field(default_factory=Toolchain)

    @property
    def label(self) -> str:
        return self.host.label

    @property
    def app_path(self) -> str:
        return self.layout.app_path

    @property
    def strategy(self) -> Strategy:
        return self.layout.strategy

    @property
    def code_path(self) -> str:
        """Where the served code is read from (ecosystem file, package.json, dist)."""
        return self.layout.code_path

    @property
    def repo_path(self) -> str:
        """Where git runs: the top of the checkout (in-place) or the bare `APP/repo`."""
        return self.layout.repo_path

    @property
    def ops_dir(self) -> str:
        """Where the tool keeps its lock, audit log and kept builds (never in a work tree)."""
        return self.layout.state_dir

    @property
    def lock_dir(self) -> str:
        return self.layout.lock_dir

    @property
    def history_file(self) -> str:
        return self.layout.history_file

    @property
    def env_path(self) -> str:
        return self.layout.env_path(self.app.env_file)

    @property
    def local_url(self) -> str:
        """The app as seen from the host itself."""
        return f"http://127.0.0.1:{self.port}{self.app.health_path}"

    def probed(self, probe: HostProbe) -> Target:
        """This target as the host probe found it: its layout's places and its toolchain."""
        if not probe.answered:
            return self
        return replace(
            self,
            layout=layout_for(self.strategy, self.app_path, probe.place),
            toolchain=choose_toolchain(probe, self.tool_path),
        )


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
    """Resolve a host's app path, port, base URL and tool path (host overrides first)."""
    port = host.port or app.port
    base_url = host.base_url or f"http://{host.hostname}:{port}"
    strategy = Strategy(env.strategy) if env else Strategy.IN_PLACE
    tool_path = tuple(host.path if host.path is not None else env.ssh.path if env else ())
    return Target(
        host=host,
        app=app,
        layout=layout_for(strategy, host.app_path or app.path),
        port=port,
        base_url=base_url.rstrip("/"),
        keep_releases=env.keep_releases if env else 5,
        tool_path=tool_path,
    )


def targets_for(
    loaded: LoadedConfig, env: EnvironmentConfig, hosts: list[HostConfig] | None = None
) -> list[Target]:
    """The environment's hosts (or those given, e.g. by select_hosts) with their app resolved."""
    return [target(h, loaded.config.app, env) for h in (env.hosts if hosts is None else hosts)]


def open_host(connector: Connector, t: Target) -> tuple[Transport, Target]:
    """Connect and probe (one round trip): a transport that puts the host's toolchain on PATH
    for every command, and the target as the probe found it.

    Over SSH the probe's channel then becomes the host's one session for the run (the agent,
    remote/agent.py), so every later command costs a round trip, not a login shell."""
    transport = connector(t.host)
    script = probe_script(t.app_path, t.tool_path)
    try:
        if isinstance(transport, ChannelHost):
            launch = Launch(transport, script, PROBE_TIMEOUT_S)
            found = t.probed(parse_probe(launch.stdout))
            return launch.session(found.toolchain.dirs), found
        found = t.probed(parse_probe(transport.run(script, timeout=PROBE_TIMEOUT_S).stdout))
    except BaseException:
        transport.close()
        raise
    return with_path(transport, found.toolchain.dirs), found


def select_hosts(env_name: str, env: EnvironmentConfig, only: str | None) -> list[HostConfig]:
    """Every host of the environment, or the one named by --host."""
    if only is None:
        return list(env.hosts)
    chosen = [h for h in env.hosts if only in (h.label, h.ssh, h.hostname)]
    if not chosen:
        known = ", ".join(h.label for h in env.hosts)
        raise UsageError(
            f"no host {clip_value(only)} in environment {env_name}", hint=f"its hosts are: {known}"
        )
    return chosen[:1]


def ssh_connector(
    loaded: LoadedConfig, env: EnvironmentConfig, accept_new_host_keys: bool = False
) -> Connector:
    """A connector that opens strict-host-key SSH connections for this environment."""
    from cookcam_ops.remote.ssh import connect

    base_dir: Path = loaded.base_dir

    def _connect(host: HostConfig) -> Transport:
        return connect(host, env, accept_new_host_keys=accept_new_host_keys, base_dir=base_dir)

    return _connect


def run_on_hosts(
    targets: list[Target], connector: Connector, work: Callable[[Transport, Target], T]
) -> list[HostOutcome[T]]:
    """Connect to each target and run work on it, all hosts in parallel, in config order."""

    def one(t: Target) -> HostOutcome[T]:
        try:
            transport, t = open_host(connector, t)
        except HostError as e:
            return HostOutcome(t, None, str(e))
        try:
            return _outcome(transport, t, work)
        finally:
            transport.close()

    return parallel_map(targets, one)


def run_on_open(
    hosts: list[tuple[Transport, Target]], work: Callable[[Transport, Target], T]
) -> list[HostOutcome[T]]:
    """run_on_hosts on hosts a run has already connected to (their sessions), left open."""
    return parallel_map(hosts, lambda host: _outcome(*host, work))


def _outcome(
    transport: Transport, t: Target, work: Callable[[Transport, Target], T]
) -> HostOutcome[T]:
    try:
        return HostOutcome(t, work(transport, t))
    except HostError as e:
        return HostOutcome(t, None, str(e))


def reach(outcomes: list[HostOutcome[T]]) -> tuple[list[Unreachable], list[str]]:
    """Which hosts could not be used (and why), and which answered, in config order."""
    return (
        [Unreachable(o.target.label, o.error) for o in outcomes if o.error is not None],
        [o.target.label for o in outcomes if o.error is None],
    )
