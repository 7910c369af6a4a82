"""Fakes shared by the deploy unit tests: an app, targets, facts and a scripted engine world."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from cookcam_ops.config import AppConfig, HostConfig
from cookcam_ops.deploy.facts import FactsQuery, HostFacts
from cookcam_ops.deploy.observer import NullObserver
from cookcam_ops.deploy.plan import HostPlan, PlanInput, plan_host
from cookcam_ops.deploy.playbook import StepKind, load_playbook
from cookcam_ops.deploy.result import StepStatus
from cookcam_ops.deploy.session import HostSession
from cookcam_ops.deploy.steps import RunContext, StepCall
from cookcam_ops.errors import HostError
from cookcam_ops.remote.fanout import Target, target
from cookcam_ops.remote.protocol import RunResult
from cookcam_ops.resources import default_playbook

OLD = "a" * 40
NEW = "b" * 40
APP = AppConfig(name="cookcam-api", path="/srv/api", port=3000)
DEPLOY = load_playbook(default_playbook("deploy.yaml"))
ROLLBACK = load_playbook(default_playbook("rollback.yaml"))


def make_target(name: str) -> Target:
    return target(
        HostConfig(ssh=f"deploy@{name}.example:22", name=name, app_path=f"/srv/{name}/api"), APP
    )


def facts(label: str, **kw: Any) -> HostFacts:
    base: dict[str, Any] = {
        "head": OLD,
        "branch": "main",
        "target": NEW,
        "lockfile_differs": False,
        "exec_mode": "cluster_mode",
        "instances": 2,
    }
    base.update(kw)
    return HostFacts(label, **base)


def plan(label: str, **kw: Any) -> HostPlan:
    return plan_host(
        PlanInput(DEPLOY, APP, make_target(label), "deploy", None, None), facts(label, **kw)
    )


class FakeTransport:
    """Answers every command with exit 0 (but an audit append on a full disk) and keeps a log
    of what was sent."""

    def __init__(self, label: str, log: list[tuple[str, str]], *, full: bool = False) -> None:
        self.label = label
        self.log = log
        self.full = full

    def run(
        self, command: str, *, timeout: float | None = None, on_line: object = None
    ) -> RunResult:
        self.log.append((self.label, command))
        if self.full and ">> " in command and "history.jsonl" in command:
            err = "sh: 1: cannot create history.jsonl: No space left on device\n"
            return RunResult(command, 2, "", err, 0.0)
        return RunResult(command, 0, "", "", 0.0)

    def read_file(self, path: str) -> bytes | None:
        return None

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass
class World:
    """Hosts' served SHAs, scripted step outcomes, and everything the engine sent."""

    hosts: list[str]
    script: dict[tuple[str, str], str] = field(default_factory=dict)
    head: dict[str, str] = field(default_factory=dict)
    prev: dict[str, str | None] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    disk_full: set[str] = field(default_factory=set)  # hosts whose audit appends fail
    calls: list[tuple[str, str]] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.head = {h: OLD for h in self.hosts}
        self.prev = {h: None for h in self.hosts}

    def connect(self, host: HostConfig) -> FakeTransport:
        assert host.name is not None
        if host.name in self.down:
            raise HostError(f"{host.name}: could not connect (refused)")
        return FakeTransport(host.name, self.log, full=host.name in self.disk_full)

    def session(self, label: str) -> HostSession:
        s = HostSession(make_target(label), self.connect, reconnect_delay_s=0.0)
        s.connect()
        return s

    def step(self, call: StepCall) -> tuple[StepStatus, str]:
        """Every step kind, as the script says: the registry the engine gets from context()."""
        session, hp, ps, ctx = call.session, call.hp, call.ps, call.ctx
        host = hp.label
        with self.lock:
            self.calls.append((host, ps.name))
            n = sum(1 for c in self.calls if c == (host, ps.name))
        action = self.script.get((host, f"{ps.name}#{n}")) or (
            self.script.get((host, ps.name)) if n == 1 else None
        )
        if action == "cancel":
            ctx.cancel.set()
        if action == "cancel-twice":  # Ctrl-C twice while this step runs
            ctx.cancel.set()
            self.cut.extend(ctx.cuts.cut_all())
            if session.lost:
                raise HostError(f"{host}: connection lost (cut)")
        if action in ("lost", "lost-down"):
            if action == "lost-down":
                self.down.add(host)
            session._drop()
            raise HostError(f"{host}: connection lost (EOFError)")
        if ps.switch:
            self.prev[host], self.head[host] = self.head[host], hp.to_sha or ""
        if action == "fail":
            return StepStatus.FAILED, "scripted failure"
        return StepStatus.OK, ""

    def gather(
        self, runner: object, t: Target, query: FactsQuery, timeout: float = 0.0
    ) -> HostFacts:
        return facts(
            t.label,
            head=self.head[t.label],
            prev_sha=self.prev[t.label],
            target=query.candidates[0] if query.candidates else None,
        )

    def context(self, **kw: Any) -> RunContext:
        base: dict[str, Any] = {
            "run_id": "run-1",
            "action": "deploy",
            "user": "tester",
            "ref": None,
            "app": APP,
            "observer": NullObserver(),
            "rollback_playbook": ROLLBACK,
            "cancel": threading.Event(),
            "kinds": dict.fromkeys(StepKind, self.step),
            "gather": self.gather,
        }
        base.update(kw)
        return RunContext(**base)

    def commands(self, host: str, needle: str) -> list[str]:
        return [c for h, c in self.log if h == host and needle in c]
