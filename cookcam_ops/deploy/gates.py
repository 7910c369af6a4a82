"""What must hold before any host changes: facts checks, the checklist's server half, smoke.

Each gate returns checks (the JSON's "checks"); a FAIL among them stops the run before any host
is touched. The smoke gate itself runs later, per host, as the `smoke` step.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cookcam_ops.deploy.refs import short
from cookcam_ops.errors import OpsError
from cookcam_ops.report import Check, Status

if TYPE_CHECKING:
    from cookcam_ops.config import AppConfig, LoadedConfig
    from cookcam_ops.deploy.facts import HostFacts
    from cookcam_ops.deploy.plan import HostPlan
    from cookcam_ops.deploy.steps import SmokeGate
    from cookcam_ops.remote.fanout import Target
    from cookcam_ops.remote.protocol import Transport


def fact_checks(
    plans: list[HostPlan], facts: dict[str, HostFacts], app: AppConfig, *, own_lock: bool
) -> list[Check]:
    """Checks implied by the facts: each host ready, one target SHA, PM2 runs the app."""
    checks: list[Check] = []
    for p in plans:
        f = facts[p.label]
        checks.append(
            Check("ready", Status.FAIL, p.blocked, p.label)
            if p.blocked
            else Check(
                "ready",
                Status.PASS,
                f"serves {short(p.from_sha)}, target "
                f"{short(p.to_sha)}"
                + (", build needed" if p.needs_build and not p.nothing_to_do else ""),
                p.label,
            )
        )
        if f.branch and f.branch != app.branch:
            checks.append(
                Check(
                    "branch",
                    Status.WARN,
                    f"the checkout is on {f.branch}, not "
                    f"{app.branch}; the switch moves it to {app.branch}",
                    p.label,
                )
            )
        if not f.error and f.instances == 0 and p.target.toolchain.ok:
            checks.append(
                Check(
                    "pm2-app",
                    Status.FAIL,
                    f"PM2 runs no process named {app.name} "
                    f"({f.pm2_error or 'pm2 jlist'}); start it once with `pm2 "
                    "start ecosystem.config.js`",
                    p.label,
                )
            )
        if f.lock is not None and not own_lock:
            checks.append(Check("lock", Status.WARN, f"held by {f.lock.describe()}", p.label))
    shas = {p.to_sha for p in plans if p.to_sha and not p.blocked}
    if len(shas) > 1:
        checks.append(
            Check(
                "target",
                Status.FAIL,
                "hosts resolve the ref to different commits ("
                + ", ".join(sorted(short(s) for s in shas))
                + "); fetch on every "
                "host should agree: is one remote stale?",
            )
        )
    return checks


def checklist_gate(
    loaded: LoadedConfig,
    environment: str,
    hosts: list[tuple[Transport, Target]],
    target_sha: str,
    *,
    own_lock: bool,
    answered: dict[str, str] | None = None,
) -> list[Check]:
    """The checklist's server half, on the run's own sessions (judged from answered, the output
    of the sections a host ran in the run's first round trip, where given); with own_lock its
    lock item is this run's own lock."""
    from cookcam_ops.checklist.remote import ChecklistOptions, checklist_on
    from cookcam_ops.envfile.schema import load_schema

    env = loaded.environment(environment)
    opts = ChecklistOptions(
        environment=environment,
        ref=target_sha,
        schema=load_schema(loaded.schema_path()),
        sentry_project_id=env.sentry_project_id,
    )
    report = checklist_on(hosts, opts, answered)
    targets = [t for _, t in hosts]
    checks = [as_deploy_gate(c) for c in report.checks]
    if own_lock:
        checks = [c for c in checks if c.name != "lock"]
        checks += [Check("lock", Status.PASS, "held by this run", t.label) for t in targets]
    return [Check(f"checklist:{c.name}", c.status, c.detail, c.host, c.duration_s) for c in checks]


SERVED_FILE_ITEMS = frozenset(
    {"ecosystem", "ecosystem-app", "ecosystem-kill-timeout", "ecosystem-no-inline-secrets"}
)


def as_deploy_gate(check: Check) -> Check:
    """What the deploy itself replaces does not block it. A host that is unhealthy now: the
    deploy may be the hotfix, and the playbook checks health again after the switch (rolling
    back if it still fails). The served ecosystem file: the deploy applies the target commit's,
    which its own `target-ecosystem-*` items judge."""
    if check.status is not Status.FAIL:
        return check
    if check.name == "health":
        return Check(
            check.name,
            Status.WARN,
            f"{check.detail} (unhealthy before the deploy; "
            "health is checked again after the switch)",
            check.host,
            check.duration_s,
        )
    if check.name in SERVED_FILE_ITEMS:
        return Check(
            check.name,
            Status.WARN,
            f"{check.detail} (the served file: this deploy applies the target's)",
            check.host,
            check.duration_s,
        )
    return check


def smoke_preflight(loaded: LoadedConfig, environment: str, labels: list[str]) -> list[Check]:
    """The smoke step's targets and credentials resolve, and the credentials work (the sign-in
    or the token's expiry), before any host changes: a wrong password must not cost a switch
    and a rollback of a healthy release."""
    from cookcam_ops.smoke import plan_smoke
    from cookcam_ops.smoke.credentials import SignInUnavailable, verify_credentials

    try:
        plans = [
            plan_smoke(loaded, environment, environ=os.environ, host=label) for label in labels
        ]
    except OpsError as e:
        return [Check("smoke-config", Status.FAIL, str(e))]
    found = Check("smoke-config", Status.PASS, "smoke targets and credentials found")
    try:
        detail = verify_credentials(plans[0].creds, plans[0].options.timeout_s)
    except (OpsError, SignInUnavailable) as e:
        return [found, Check("smoke-credentials", Status.FAIL, str(e))]
    return [found, Check("smoke-credentials", Status.PASS, detail)]


def smoke_gate(loaded: LoadedConfig, environment: str) -> SmokeGate:
    """The `smoke` step: the smoke tests against one host, from this machine."""

    def gate(label: str, connections: int | None) -> tuple[bool, str]:
        from cookcam_ops.smoke import plan_smoke, run_smoke

        try:
            plan = plan_smoke(
                loaded, environment, environ=os.environ, host=label, connections=connections
            )
            report = run_smoke(plan.targets, plan.creds, plan.options)
        except OpsError as e:
            return False, str(e)
        failed = [c for c in report.checks if c.status is Status.FAIL]
        if failed:
            return False, "; ".join(f"{c.name}: {c.detail}" for c in failed[:2])[:300]
        return True, f"{len(report.checks)} smoke checks passed"

    return gate
