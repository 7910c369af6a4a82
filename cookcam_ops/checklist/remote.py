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
from cookcam_ops.envfile.schema import EnvSchema
from cookcam_ops.envfile.validate import validate_parsed
from cookcam_ops.history import lock_read_command, parse_lock_read
from cookcam_ops.layout import releases as rel
from cookcam_ops.pm2 import killsignal
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import Connector, Target, reach, run_on_hosts
from cookcam_ops.remote.protocol import Transport, q
from cookcam_ops.report import Check, Report, Status
from cookcam_ops.status import parse_health

CHECKLIST_TIMEOUT_S = 60.0
_SHA_RE = re.compile(r"^[0-9a-fA-F]{7,40}$")

# Loads the ecosystem file on the host; prints settings and the NAMES of env keys only.
ECOSYSTEM_JS = r"""
const fs=require('fs'),path=require('path');
const f=['ecosystem.config.js','ecosystem.config.cjs','ecosystem.json'].find(n=>fs.existsSync(n));
if(!f){console.log(JSON.stringify({error:'no ecosystem.config.js in the app path'}));
process.exit(0)}
let m;try{m=require(path.resolve(f))}catch(e){console.log(JSON.stringify(
{error:'node cannot load '+f+' ('+(e.code||e.name)+')'}));process.exit(0)}
const apps=(m&&(m.apps||(m.default&&m.default.apps)))||[];
const keys=o=>o&&typeof o==='object'?Object.keys(o):[];
console.log(JSON.stringify({file:f,apps:(Array.isArray(apps)?apps:[apps]).map(a=>({name:a.name,
exec_mode:a.exec_mode,instances:a.instances,kill_timeout:a.kill_timeout,wait_ready:a.wait_ready,
listen_timeout:a.listen_timeout,env_keys:Object.fromEntries(Object.keys(a)
.filter(k=>k==='env'||k.startsWith('env_')).map(k=>[k,keys(a[k])]))}))}))
""".strip()
ENGINES_JS = ("try{const p=require(require('path').resolve('package.json'));"
              "console.log(JSON.stringify({engines:p.engines||null}))}"
              "catch(e){console.log(JSON.stringify({engines:null}))}")


def _ref_command(t: Target, ref: str) -> str:
    path = q(t.repo_path)
    if _SHA_RE.match(ref):
        return f"git -C {path} rev-parse --verify --quiet {q(ref + '^{commit}')}"
    return f"git -C {path} ls-remote --exit-code {q(t.app.remote)} {q(ref)} >/dev/null"


def checklist_script(t: Target, ref: str) -> str:
    """The composite script for one host."""
    code = q(t.code_path)
    return composite.script([
        ("ecosystem", f"cd {code} && node -e {q(ECOSYSTEM_JS)}"),
        *t.layout.checklist_sections(t.app),
        ("ref", _ref_command(t, ref)),
        ("node", "node --version"),
        ("npm", "npm --version"),
        ("engines", f"cd {code} && node -e {q(ENGINES_JS)}"),
        ("disk", f"df -Pk {q(t.app_path)} | tail -n 1"),
        ("lock", lock_read_command(t.lock_dir)),
        ("health", composite.health(t.local_url)),
        ("kill-signal", killsignal.pm2_signal_command()),
        ("handlers", killsignal.handlers_command(t.code_path)),
    ])


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


def _text(sections: dict[str, composite.Section], name: str) -> str | None:
    sec = sections.get(name)
    return sec.text.strip() if sec is not None and sec.ok and sec.text.strip() else None


def judge_sections(sections: dict[str, composite.Section], t: Target,
                   opts: ChecklistOptions) -> list[Check]:
    """Every non-.env item from a host's composite output (pure)."""
    host = t.label
    apps, error = judge.parse_ecosystem(composite.json_section(sections, "ecosystem"))
    checks = judge.judge_ecosystem(apps, error, t.app.name, opts.schema.secret_names(), host)
    checks += t.layout.judge_checklist(sections, t.app, host)
    ref_ok = sections.get("ref")
    checks.append(Check("target-ref", Status.PASS, f"{opts.ref} exists on {t.app.remote}", host)
                  if ref_ok and ref_ok.ok else
                  Check("target-ref", Status.FAIL,
                        f"{opts.ref} not found on {t.app.remote} (nor as a local commit)", host))
    engines = composite.json_section(sections, "engines")
    checks += judge.judge_versions(_text(sections, "node"), _text(sections, "npm"),
                                   engines.get("engines") if isinstance(engines, dict) else None,
                                   host)
    checks.append(judge.judge_disk(_text(sections, "disk") or "", host))
    lock = parse_lock_read(sections["lock"].text if "lock" in sections else None)
    checks.append(Check("lock", Status.FAIL, f"held by {lock.describe()}", host) if lock
                  else Check("lock", Status.PASS, "free", host))
    health = parse_health(composite.json_section(sections, "health"))
    checks.append(Check("health", Status.PASS if health.healthy else Status.FAIL,
                        health.detail, host))
    pm2 = killsignal.parse_pm2_signal(_text(sections, "kill-signal") or "")
    handled = killsignal.parse_handlers(sections["handlers"].text if "handlers" in sections
                                        else killsignal.NO_BUILD)
    checks.append(judge.judge_kill_signal(pm2, handled, host))
    return checks


def _env_checks(transport: Transport, t: Target, opts: ChecklistOptions,
                full: bool) -> list[Check]:
    """The remote .env judged in memory: the checklist's items, or every variable (env check)."""
    from cookcam_ops.envfile.dotenv_parser import parse_bounded

    data = transport.read_file(t.env_path)
    if data is None:
        return [Check("env-file", Status.FAIL, f"no .env at {t.env_path}", t.label)]
    parsed = parse_bounded(data.decode("utf-8", errors="replace"), f"{t.label}:{t.env_path}")
    del data
    items = (validate_parsed(parsed, opts.schema, opts.environment) if full else
             env_items(parsed, opts.schema, opts.environment, opts.sentry_project_id))
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
        return Check("env-names", Status.PASS, f"{t.env_path} has the same variable names as "
                     "the current release", t.label)
    parts = ([f"added {', '.join(added)}"] if added else []) + \
        ([f"removed {', '.join(removed)}"] if removed else [])
    return Check("env-names", Status.WARN, f"since the current release: {'; '.join(parts)} "
                 "(names only)", t.label)


def _host_checklist(opts: ChecklistOptions) -> Callable[[Transport, Target], list[Check]]:
    def work(transport: Transport, t: Target) -> list[Check]:
        checks = [toolchain_check(t), *_env_checks(transport, t, opts, full=False)]
        if not t.toolchain.ok:  # every other item runs node, npm or pm2
            return checks
        result = transport.run(checklist_script(t, opts.ref), timeout=CHECKLIST_TIMEOUT_S)
        if result.timed_out:
            return [*checks, Check("checklist", Status.FAIL, "the checks timed out on the host",
                                   t.label)]
        return checks + judge_sections(composite.parse(result.stdout), t, opts)

    return work


def _collect(title: str, targets: list[Target], connector: Connector,
             work: Callable[[Transport, Target], list[Check]]) -> Report:
    """A report of work's checks on every host; an unreachable host is a failed check."""
    started = time.monotonic()
    outcomes = run_on_hosts(targets, connector, work)
    checks: list[Check] = []
    for outcome in outcomes:
        if outcome.value is None:
            checks.append(Check("reachable", Status.FAIL, outcome.error or "unreachable",
                                outcome.target.label))
        else:
            checks.extend(outcome.value)
    unreachable, answered = reach(outcomes)
    return Report(title=title, checks=checks, duration_s=time.monotonic() - started,
                  unreachable=unreachable, answered=answered)


def remote_checklist(targets: list[Target], connector: Connector,
                     opts: ChecklistOptions) -> Report:
    """The full checklist on every host, in parallel."""
    report = _collect(f"checklist {opts.environment}", targets, connector,
                      _host_checklist(opts))
    report.extra = {"environment": opts.environment, "scope": "server", "ref": opts.ref,
                    "hosts": [t.label for t in targets]}
    return report


def remote_env_check(targets: list[Target], connector: Connector,
                     opts: ChecklistOptions) -> Report:
    """`env check`: each host's .env judged against the schema, variable by variable."""
    report = _collect(f"env check {opts.environment}", targets, connector,
                      lambda tr, t: _env_checks(tr, t, opts, full=True))
    report.extra = {"environment": opts.environment, "schema": str(opts.schema.path),
                    "hosts": [t.label for t in targets]}
    return report
