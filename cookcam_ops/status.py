"""`status`: what each host serves, how PM2 runs it, whether it is healthy, who holds the lock,
and whether PM2's saved process list would bring back what runs (after a reboot).

One SSH round trip per host (a composite script), all hosts in parallel. Nothing here prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from cookcam_ops.errors import Unreachable
from cookcam_ops.history import parse_history, serving_since
from cookcam_ops.layout.lock import LockInfo, lock_read_command, parse_lock_read
from cookcam_ops.layout.releases import judge_cwds, release_of_link
from cookcam_ops.pm2.procs import Pm2Process, of_app, parse_jlist
from cookcam_ops.pm2.reboot import SavedVerdict, compare_saved, read_saved, saved_check
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import Connector, Target, run_on_hosts
from cookcam_ops.remote.protocol import Transport
from cookcam_ops.report import Check, HostsVerdict, Status, reachability

STATUS_TIMEOUT_S = 45.0
SHA_LEN = 40


@dataclass(frozen=True)
class Health:
    """The app's health endpoint as seen from the host itself."""

    healthy: bool | None  # None: unknown (the probe needs node on the host)
    status_code: int | None
    latency_ms: int | None
    detail: str


@dataclass(frozen=True)
class HostStatus:
    """One host's state; everything but the name is None/empty when it was unreachable."""

    name: str
    reachable: bool
    error: str | None = None
    sha: str | None = None
    since: str | None = None
    since_by: str | None = None
    health: Health | None = None
    processes: list[Pm2Process] = field(default_factory=list)
    pm2_error: str | None = None
    lock: LockInfo | None = None
    strategy: str = "in-place"
    release: str | None = None  # releases: the release APP/current names
    current_dir: str | None = None  # releases: where APP/current resolves
    toolchain_error: str | None = None  # node/npm/pm2 not found: PM2 and health unknown
    saved: SavedVerdict | None = None  # would a reboot (pm2 resurrect) bring back what runs?

    @property
    def healthy(self) -> bool | None:
        return None if self.health is None else self.health.healthy

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reachable": self.reachable,
            "error": self.error,
            "sha": self.sha,
            "since": self.since,
            "since_by": self.since_by,
            "healthy": self.healthy,
            "health": None
            if self.health is None
            else {
                "status_code": self.health.status_code,
                "latency_ms": self.health.latency_ms,
                "detail": self.health.detail,
            },
            "processes": [p.to_dict() for p in self.processes],
            "pm2_error": self.pm2_error,
            "lock": None if self.lock is None else self.lock.to_dict(),
            "strategy": self.strategy,
            "release": self.release,
            "toolchain_error": self.toolchain_error,
            "saved": None if self.saved is None else self.saved.to_dict(),
        }


@dataclass(frozen=True)
class StatusReport(HostsVerdict):
    """Every host's status plus the checks judged from it."""

    environment: str
    hosts: list[HostStatus]
    checks: list[Check]
    duration_s: float

    @property
    def unreachable(self) -> list[Unreachable]:
        return [
            Unreachable(h.name, h.error or "unreachable") for h in self.hosts if not h.reachable
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "environment": self.environment,
            "hosts": [h.to_dict() for h in self.hosts],
            "checks": [c.to_dict() for c in self.checks],
            "duration_s": round(self.duration_s, 3),
            **reachability(self.unreachable, [h.name for h in self.hosts if h.reachable]),
        }


def status_script(t: Target) -> str:
    """The composite script: SHA (and under releases where APP/current resolves), audit log
    tail, lock, PM2 processes, its saved list and health (the last three only with node and
    pm2 on the host)."""
    sections = [
        *t.layout.status_sections(),
        ("history", composite.tail_if_exists(t.history_file, 500)),
        ("lock", lock_read_command(t.lock_dir)),
    ]
    if t.toolchain.ok:
        sections += [
            ("pm2", composite.pm2_jlist()),
            ("pm2-saved", composite.pm2_saved()),
            ("health", composite.health(t.local_url)),
        ]
    return composite.script(sections)


def parse_health(doc: object) -> Health:
    """The host-side health probe's JSON."""
    if not isinstance(doc, dict):
        return Health(False, None, None, "no answer from the health probe (is node installed?)")
    if "error" in doc:
        return Health(False, None, None, f"no answer ({doc['error']})")
    code = doc.get("status")
    ms = doc.get("ms")
    latency = ms if isinstance(ms, int) else None
    code = code if isinstance(code, int) else None
    detail = f"HTTP {code}" + (f" in {latency} ms" if latency is not None else "")
    body = doc.get("body")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("version"), str):
            detail += f", version {parsed['version']}"
    return Health(code == 200, code, latency, detail)


def _saved(
    sections: dict[str, composite.Section], running: list[Pm2Process], app_name: str
) -> SavedVerdict:
    return compare_saved(
        read_saved(composite.json_section(sections, "pm2-saved")), running, app_name
    )


def with_releases(status: HostStatus, current_dir: str | None) -> HostStatus:
    """The status with each process's release (from its cwd) and the current release."""
    procs = [replace(p, release=release_of_link(p.cwd)) for p in status.processes]
    return replace(
        status,
        strategy="releases",
        processes=procs,
        current_dir=current_dir,
        release=release_of_link(current_dir),
    )


def parse_status(label: str, stdout: str, app_name: str | None = None) -> HostStatus:
    """A host's status from the composite script's output (pure); with app_name, whether the
    saved process list would bring the app back as it runs."""
    sections = composite.parse(stdout)
    sha_sec = sections.get("sha")
    sha = sha_sec.text.strip() if sha_sec and sha_sec.ok else None
    if sha is not None and len(sha) != SHA_LEN:
        sha = None
    records, _ = parse_history(sections["history"].text if "history" in sections else "", label)
    since = serving_since(records, sha)
    processes, pm2_error = parse_jlist(composite.json_section(sections, "pm2"))
    lock_sec = sections.get("lock")
    host = HostStatus(
        name=label,
        reachable=True,
        sha=sha,
        since=since.time if since else None,
        since_by=since.user if since else None,
        health=parse_health(composite.json_section(sections, "health")),
        processes=processes,
        pm2_error=pm2_error,
        lock=parse_lock_read(lock_sec.text if lock_sec else None),
        saved=_saved(sections, processes, app_name) if app_name and not pm2_error else None,
    )
    current = sections.get("current")
    if current is None:
        return host
    return with_releases(host, current.text.strip() if current and current.ok else None)


def judge_host(status: HostStatus, app_name: str) -> list[Check]:
    """The checks a host's status implies."""
    name = status.name
    if not status.reachable:
        return [Check("reachable", Status.FAIL, status.error or "unreachable", name)]
    checks = [Check("reachable", Status.PASS, "connected over SSH", name)]
    checks.append(
        Check("sha", Status.PASS, status.sha, name)
        if status.sha
        else Check(
            "sha",
            Status.FAIL,
            "no REVISION file in current/ (is the current release complete?)"
            if status.strategy == "releases"
            else "git rev-parse HEAD failed in the app path",
            name,
        )
    )
    if status.toolchain_error:
        checks += [
            Check("toolchain", Status.FAIL, status.toolchain_error, name),
            Check("pm2", Status.SKIP, "unknown: pm2 was not found on the host", name),
            Check(
                "health",
                Status.SKIP,
                "unknown: the health probe runs node on the "
                "host, which was not found (not a verdict on the app)",
                name,
            ),
        ]
    else:
        checks.append(_pm2_check(status, app_name))
    if status.strategy == "releases" and not status.toolchain_error:
        checks.append(_release_check(status, app_name))
    health = status.health
    if health is not None and health.healthy is not None:
        checks.append(
            Check("health", Status.PASS if health.healthy else Status.FAIL, health.detail, name)
        )
    if status.saved is not None:
        checks.append(saved_check(status.saved, name, "saved-list"))
    if status.lock is not None:
        checks.append(Check("lock", Status.WARN, f"held by {status.lock.describe()}", name))
    else:
        checks.append(Check("lock", Status.PASS, "free", name))
    return checks


def _pm2_check(status: HostStatus, app_name: str) -> Check:
    if status.pm2_error:
        return Check("pm2", Status.FAIL, status.pm2_error, status.name)
    mine = of_app(status.processes, app_name)
    if not mine:
        return Check("pm2", Status.FAIL, f"PM2 runs no process named {app_name}", status.name)
    down = [f"{p.pm_id}:{p.status}" for p in mine if not p.online]
    if down:
        return Check("pm2", Status.FAIL, f"not online: {', '.join(down)}", status.name)
    return Check(
        "pm2", Status.PASS, f"{len(mine)} {mine[0].exec_mode} process(es) online", status.name
    )


def _release_check(status: HostStatus, app_name: str) -> Check:
    """releases: every worker runs in the release APP/current names."""
    workers = [(p.pm_id, p.cwd) for p in of_app(status.processes, app_name)]
    verdict = judge_cwds(workers, status.current_dir)
    return Check("release", Status.PASS if verdict.ok else Status.FAIL, verdict.detail, status.name)


def _probe(transport: Transport, t: Target) -> HostStatus:
    result = transport.run(status_script(t), timeout=STATUS_TIMEOUT_S)
    if result.timed_out:
        return HostStatus(
            name=t.label,
            reachable=True,
            error="status script timed out",
            health=Health(False, None, None, "status script timed out"),
        )
    found = parse_status(t.label, result.stdout, app_name=t.app.name)
    if t.toolchain.ok:
        return found
    return replace(
        found,
        pm2_error=None,
        toolchain_error=t.toolchain.explanation(),
        health=Health(None, None, None, "unknown: node not found on the host"),
        saved=None,
    )


def collect_status(
    environment: str,
    targets: list[Target],
    connector: Connector,
    progress: Callable[[str], None] | None = None,
) -> StatusReport:
    """Probe every host in parallel (one round trip each) and judge what came back."""
    started = time.monotonic()
    hosts: list[HostStatus] = []
    checks: list[Check] = []
    for outcome in run_on_hosts(targets, connector, _probe):
        label = outcome.target.label
        host = outcome.value or HostStatus(name=label, reachable=False, error=outcome.error)
        hosts.append(host)
        checks.extend(judge_host(host, outcome.target.app.name))
        if progress:
            progress(f"{label}: {'reachable' if host.reachable else 'unreachable'}")
    checks.append(judge_fleet(hosts))
    return StatusReport(environment, hosts, checks, time.monotonic() - started)


def judge_fleet(hosts: list[HostStatus]) -> Check:
    """The fleet serves one release: every host that answered reports the same SHA (a deploy
    killed halfway, say with kill -9, can leave two)."""
    by_sha: dict[str, list[str]] = {}
    for h in hosts:
        if h.sha:
            by_sha.setdefault(h.sha, []).append(h.name)
    if len(by_sha) > 1:
        parts = "; ".join(f"{sha[:10]} on {', '.join(names)}" for sha, names in by_sha.items())
        return Check(
            "one-release",
            Status.FAIL,
            f"the hosts serve {len(by_sha)} different "
            f"commits: {parts}; deploy (or roll back) to put them on one",
        )
    if not by_sha:
        return Check("one-release", Status.SKIP, "no host reported the commit it serves")
    sha, names = next(iter(by_sha.items()))
    unknown = len(hosts) - len(names)
    return Check(
        "one-release",
        Status.PASS,
        f"{len(names)} host(s) serve {sha[:10]}" + (f" ({unknown} did not say)" if unknown else ""),
    )
