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
from cookcam_ops.deploy import releases as rel
from cookcam_ops.envfile.schema import EnvSchema
from cookcam_ops.envfile.validate import validate_parsed
from cookcam_ops.history import lock_read_command, parse_lock_read
from cookcam_ops.pm2 import killsignal
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import Connector, Target, run_on_hosts
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


def _git_sections(t: Target) -> list[tuple[str, str]]:
    """in-place: the checkout's state; releases: the current release and the releases kept."""
    path = q(t.app_path)
    if t.releases:
        return [("current", f"readlink {q(t.current_path)}"),
                ("releases", rel.listing_command(t.releases_path, t.app.env_file))]
    upstream = q(f"{t.app.remote}/{t.app.branch}")
    return [("git-dirty", f"git -C {path} rev-parse --git-dir >/dev/null && "
                          f"git -C {path} status --porcelain | head -n 50"),
            ("git-branch", f"git -C {path} symbolic-ref --short -q HEAD"),
            ("git-contained", f"git -C {path} merge-base --is-ancestor HEAD {upstream}")]


def checklist_script(t: Target, ref: str) -> str:
    """The composite script for one host."""
    code = q(t.code_path)
    return composite.script([
        ("ecosystem", f"cd {code} && node -e {q(ECOSYSTEM_JS)}"),
        *_git_sections(t),
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


def judge_releases(sections: dict[str, composite.Section], t: Target) -> list[Check]:
    """releases: the current release (what a failed deploy goes back to) is complete."""
    cur = sections.get("current")
    name = rel.release_of_link(cur.text.strip() if cur is not None and cur.ok else None)
    entries = rel.parse_listing(sections["releases"].text if "releases" in sections else "")
    kept = {e.name: e for e in entries}
    host = t.label
    if name is None:
        return [Check("rollback-target", Status.FAIL, f"{t.current_path} does not point to a "
                      "release (run `cookcam-ops migrate-to-releases` first?)", host)]
    entry = kept.get(name)
    if entry is None or not entry.complete:
        missing = ", ".join(entry.missing) if entry else "the directory"
        return [Check("rollback-target", Status.FAIL, f"current release {name} is incomplete "
                      f"(no {missing}): a failed deploy could not go back to it", host)]
    older = [e for e in entries if e.name < name]
    prev = f"; before it: {older[-1].name}" + ("" if older[-1].complete else " (INCOMPLETE)") \
        if older else "; no earlier release kept"
    return [Check("rollback-target", Status.PASS, f"current release {name} is complete (dist, "
                  f"node_modules, {t.app.env_file}, REVISION){prev}", host)]


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
    dirty_sec = sections.get("git-dirty")
    if t.releases:
        checks += judge_releases(sections, t)
    elif dirty_sec is None or not dirty_sec.ok:
        checks.append(Check("git-clean", Status.FAIL, "not a git checkout (git status failed)",
                            host))
    else:
        contained = sections.get("git-contained")
        checks += judge.judge_git([ln for ln in dirty_sec.text.splitlines() if ln.strip()],
                                  _text(sections, "git-branch"),
                                  contained.ok if contained else None, t.app.branch, host)
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
    if t.releases and not full:
        checks.append(_env_names(transport, t, set(parsed.values)))
    return checks


def _env_names(transport: Transport, t: Target, incoming: set[str]) -> Check:
    """releases: variable NAMES added or removed in shared/.env since the current release."""
    from cookcam_ops.envfile.dotenv_parser import parse_bounded

    path = f"{t.current_path}/{t.app.env_file}"
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
        result = transport.run(checklist_script(t, opts.ref), timeout=CHECKLIST_TIMEOUT_S)
        if result.timed_out:
            return [Check("checklist", Status.FAIL, "the checks timed out on the host", t.label)]
        checks = _env_checks(transport, t, opts, full=False)
        return checks + judge_sections(composite.parse(result.stdout), t, opts)

    return work


def _collect(targets: list[Target], connector: Connector,
             work: Callable[[Transport, Target], list[Check]]) -> list[Check]:
    checks: list[Check] = []
    for outcome in run_on_hosts(targets, connector, work):
        if outcome.value is None:
            checks.append(Check("reachable", Status.FAIL, outcome.error or "unreachable",
                                outcome.target.label))
        else:
            checks.extend(outcome.value)
    return checks


def remote_checklist(targets: list[Target], connector: Connector,
                     opts: ChecklistOptions) -> Report:
    """The full checklist on every host, in parallel."""
    started = time.monotonic()
    checks = _collect(targets, connector, _host_checklist(opts))
    return Report(title=f"checklist {opts.environment}", checks=checks,
                  duration_s=time.monotonic() - started,
                  extra={"environment": opts.environment, "scope": "server", "ref": opts.ref,
                         "hosts": [t.label for t in targets]})


def remote_env_check(targets: list[Target], connector: Connector,
                     opts: ChecklistOptions) -> Report:
    """`env check`: each host's .env judged against the schema, variable by variable."""
    started = time.monotonic()
    checks = _collect(targets, connector,
                      lambda tr, t: _env_checks(tr, t, opts, full=True))
    return Report(title=f"env check {opts.environment}", checks=checks,
                  duration_s=time.monotonic() - started,
                  extra={"environment": opts.environment, "schema": str(opts.schema.path),
                         "hosts": [t.label for t in targets]})
