"""Pure judgments of the checklist's server half: facts gathered on a host in, checks out.

Details name keys, files, versions and sizes, never a value from the .env or the ecosystem env.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cookcam_ops.checklist.semver_range import satisfies
from cookcam_ops.pm2 import killsignal
from cookcam_ops.pm2.procs import DEFAULT_KILL_TIMEOUT_MS
from cookcam_ops.report import Check, Status

# The app's own drain deadline the ecosystem's kill_timeout must exceed (the seed's shutdown
# gives up after 8 s; PM2 should never SIGKILL before that).
DRAIN_TIME_MS = 8000
DISK_WARN_BYTES = 1024**3
DISK_FAIL_BYTES = 200 * 1024**2
SECRET_NAME_RE = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|_KEY$|^KEY$|DSN$)", re.I)


@dataclass(frozen=True)
class EcosystemApp:
    """An app entry of the PM2 ecosystem file: settings and the NAMES of its env keys."""

    name: str | None
    exec_mode: str | None
    instances: int | str | None
    kill_timeout: int | None
    wait_ready: bool
    listen_timeout: int | None
    env_keys: dict[str, list[str]]  # "env", "env_production", ... -> key names


def parse_ecosystem(doc: object) -> tuple[list[EcosystemApp], str | None]:
    """The host-side reader's JSON -> (apps, error)."""
    if not isinstance(doc, dict):
        return [], "could not read the ecosystem file with node"
    if isinstance(doc.get("error"), str):
        return [], str(doc["error"])
    apps = []
    for raw in doc.get("apps") or []:
        if not isinstance(raw, dict):
            continue
        keys = raw.get("env_keys") if isinstance(raw.get("env_keys"), dict) else {}
        apps.append(EcosystemApp(
            name=raw.get("name") if isinstance(raw.get("name"), str) else None,
            exec_mode=raw.get("exec_mode") if isinstance(raw.get("exec_mode"), str) else None,
            instances=raw.get("instances") if isinstance(raw.get("instances"), int | str)
            else None,
            kill_timeout=_int(raw.get("kill_timeout")), wait_ready=raw.get("wait_ready") is True,
            listen_timeout=_int(raw.get("listen_timeout")),
            env_keys={str(k): [str(n) for n in v] for k, v in (keys or {}).items()
                      if isinstance(v, list)}))
    return apps, None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def judge_ecosystem(apps: list[EcosystemApp], error: str | None, app_name: str,
                    secret_names: set[str], host: str) -> list[Check]:
    """App name, cluster mode, kill_timeout, wait_ready, no inline secrets."""
    if error:
        return [Check("ecosystem", Status.FAIL, error, host)]
    app = next((a for a in apps if a.name == app_name), None)
    if app is None:
        names = ", ".join(a.name or "(unnamed)" for a in apps) or "none"
        return [Check("ecosystem-app", Status.FAIL,
                      f"no app named {app_name} in the ecosystem file (it has: {names})", host)]
    return [Check("ecosystem-app", Status.PASS, f"app {app_name} is defined", host),
            _cluster(app, host), _kill_timeout(app, host), _wait_ready(app, host),
            _inline_secrets(app, secret_names, host)]


def _cluster(app: EcosystemApp, host: str) -> Check:
    mode = (app.exec_mode or "fork").removesuffix("_mode")
    inst = app.instances
    many = inst in ("max", "-1", -1, 0, "0") or (isinstance(inst, int) and inst >= 2) or \
        (isinstance(inst, str) and inst.isdigit() and int(inst) >= 2)
    if mode == "cluster" and many:
        return Check("ecosystem-cluster", Status.PASS, f"cluster mode, {inst} instances", host)
    return Check("ecosystem-cluster", Status.WARN,
                 f"{mode} mode with {inst or 1} instance(s): `pm2 reload` restarts it, so every "
                 "deploy means downtime; use exec_mode 'cluster' with instances >= 2", host)


def _kill_timeout(app: EcosystemApp, host: str) -> Check:
    ms = app.kill_timeout
    if ms is None:
        return Check("ecosystem-kill-timeout", Status.WARN,
                     f"kill_timeout not set: PM2 sends SIGKILL after {DEFAULT_KILL_TIMEOUT_MS} ms, "
                     f"before the app's {DRAIN_TIME_MS} ms drain can finish; set kill_timeout "
                     f"above {DRAIN_TIME_MS}", host)
    if ms <= DRAIN_TIME_MS:
        return Check("ecosystem-kill-timeout", Status.WARN,
                     f"kill_timeout {ms} ms is not above the app's {DRAIN_TIME_MS} ms drain "
                     "deadline: PM2 may SIGKILL a worker mid-drain", host)
    return Check("ecosystem-kill-timeout", Status.PASS,
                 f"kill_timeout {ms} ms > drain deadline {DRAIN_TIME_MS} ms", host)


def _wait_ready(app: EcosystemApp, host: str) -> Check:
    if app.wait_ready:
        listen = app.listen_timeout or 3000
        return Check("ecosystem-wait-ready", Status.PASS,
                     f"wait_ready on (listen_timeout {listen} ms)", host)
    return Check("ecosystem-wait-ready", Status.WARN,
                 "wait_ready is off: PM2 counts a new worker online before it listens, so a "
                 "reload can stop the old one too early; set wait_ready: true and "
                 "process.send('ready') after listen()", host)


def _inline_secrets(app: EcosystemApp, secret_names: set[str], host: str) -> Check:
    schema_hits = sorted({f"{block}.{k}" for block, keys in app.env_keys.items() for k in keys
                          if k in secret_names})
    if schema_hits:
        return Check("ecosystem-no-inline-secrets", Status.FAIL,
                     f"secrets written in the ecosystem file: {', '.join(schema_hits)}; keep "
                     "them in the app's .env", host)
    looks = sorted({f"{block}.{k}" for block, keys in app.env_keys.items() for k in keys
                    if SECRET_NAME_RE.search(k)})
    if looks:
        return Check("ecosystem-no-inline-secrets", Status.WARN,
                     f"keys that look secret in the ecosystem file: {', '.join(looks)}", host)
    return Check("ecosystem-no-inline-secrets", Status.PASS, "no secret keys inline", host)


def judge_git(dirty: list[str], branch: str | None, contained: bool | None, expected: str,
              host: str) -> list[Check]:
    """A clean working tree on the expected branch (or a detached commit contained in it)."""
    if dirty:
        shown = ", ".join(line[3:] if len(line) > 3 else line for line in dirty[:5])
        more = f" and {len(dirty) - 5} more" if len(dirty) > 5 else ""
        clean = Check("git-clean", Status.FAIL,
                      f"{len(dirty)} changed or untracked path(s): {shown}{more}", host)
    else:
        clean = Check("git-clean", Status.PASS, "working tree clean", host)
    if branch == expected:
        on = Check("git-branch", Status.PASS, f"on {expected}", host)
    elif branch is None:
        on = (Check("git-branch", Status.PASS,
                    f"detached HEAD (a deployed commit) contained in {expected}", host)
              if contained else
              Check("git-branch", Status.WARN,
                    f"detached HEAD not known to be in {expected} (fetch to update)", host))
    else:
        on = Check("git-branch", Status.FAIL, f"on branch {branch}, expected {expected}", host)
    return [clean, on]


def judge_versions(node: str | None, npm: str | None, engines: object,
                   host: str) -> list[Check]:
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
            checks.append(Check(name, status,
                                f"{tool} {version} {verdict[ok]} engines.{tool} '{wanted}'", host))
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


def judge_kill_signal(pm2: killsignal.PM2Signal, handled: set[str] | None,
                      host: str) -> Check:
    """Does the app handle the signal PM2 will send? (issue 5, item 3)."""
    if handled is None:
        return Check("kill-signal", Status.WARN,
                     "no dist/ build to read the app's signal handlers from", host)
    problem = killsignal.mismatch(pm2, handled)
    if problem:
        return Check("kill-signal", Status.WARN, problem, host)
    return Check("kill-signal", Status.PASS,
                 f"PM2 sends {pm2.signal} ({pm2.source}); the app handles "
                 f"{', '.join(sorted(handled))}", host)
