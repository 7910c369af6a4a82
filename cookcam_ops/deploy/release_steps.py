"""strategy: releases — the steps that run on a host: cwd verification, handover and pruning.

After a reload every worker's /proc/PID/cwd must be inside the release `current` names; when PM2
kept an older directory (an app started from a resolved path), the app is moved with a
zero-downtime handover and checked again. Pruning lists the releases on the host and deletes the
ones prune_selection picks (pure), never the current release or the rollback target.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from cookcam_ops.deploy.handover import handover
from cookcam_ops.deploy.result import StepStatus
from cookcam_ops.layout import Releases
from cookcam_ops.layout import releases as rel
from cookcam_ops.remote import composite
from cookcam_ops.remote.protocol import q

if TYPE_CHECKING:
    from cookcam_ops.deploy.plan import HostPlan, PlannedStep
    from cookcam_ops.deploy.session import Runner

CWD_SETTLE_S = 0.5
CWD_LOOKS = 3


def cwd_script(link: str) -> str:
    """One round trip: the app's workers (with their resolved cwd) and where link points."""
    return composite.script([("pm2", composite.pm2_jlist()), ("current", f"readlink -f {q(link)}")])


def workers_of(doc: Any, app_name: str) -> list[tuple[object, str | None]]:
    """(pm_id, cwd) of the app's processes from the filtered jlist document."""
    procs = doc.get("processes") if isinstance(doc, dict) else None
    return [
        (p.get("pm_id"), p.get("cwd") if isinstance(p.get("cwd"), str) else None)
        for p in procs or []
        if isinstance(p, dict) and p.get("name") == app_name
    ]


def cwd_verdict(stdout: str, app_name: str) -> rel.CwdVerdict:
    """cwd_script's output judged: does every worker of the app run in the release its link
    resolves to (pure)."""
    sections = composite.parse(stdout)
    current = sections.get("current")
    real = current.text.strip() if current is not None and current.ok else None
    return rel.judge_cwds(workers_of(composite.json_section(sections, "pm2"), app_name), real)


def check_cwds(session: Runner, link: str, app_name: str) -> rel.CwdVerdict:
    """Whether every worker of the app runs in the release link (`current`) resolves to."""
    return cwd_verdict(session.run(cwd_script(link), timeout=30).stdout, app_name)


def ensure_in_release(
    session: Runner,
    hp: HostPlan,
    app_name: str,
    timeout: float,
    first: tuple[list[tuple[object, str | None]], str | None] | None = None,
) -> tuple[bool, str]:
    """After a verified reload: workers in the new release, else a handover, checked again.

    first: the workers and current's target as the reload's last look saw them (no round trip).
    """
    link = hp.target.layout.switched_link
    assert link is not None
    verdict = rel.judge_cwds(*first) if first else check_cwds(session, link, app_name)
    for _ in range(CWD_LOOKS - 1):
        if verdict.ok:
            break
        time.sleep(CWD_SETTLE_S)
        verdict = check_cwds(session, link, app_name)
    if verdict.ok:
        return True, verdict.detail
    stale = verdict.detail
    result = session.run(handover(app_name, link, timeout), timeout=timeout + 30)
    doc = composite.last_json(result.stdout)
    if doc is None or doc.get("ok") is not True:
        why = str((doc or {}).get("detail") or f"exit {result.exit_code}")[:300]
        return False, f"{stale}; the handover failed: {why}"
    verdict = check_cwds(session, link, app_name)
    if not verdict.ok:
        return False, f"{stale}; still after a handover: {verdict.detail}"
    return True, f"{stale} after pm2 reload; moved by a handover: {verdict.detail}"


def prune(session: Runner, hp: HostPlan, ps: PlannedStep) -> tuple[StepStatus, str]:
    """(status, detail): delete the releases prune_selection picks; a failure is a warning."""
    t, lay = hp.target, hp.target.layout
    if not isinstance(lay, Releases):
        return StepStatus.WARN, "prune applies to strategy: releases only; nothing deleted"
    listing = session.run(rel.listing_command(lay.releases_path, t.app.env_file), timeout=60)
    if not listing.ok:
        return StepStatus.WARN, f"could not list {lay.releases_path} (exit {listing.exit_code})"
    entries = rel.parse_listing(listing.stdout)
    doomed = rel.prune_selection(entries, t.keep_releases, (hp.release, hp.from_release))
    if not doomed:
        return StepStatus.OK, f"{len(entries)} release(s) kept (keep_releases: {t.keep_releases})"
    paths = [lay.release_path(name) for name in doomed]
    done = session.run(f"rm -rf {q(*paths)}", timeout=ps.timeout)
    if not done.ok:
        return StepStatus.WARN, (
            f"could not delete {len(doomed)} old release(s) (exit {done.exit_code})"
        )
    return StepStatus.OK, (
        f"deleted {len(doomed)} old release(s) ({', '.join(doomed)}); "
        f"{len(entries) - len(doomed)} kept"
    )
