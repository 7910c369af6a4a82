"""Pure judgments of the checklist's server half: facts gathered on a host in, checks out.

Details name keys, files, versions and sizes, never a value from the .env or the ecosystem env.
"""

from __future__ import annotations

import re

from cookcam_ops.checklist.semver_range import satisfies
from cookcam_ops.pm2 import killsignal
from cookcam_ops.pm2.ecosystem import EcosystemApp, EcosystemRead
from cookcam_ops.pm2.procs import DEFAULT_KILL_TIMEOUT_MS
from cookcam_ops.report import Check, Status

DISK_WARN_BYTES = 1024**3
DISK_FAIL_BYTES = 200 * 1024**2
SECRET_NAME_RE = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|_KEY$|^KEY$|DSN$)", re.I)


def judge_ecosystem(
    read: EcosystemRead,
    app_name: str,
    secret_names: set[str],
    host: str,
    *,
    drain_ms: int,
    prefix: str = "",
) -> list[Check]:
    """App name, cluster mode, kill_timeout above the drain, wait_ready, no inline secrets.

    prefix names the file judged: "" for the served one, "target-" for the target commit's.
    """
    where = f" at {read.sha[:10]}" if read.sha else ""
    if read.error:
        return [Check(f"{prefix}ecosystem", Status.FAIL, f"{read.error}{where}", host)]
    app = read.app(app_name)
    if app is None:
        names = ", ".join(a.name or "(unnamed)" for a in read.apps) or "none"
        return [
            Check(
                f"{prefix}ecosystem-app",
                Status.FAIL,
                f"no app named {app_name} in the ecosystem file{where} (it has: {names})",
                host,
            )
        ]
    checks = [
        Check(
            "ecosystem-app",
            Status.PASS,
            f"app {app_name} is defined in {read.file or 'the ecosystem file'}{where}",
            host,
        ),
        _cluster(app, host),
        _kill_timeout(app, host, drain_ms),
        _wait_ready(app, host),
        _inline_secrets(app, secret_names, host),
    ]
    return [Check(prefix + c.name, c.status, c.detail, c.host) for c in checks]


def _cluster(app: EcosystemApp, host: str) -> Check:
    mode = (app.exec_mode or "fork").removesuffix("_mode")
    inst = app.instances
    many = (
        inst in ("max", "-1", -1, 0, "0")
        or (isinstance(inst, int) and inst >= 2)
        or (isinstance(inst, str) and inst.isdigit() and int(inst) >= 2)
    )
    if mode == "cluster" and many:
        return Check("ecosystem-cluster", Status.PASS, f"cluster mode, {inst} instances", host)
    return Check(
        "ecosystem-cluster",
        Status.WARN,
        f"{mode} mode with {inst or 1} instance(s): `pm2 reload` restarts it, so every "
        "deploy means downtime; use exec_mode 'cluster' with instances >= 2",
        host,
    )


def _kill_timeout(app: EcosystemApp, host: str, drain_ms: int) -> Check:
    ms = app.kill_timeout
    if ms is None:
        return Check(
            "ecosystem-kill-timeout",
            Status.FAIL,
            f"kill_timeout not set: PM2 sends SIGKILL after {DEFAULT_KILL_TIMEOUT_MS} ms, "
            f"before the app's {drain_ms} ms drain deadline; set kill_timeout above "
            f"{drain_ms} (app.drain_deadline_ms in ops.yaml)",
            host,
        )
    if ms <= drain_ms:
        return Check(
            "ecosystem-kill-timeout",
            Status.FAIL,
            f"kill_timeout {ms} ms is not above the app's {drain_ms} ms drain "
            "deadline: PM2 would SIGKILL a worker mid-drain (failed requests on every "
            f"reload); set kill_timeout above {drain_ms}",
            host,
        )
    return Check(
        "ecosystem-kill-timeout",
        Status.PASS,
        f"kill_timeout {ms} ms > drain deadline {drain_ms} ms",
        host,
    )


def _wait_ready(app: EcosystemApp, host: str) -> Check:
    if app.wait_ready:
        listen = app.listen_timeout or 3000
        return Check(
            "ecosystem-wait-ready", Status.PASS, f"wait_ready on (listen_timeout {listen} ms)", host
        )
    return Check(
        "ecosystem-wait-ready",
        Status.WARN,
        "wait_ready is off: PM2 counts a new worker online before it listens, so a "
        "reload can stop the old one too early; set wait_ready: true and "
        "process.send('ready') after listen()",
        host,
    )


def _inline_secrets(app: EcosystemApp, secret_names: set[str], host: str) -> Check:
    schema_hits = sorted(
        {f"{block}.{k}" for block, keys in app.env_keys.items() for k in keys if k in secret_names}
    )
    if schema_hits:
        return Check(
            "ecosystem-no-inline-secrets",
            Status.FAIL,
            f"secrets written in the ecosystem file: {', '.join(schema_hits)}; keep "
            "them in the app's .env",
            host,
        )
    looks = sorted(
        {
            f"{block}.{k}"
            for block, keys in app.env_keys.items()
            for k in keys
            if SECRET_NAME_RE.search(k)
        }
    )
    if looks:
        return Check(
            "ecosystem-no-inline-secrets",
            Status.WARN,
            f"keys that look secret in the ecosystem file: {', '.join(looks)}",
            host,
        )
    return Check("ecosystem-no-inline-secrets", Status.PASS, "no secret keys inline", host)


def judge_versions(node: str | None, npm: str | None, engines: object, host: str) -> list[Check]:
    """node and npm against package.json engines (when it has any)."""
    if not isinstance(engines, dict):
        engines = {}
    checks = []
    for tool, version in (("node", node), ("npm", npm)):
        wanted = engines.get(tool)
        name = f"{tool}-version"
        if version is None:
            checks.append(Check(name, Status.FAIL, f"{tool} not found on the host", host))
        elif not isinstance(wanted, str):
            checks.append(Check(name, Status.PASS, f"{tool} {version} (no engines.{tool})", host))
        else:
            ok = satisfies(version, wanted)
            status = Status.PASS if ok else (Status.WARN if ok is None else Status.FAIL)
            verdict = {True: "satisfies", False: "does not satisfy", None: "cannot be judged by"}
            checks.append(
                Check(
                    name, status, f"{tool} {version} {verdict[ok]} engines.{tool} '{wanted}'", host
                )
            )
    return checks


def judge_disk(df_line: str, host: str) -> Check:
    """Free space on the app's filesystem from `df -Pk`'s last line."""
    fields = df_line.split()
    if len(fields) < 4 or not fields[3].isdigit():
        return Check("disk-free", Status.WARN, "could not read free disk space", host)
    free = int(fields[3]) * 1024
    shown = f"{free / 1024**3:.1f} GiB free" if free >= 1024**3 else f"{free // 1024**2} MiB free"
    if free < DISK_FAIL_BYTES:
        return Check("disk-free", Status.FAIL, f"{shown} on the app's filesystem", host)
    if free < DISK_WARN_BYTES:
        return Check("disk-free", Status.WARN, f"{shown} on the app's filesystem", host)
    return Check("disk-free", Status.PASS, shown, host)


def judge_kill_signal(pm2: killsignal.PM2Signal, handled: set[str] | None, host: str) -> Check:
    """Does the app handle the signal PM2 will send? (issue 5, item 3)."""
    if handled is None:
        return Check(
            "kill-signal",
            Status.WARN,
            "no dist/ build to read the app's signal handlers from",
            host,
        )
    problem = killsignal.mismatch(pm2, handled)
    if problem:
        return Check("kill-signal", Status.WARN, problem, host)
    return Check(
        "kill-signal",
        Status.PASS,
        f"PM2 sends {pm2.signal} ({pm2.source}); the app handles {', '.join(sorted(handled))}",
        host,
    )
