"""`sandbox status` and `sandbox change`: look at a sandbox; push a new release to its origin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cookcam_ops.common import parallel_map
from cookcam_ops.errors import UsageError
from cookcam_ops.report import Check, Status
from cookcam_ops.sandbox import hosts, pm2, procs
from cookcam_ops.sandbox.layout import HostState, Layout, SandboxState, write_state
from cookcam_ops.sandbox.manager import load_sandbox

Progress = Callable[[str], None]


@dataclass(frozen=True)
class HostStatus:
    """One host: is its sshd answering, is PM2's daemon alive, does /health answer 200."""

    name: str
    ssh_port: int
    app_port: int
    base_url: str
    app_path: str
    sshd_up: bool
    app_up: bool
    pm2_up: bool
    workers: int


@dataclass(frozen=True)
class SandboxStatus:
    """`sandbox status`: ok only when every host and the auth stub are up."""

    dir: str
    hosts: tuple[HostStatus, ...]
    auth_url: str
    auth_up: bool
    origin: str

    @property
    def ok(self) -> bool:
        return self.auth_up and all(h.sshd_up and h.app_up and h.pm2_up for h in self.hosts)

    @property
    def checks(self) -> list[Check]:
        """Each part as a check: every host's sshd, PM2 daemon and app, then the auth stub."""

        def part(name: str, up: bool, host: str | None) -> Check:
            return Check(name, Status.PASS if up else Status.FAIL, "up" if up else "down", host)

        out = [
            part(n, up, h.name)
            for h in self.hosts
            for n, up in (("sshd", h.sshd_up), ("pm2", h.pm2_up), ("app", h.app_up))
        ]
        return [*out, part("auth-stub", self.auth_up, None)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "hosts": [asdict(h) for h in self.hosts],
            "auth_url": self.auth_url,
            "auth_up": self.auth_up,
            "dir": self.dir,
            "origin": self.origin,
            "checks": [c.to_dict() for c in self.checks],
        }


def _host_status(h: HostState) -> HostStatus:
    sshd_up = procs.owned_alive(h.sshd_pid, h.sshd_config) and procs.ssh_banner(h.ssh_port)
    home = Path(h.pm2_home)
    daemon = pm2.daemon_pid(home)
    return HostStatus(
        name=h.name,
        ssh_port=h.ssh_port,
        app_port=h.app_port,
        base_url=h.base_url,
        app_path=h.app_path,
        sshd_up=sshd_up,
        app_up=hosts.health_ok(h.base_url + "/health"),
        pm2_up=daemon is not None,
        workers=len(procs.children_of(daemon)) if daemon else 0,
    )


def inspect_sandbox(directory: Path) -> SandboxStatus:
    """Check every part of the sandbox in directory (SandboxError when there is none)."""
    state = load_sandbox(directory)
    statuses = tuple(parallel_map(state.hosts, _host_status))
    auth_up = procs.owned_alive(state.auth.pid, state.auth.config) and hosts.health_ok(
        state.auth.url + "/auth/v1/health"
    )
    return SandboxStatus(
        dir=state.dir,
        hosts=statuses,
        auth_url=state.auth.url,
        auth_up=auth_up,
        origin=str(Layout(Path(state.dir)).origin),
    )


@dataclass(frozen=True)
class ChangeResult:
    """A change pushed to the sandbox's origin: its commit, release number and message."""

    sha: str
    kind: str
    release: int
    message: str


def change_sandbox(directory: Path, kind: str, progress: Progress = lambda _: None) -> ChangeResult:
    """Commit the next release of kind in the sandbox's work clone and push it to origin main."""
    from cookcam_ops.sandbox.changes import KINDS, write_api_tree

    if kind not in KINDS:
        raise UsageError(f"unknown change kind '{kind}'", hint=f"use one of {', '.join(KINDS)}")
    state: SandboxState = load_sandbox(directory)
    layout = Layout(Path(state.dir))
    work = layout.work
    progress(f"pulling origin main into {work}")
    hosts.git(["pull", "--quiet", "--ff-only", "origin", "main"], work)
    release = state.release + 1
    message = write_api_tree(work / state.api_subdir, kind, release)
    hosts.git(["add", "--all"], work)
    hosts.git(["commit", "--quiet", "--allow-empty", "-m", message], work)
    progress(f"pushing '{message}' to origin main")
    hosts.git(["push", "--quiet", "origin", "main"], work)
    sha = hosts.git(["rev-parse", "HEAD"], work)
    write_state(layout, state.with_release(release))
    return ChangeResult(sha=sha, kind=kind, release=release, message=message)
