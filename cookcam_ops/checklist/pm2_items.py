"""The checklist's PM2 items: the ecosystem files against what PM2 runs, and reboot survival.

- `ecosystem-runtime`: PM2 runs what the served file says (a drift is a warning: the next
  deploy applies the file), and the running workers' kill_timeout is above the drain deadline
  (else replacing them, this deploy's reload included, may SIGKILL them mid-drain).
- `ecosystem-changes`: what deploying the target changes in PM2, and how it is applied.
- `pm2-startup`, `pm2-saved`: a boot unit resurrects this PM2, and the saved list brings back
  what runs (see pm2/reboot.py).
Pure: the host's facts in, checks out.
"""

from __future__ import annotations

from cookcam_ops.pm2 import ecosystem
from cookcam_ops.pm2.apply import describe_changes, differences, plan_apply
from cookcam_ops.pm2.ecosystem import EcosystemRead
from cookcam_ops.pm2.procs import Pm2Process, of_app
from cookcam_ops.pm2.reboot import compare_saved, judge_startup, saved_check
from cookcam_ops.report import Check, Status


def judge_runtime(
    served: EcosystemRead, procs: list[Pm2Process] | str, app_name: str, drain_ms: int, host: str
) -> Check:
    """`ecosystem-runtime`: the served file against the processes PM2 runs."""
    if isinstance(procs, str):
        return Check("ecosystem-runtime", Status.FAIL, f"cannot see what PM2 runs: {procs}", host)
    runs = ecosystem.from_processes(of_app(procs, app_name))
    if runs is None:
        return Check(
            "ecosystem-runtime", Status.FAIL, f"PM2 runs no process named {app_name}", host
        )
    problems = []
    if runs.kill_timeout <= drain_ms:
        problems.append(
            f"PM2 runs the workers with kill_timeout {runs.kill_timeout} ms, not "
            f"above the {drain_ms} ms drain deadline: replacing them (a reload, "
            "this deploy's too) may SIGKILL them mid-drain"
        )
    want = ecosystem.wanted(served, app_name)
    drift = differences(runs, want) if want is not None else ()
    if drift:
        problems.append(
            f"PM2 does not run what the served ecosystem file says: "
            f"{describe_changes(drift)} (runs -> file; `pm2 reload` never applies "
            "these, the next deploy does)"
        )
    if problems:
        return Check("ecosystem-runtime", Status.WARN, "; ".join(problems), host)
    return Check(
        "ecosystem-runtime",
        Status.PASS,
        f"PM2 runs what the ecosystem file says: {runs.instances} {runs.exec_mode} "
        f"worker(s), kill_timeout {runs.kill_timeout} ms",
        host,
    )


def judge_changes(
    target: EcosystemRead, procs: list[Pm2Process] | str, app_name: str, host: str
) -> Check:
    """`ecosystem-changes`: what a deploy of the target changes in PM2, and how."""
    if target.error or isinstance(procs, str):
        return Check(
            "ecosystem-changes", Status.SKIP, "nothing to compare (see the ecosystem items)", host
        )
    plan = plan_apply(
        ecosystem.from_processes(of_app(procs, app_name)), ecosystem.wanted(target, app_name)
    )
    at = f" at {target.sha[:10]}" if target.sha else ""
    if plan.unknown:
        return Check("ecosystem-changes", Status.SKIP, plan.describe(), host)
    return Check("ecosystem-changes", Status.PASS, f"the target{at}: {plan.describe()}", host)


def reboot_checks(
    startup: str | None,
    saved: list[Pm2Process] | str,
    procs: list[Pm2Process] | str,
    app_name: str,
    host: str,
) -> list[Check]:
    """`pm2-startup` and `pm2-saved`."""
    checks = [judge_startup(startup, host)]
    if isinstance(procs, str):
        checks.append(Check("pm2-saved", Status.SKIP, f"cannot see what PM2 runs: {procs}", host))
    else:
        checks.append(saved_check(compare_saved(saved, procs, app_name), host))
    return checks
