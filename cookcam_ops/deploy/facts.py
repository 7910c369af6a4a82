"""Facts about one host, gathered in ONE round trip by one composite script.

Current SHA, branch, dirty tree, node_modules, what a rollback can switch to without a build (the
build kept in `<ops>/prev`, or the releases kept), the lock, PM2's view of the app (exec mode,
instances and the settings it runs them with; whitelisted fields only: never `pm2_env.env`),
optionally a `git fetch` followed by resolving the target ref to a commit SHA, where its
package-lock.json is and whether the app's differs from the served one, the target commit's
ecosystem file (settings and env key names, read by node on the host), and optionally the audit
log's tail. The layout (`t.layout`) says
where each of these is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cookcam_ops.deploy.refs import FULL_SHA_RE
from cookcam_ops.deploy.session import Runner
from cookcam_ops.history import HistoryRecord, parse_history
from cookcam_ops.layout import releases as rel
from cookcam_ops.layout.lock import LockInfo, lock_read_command, parse_lock_read
from cookcam_ops.pm2 import ecosystem
from cookcam_ops.pm2.procs import of_app, parse_jlist
from cookcam_ops.remote import composite
from cookcam_ops.remote.protocol import q, sh_program

if TYPE_CHECKING:
    from cookcam_ops.remote.fanout import Target

HISTORY_LINES = 2000
ECOSYSTEM = "ecosystem-target"  # the target commit's ecosystem file: the checklist's name too


@dataclass(frozen=True)
class FactsQuery:
    """What to gather: fetch first or not, which ref candidates to resolve, the audit log."""

    remote: str
    app_name: str
    fetch: bool = True
    candidates: tuple[str, ...] = ()
    history: bool = False


@dataclass(frozen=True)
class HostFacts:
    """One host as the facts script saw it."""

    label: str
    error: str | None = None
    head: str | None = None
    branch: str | None = None
    dirty: int = 0
    has_node_modules: bool = True
    fetch_error: str | None = None
    target: str | None = None
    lockfile_differs: bool | None = None
    lockfile: str | None = None  # the target commit's package-lock.json: app, root or none
    prev_sha: str | None = None
    lock: LockInfo | None = None
    exec_mode: str | None = None
    instances: int = 0
    pm2_error: str | None = None
    history: list[HistoryRecord] = field(default_factory=list)
    releases: tuple[rel.ReleaseEntry, ...] = ()
    current_release: str | None = None
    host_time: str | None = None
    running: ecosystem.Pm2Settings | None = None  # how PM2 runs the app now
    target_ecosystem: ecosystem.EcosystemRead | None = None  # the target commit's file


def _fetch_section(repo_path: str, remote: str) -> str:
    """Fetch the remote's branches and every tag (--tags: also a tag no branch reaches, which
    git's automatic tag following never fetches; --force: a tag moved on the remote is taken
    as the remote has it, not refused). Tags are not pruned: local ones stay."""
    return (
        f"cd {q(repo_path)} || exit 3; "
        f"out=$(git fetch --quiet --prune --tags --force {q(remote)} 2>&1); "
        "rc=$?; printf '%s\\n' \"$out\" | tail -n 2; exit $rc"
    )


def _target_section(t: Target, candidates: tuple[str, ...]) -> str:
    """The first candidate that resolves; where its package-lock.json is; whether it changed
    (hostside/facts_target.sh, given the commit served)."""
    return (
        f"{sh_program('facts_target.sh')} {q(t.repo_path, t.layout.lockfile)} "
        f'"$({t.layout.head_command()})" {q(*candidates)}'
    )


def facts_sections(t: Target, query: FactsQuery) -> list[tuple[str, str]]:
    """The composite script's sections for one host (pure), in the order they run."""
    sections = [("git", t.layout.facts_command())]
    if query.fetch:
        sections.append(("fetch", _fetch_section(t.repo_path, query.remote)))
    if query.candidates:
        sections += [
            ("target", _target_section(t, query.candidates)),
            (ECOSYSTEM, ecosystem.target_command(t, query.candidates)),
        ]
    sections += [
        t.layout.kept_section(t.app.env_file),
        ("lock", lock_read_command(t.lock_dir)),
        ("pm2", composite.pm2_jlist()),
    ]
    if query.history:
        sections.append(("history", composite.tail_if_exists(t.history_file, HISTORY_LINES)))
    return sections


def facts_script(t: Target, query: FactsQuery) -> str:
    """The composite script for one host (pure)."""
    return composite.script(facts_sections(t, query))


def _pairs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _sha(value: str | None) -> str | None:
    return value if value and FULL_SHA_RE.match(value) else None


def _pm2(
    doc: Any, app_name: str
) -> tuple[str | None, int, str | None, ecosystem.Pm2Settings | None]:
    procs, error = parse_jlist(doc)
    if error is not None:
        return None, 0, (error if isinstance(doc, dict) else "no answer from pm2 jlist")[:200], None
    mine = of_app(procs, app_name)
    modes = {p.exec_mode for p in mine}
    mode = "cluster_mode" if "cluster" in modes else (f"{modes.pop()}_mode" if modes else None)
    return mode, len(mine), None, ecosystem.from_processes(mine)


def parse_facts(label: str, stdout: str, query: FactsQuery) -> HostFacts:
    """HostFacts from the composite script's output (pure)."""
    sections = composite.parse(stdout)
    git = sections.get("git")
    g = _pairs(git.text) if git is not None else {}
    if g.get("layout") == "in-place" and git is not None and git.exit_code == 4:
        return HostFacts(
            label,
            error="the app path is an in-place checkout, not the releases "
            "layout; run `cookcam-ops migrate-to-releases ENVIRONMENT` first",
        )
    if g.get("layout") == "releases" and git is not None and git.exit_code == 4:
        return HostFacts(
            label,
            error="the app path is in the releases layout (APP/current, "
            "APP/repo); set `strategy: releases` for this environment",
        )
    if git is None or not git.ok:
        return HostFacts(
            label,
            error="the app directory is missing or is not a git checkout"
            if "layout" not in g
            else "the app directory is not in the releases layout (APP/current and APP/repo)",
        )
    fetch = sections.get("fetch")
    fetch_error = None
    if query.fetch and (fetch is None or not fetch.ok):
        fetch_error = (
            (fetch.text.strip().splitlines() or ["failed"])[-1][:200] if fetch else "no answer"
        )
    tgt = _pairs(sections["target"].text) if "target" in sections else {}
    diff = tgt.get("lockfile_diff")
    prev = sections.get("prev")
    lock_sec = sections.get("lock")
    lock = parse_lock_read(lock_sec.text if lock_sec else None)
    mode, instances, pm2_error, running = _pm2(
        composite.json_section(sections, "pm2"), query.app_name
    )
    eco = composite.json_section(sections, ECOSYSTEM) if ECOSYSTEM in sections else None
    history, _ = parse_history(sections["history"].text if "history" in sections else "", label)
    return HostFacts(
        label=label,
        head=_sha(g.get("head")),
        branch=g.get("branch") or None,
        dirty=int(g.get("dirty", "0") or 0),
        has_node_modules=g.get("node_modules") == "1",
        fetch_error=fetch_error,
        target=_sha(tgt.get("target")),
        lockfile_differs=None if diff is None else diff != "0",
        lockfile=tgt.get("lockfile"),
        prev_sha=_sha(prev.text.strip()) if prev else None,
        lock=lock,
        exec_mode=mode,
        instances=instances,
        pm2_error=pm2_error,
        history=history,
        releases=rel.parse_listing(sections["releases"].text) if "releases" in sections else (),
        current_release=rel.release_of_link(g.get("current")),
        host_time=g.get("time") if rel.HOST_TIME_RE.match(g.get("time", "")) else None,
        running=running,
        target_ecosystem=ecosystem.parse_ecosystem(eco) if ECOSYSTEM in sections else None,
    )


def gather_facts(
    transport: Runner, t: Target, query: FactsQuery, timeout: float = 120.0
) -> HostFacts:
    """Run the facts script on a host (one round trip) and parse it."""
    result = transport.run(facts_script(t, query), timeout=timeout)
    return parse_facts(t.label, result.stdout, query)
