"""The checklist's server half: each host's .env, PM2 ecosystem, git, tools, disk, lock, health
and kill signal, judged from two round trips per host (one composite script, one SFTP read).

The remote .env is read into memory over SFTP, parsed as Node's dotenv parses it, judged, and
dropped: it is never written to local disk and no value of it reaches a check's detail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from cookcam_ops.checklist import judge
from cookcam_ops.checklist.local import env_items
from cookcam_ops.checklist.pm2_items import judge_changes, judge_runtime, reboot_checks
from cookcam_ops.envfile.schema import EnvSchema
from cookcam_ops.envfile.validate import validate_parsed
from cookcam_ops.layout import releases as rel
from cookcam_ops.layout.lock import lock_read_command, parse_lock_read
from cookcam_ops.pm2 import ecosystem, killsignal, reboot
from cookcam_ops.pm2.procs import Pm2Process, parse_jlist
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import (
    Connector,
    HostOutcome,
    Target,
    reach,
    run_on_hosts,
    run_on_open,
)
from cookcam_ops.remote.protocol import Transport, node_program, q
from cookcam_ops.report import Check, Report, Status
from cookcam_ops.status import parse_health

CHECKLIST_TIMEOUT_S = 60.0
_SHA_RE = re.compile(r"^[0-9a-fA-F]{7,40}$")


def _ref_command(t: Target, ref: str) -> str:
    path = q(t.repo_path)
    if _SHA_RE.match(ref):
        return f"git -C {path} rev-parse --verify --quiet {q(ref + '^{commit}')}"
    return f"git -C {path} ls-remote --exit-code {q(t.app.remote)} {q(ref)} >/dev/null"


def checklist_sections(t: Target, target: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every section of the composite script but `ref`; target: how the target commit is found
    on the host (the first candidate that resolves)."""
    code = q(t.code_path)
    return [
        ("ecosystem", ecosystem.served_command(t.code_path)),
        ("ecosystem-target", ecosystem.target_command(t, target)),
        ("pm2", composite.pm2_jlist()),
        ("pm2-saved", composite.pm2_saved()),
        ("pm2-startup", reboot.startup_command()),
        *t.layout.checklist_sections(t.app),
        ("node", "node --version"),
        ("npm", "npm --version"),
        ("engines", f"cd {code} && {node_program('package_engines.js')}"),
        ("disk", f"df -Pk {q(t.app_path)} | tail -n 1"),
        ("lock", lock_read_command(t.lock_dir)),
        ("health", composite.health(t.local_url)),
        ("kill-signal", killsignal.pm2_signal_command()),
        ("handlers", killsignal.handlers_command(t.code_path)),
    ]


def checklist_script(t: Target, ref: str, target: tuple[str, ...] = ()) -> str:
    """The composite script for one host; target: how the target commit is found on the host
    (the first candidate that resolves; default: ref itself)."""
    return composite.script(
        [*checklist_sections(t, target or (ref,)), ("ref", _ref_command(t, ref))]
    )


def gate_sections(sections: dict[str, composite.Section]) -> dict[str, composite.Section]:
    """A deploy's gate ran checklist_sections in its facts' round trip: there the facts'
    `target` section (the first candidate that resolved) answers for `ref`."""
    target = sections.get("target")
    return sections if target is None else {**sections, "ref": target}


def toolchain_check(t: Target) -> Check:
    """Where node, npm and pm2 come from on the host (what the host probe found)."""
    chain = t.toolchain
    if not chain.ok:
        return Check("toolchain", Status.FAIL, chain.explanation(), t.label)
    extra = "; prepended to PATH for every remote command" if chain.dirs else ""
    return Check("toolchain", Status.PASS, chain.where + extra, t.label)


@dataclass(frozen=True)
class ChecklistOptions:
    """What the server half checks against."""

    environment: str
    ref: str
    schema: EnvSchema
    sentry_project_id: str | None
    # How the host finds the target commit (whose ecosystem file is judged): the first of
    # these that resolves there, e.g. refs/remotes/origin/main; default: ref itself.
    target: tuple[str, ...] = ()


def _text(sections: dict[str, composite.Section], name: str) -> str | None:
    sec = sections.get(name)
    return sec.text.strip() if sec is not None and sec.ok and sec.text.strip() else None


def _processes(sections: dict[str, composite.Section], name: str) -> list[Pm2Process] | str:
    procs, error = parse_jlist(composite.json_section(sections, name))
    return error if error is not None else procs


def judge_pm2(
    sections: dict[str, composite.Section], t: Target, opts: ChecklistOptions
) -> list[Check]:
    """The ecosystem files (served and target), what PM2 runs, and reboot survival (pure)."""
    host, name, drain = t.label, t.app.name, t.app.drain_deadline_ms
    served = ecosystem.parse_ecosystem(composite.json_section(sections, "ecosystem"))
    target = ecosystem.parse_ecosystem(composite.json_section(sections, "ecosystem-target"))
    secrets = opts.schema.secret_names()
    procs = _processes(sections, "pm2")
    return [
        *judge.judge_ecosystem(served, name, secrets, host, drain_ms=drain),
        *judge.judge_ecosystem(target, name, secrets, host, drain_ms=drain, prefix="target-"),
        judge_runtime(served, procs, name, drain, host),
        judge_changes(target, procs, name, host),
        *reboot_checks(
            _text(sections, "pm2-startup"),
            reboot.read_saved(composite.json_section(sections, "pm2-saved")),
            procs,
            name,
            host,
        ),
    ]


def judge_sections(
    sections: dict[str, composite.Section], t: Target, opts: ChecklistOptions
) -> list[Check]:
    """Every non-.env item from a host's composite output (pure)."""
    host = t.label
    checks = judge_pm2(sections, t, opts)
    checks += t.layout.judge_checklist(sections, t.app, host)
    ref_ok = sections.get("ref")
    checks.append(
        Check("target-ref", Status.PASS, f"{opts.ref} exists on {t.app.remote}", host)
        if ref_ok and ref_ok.ok
        else Check(
            "target-ref",
            Status.FAIL,
            f"{opts.ref} not found on {t.app.remote} (nor as a local commit)",
            host,
        )
    )
    engines = composite.json_section(sections, "engines")
    checks += judge.judge_versions(
        _text(sections, "node"),
        _text(sections, "npm"),
        engines.get("engines") if isinstance(engines, dict) else None,
        host,
    )
    checks.append(judge.judge_disk(_text(sections, "disk") or "", host))
    lock = parse_lock_read(sections["lock"].text if "lock" in sections else None)
    checks.append(
        Check("lock", Status.FAIL, f"held by {lock.describe()}", host)
        if lock
        else Check("lock", Status.PASS, "free", host)
    )
    health = parse_health(composite.json_section(sections, "health"))
    checks.append(
        Check("health", Status.PASS if health.healthy else Status.FAIL, health.detail, host)
    )
    pm2 = killsignal.parse_pm2_signal(_text(sections, "kill-signal") or "")
    handled = killsignal.parse_handlers(
        sections["handlers"].text if "handlers" in sections else killsignal.NO_BUILD
    )
    checks.append(judge.judge_kill_signal(pm2, handled, host))
    return checks


def _env_checks(transport: Transport, t: Target, opts: ChecklistOptions, full: bool) -> list[Check]:
    """The remote .env judged in memory: the checklist's items, or every variable (env check)."""
    from cookcam_ops.envfile.dotenv_parser import parse_bounded

    data = transport.read_file(t.env_path)
    if data is None:
        return [Check("env-file", Status.FAIL, f"no .env at {t.env_path}", t.label)]
    parsed = parse_bounded(data.decode("utf-8", errors="replace"), f"{t.label}:{t.env_path}")
    del data
    items = (
        validate_parsed(parsed, opts.schema, opts.environment)
        if full
        else env_items(parsed, opts.schema, opts.environment, opts.sentry_project_id)
    )
    checks = [Check(c.name, c.status, c.detail, t.label, c.duration_s) for c in items]
    served = t.layout.served_env_path(t.app.env_file)
    if served != t.env_path and not full:
        checks.append(_env_names(transport, t, served, set(parsed.values)))
    return checks


def _env_names(transport: Transport, t: Target, path: str, incoming: set[str]) -> Check:
    """Variable NAMES added or removed in the .env a deploy installs (releases: shared/.env)
    since the .env the served code runs with (the current release's)."""
    from cookcam_ops.envfile.dotenv_parser import parse_bounded

    data = transport.read_file(path)
    if data is None:
        return Check("env-names", Status.WARN, f"no {path} to compare names with", t.label)
    names = set(parse_bounded(data.decode("utf-8", errors="replace"), f"{t.label}:{path}").values)
    del data
    added, removed = rel.env_names_diff(names, incoming)
    if not added and not removed:
        return Check(
            "env-names",
            Status.PASS,
            f"{t.env_path} has the same variable names as the current release",
            t.label,
        )
    parts = ([f"added {', '.join(added)}"] if added else []) + (
        [f"removed {', '.join(removed)}"] if removed else []
    )
    return Check(
        "env-names",
        Status.WARN,
        f"since the current release: {'; '.join(parts)} (names only)",
        t.label,
    )


def _host_checklist(
    opts: ChecklistOptions, answered: dict[str, str] | None = None
) -> Callable[[Transport, Target], list[Check]]:
    """The checklist on one host; answered: the output of checklist_sections a host already ran
    (a deploy's lock round trip), by host."""

    def work(transport: Transport, t: Target) -> list[Check]:
        checks = [toolchain_check(t), *_env_checks(transport, t, opts, full=False)]
        if not t.toolchain.ok:  # every other item runs node, npm or pm2
            return checks
        if answered is not None and t.label in answered:
            return checks + judge_sections(
                gate_sections(composite.parse(answered[t.label])), t, opts
            )
        result = transport.run(
            checklist_script(t, opts.ref, opts.target), timeout=CHECKLIST_TIMEOUT_S
        )
        if result.timed_out:
            return [
                *checks,
                Check("checklist", Status.FAIL, "the checks timed out on the host", t.label),
            ]
        return checks + judge_sections(composite.parse(result.stdout), t, opts)

    return work


def _collect(
    title: str,
    targets: list[Target],
    connector: Connector,
    work: Callable[[Transport, Target], list[Check]],
) -> Report:
    """A report of work's checks on every host; an unreachable host is a failed check."""
    started = time.monotonic()
    return _report(title, run_on_hosts(targets, connector, work), started)


def _report(title: str, outcomes: list[HostOutcome[list[Check]]], started: float) -> Report:
    checks: list[Check] = []
    for outcome in outcomes:
        if outcome.value is None:
            checks.append(
                Check(
                    "reachable", Status.FAIL, outcome.error or "unreachable", outcome.target.label
                )
            )
        else:
            checks.extend(outcome.value)
    unreachable, answered = reach(outcomes)
    return Report(
        title=title,
        checks=checks,
        duration_s=time.monotonic() - started,
        unreachable=unreachable,
        answered=answered,
    )


def remote_checklist(targets: list[Target], connector: Connector, opts: ChecklistOptions) -> Report:
    """The full checklist on every host, in parallel."""
    report = _collect(f"checklist {opts.environment}", targets, connector, _host_checklist(opts))
    return _server_report(report, opts, targets)


def checklist_on(
    hosts: list[tuple[Transport, Target]],
    opts: ChecklistOptions,
    answered: dict[str, str] | None = None,
) -> Report:
    """The full checklist on hosts a run is connected to (a deploy's gate: its sessions), judged
    from answered where a host already ran checklist_sections."""
    started = time.monotonic()
    report = _report(
        f"checklist {opts.environment}",
        run_on_open(hosts, _host_checklist(opts, answered)),
        started,
    )
    return _server_report(report, opts, [t for _, t in hosts])


def _server_report(report: Report, opts: ChecklistOptions, targets: list[Target]) -> Report:
    report.extra = {
        "environment": opts.environment,
        "scope": "server",
        "ref": opts.ref,
        "hosts": [t.label for t in targets],
    }
    return report


def remote_env_check(targets: list[Target], connector: Connector, opts: ChecklistOptions) -> Report:
    """`env check`: each host's .env judged against the schema, variable by variable."""
    report = _collect(
        f"env check {opts.environment}",
        targets,
        connector,
        lambda tr, t: _env_checks(tr, t, opts, full=True),
    )
    report.extra = {
        "environment": opts.environment,
        "schema": str(opts.schema.path),
        "hosts": [t.label for t in targets],
    }
    return report
