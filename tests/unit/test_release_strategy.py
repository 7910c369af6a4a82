"""strategy: releases, the pure half: names, listings, prune selection, env names, cwds, plans."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cookcam_ops.config import Strategy
from cookcam_ops.deploy.facts import FactsQuery, HostFacts, facts_script, parse_facts
from cookcam_ops.deploy.migrate import HostLayout, parse_layout
from cookcam_ops.deploy.plan import PlanInput, plan_host
from cookcam_ops.deploy.playbook import load_playbook
from cookcam_ops.layout import layout_for
from cookcam_ops.layout.releases import (
    ReleaseEntry,
    env_names_diff,
    judge_cwds,
    parse_listing,
    prune_selection,
    release_name,
    release_of_link,
)
from cookcam_ops.pm2.procs import parse_jlist
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import Target
from cookcam_ops.report import Status
from cookcam_ops.resources import default_playbook
from cookcam_ops.status import judge_host, parse_status
from tests.unit.deploy_fakes import APP, NEW, OLD, FakeTransport, facts, make_target
from tests.unit.test_status_service import sections

R_DEPLOY = load_playbook(default_playbook("deploy-releases.yaml"))
R_ROLLBACK = load_playbook(default_playbook("rollback-releases.yaml"))
T_OLD, T_NEW = "20261101120000", "20261102120000"


def rtarget(label: str = "web1", keep: int = 5) -> Target:
    t = make_target(label)
    return replace(t, layout=layout_for(Strategy.RELEASES, t.app_path), keep_releases=keep)


def entry(when: str, sha: str, *missing: str) -> ReleaseEntry:
    return ReleaseEntry(release_name(when, sha), sha, tuple(missing))


def test_release_names_sort_by_time_and_carry_the_short_sha() -> None:
    assert release_name(T_OLD, OLD) == f"{T_OLD}-{OLD[:10]}"
    assert release_name(T_OLD, NEW) < release_name(T_NEW, OLD)
    with pytest.raises(ValueError):
        release_name("2026-11-01", OLD)
    with pytest.raises(ValueError):
        release_name(T_OLD, "main")


def test_listing_is_parsed_oldest_first_and_junk_is_ignored() -> None:
    text = (
        f"{T_NEW}-{NEW[:10]}|{NEW}|\n"
        f"{T_OLD}-{OLD[:10]}|{OLD}| node_modules .env\n"
        "lost+found||\n"
        f"{T_OLD}-aaaaaaaaaa||REVISION\n"
    )
    got = parse_listing(text)
    assert [e.name for e in got] == [
        f"{T_OLD}-{OLD[:10]}",
        f"{T_OLD}-aaaaaaaaaa",
        f"{T_NEW}-{NEW[:10]}",
    ]
    assert got[0].missing == ("node_modules", ".env") and not got[0].complete
    assert got[1].sha is None and not got[1].complete
    assert got[2].complete


def test_prune_keeps_the_newest_and_never_current_or_the_rollback_target() -> None:
    times = [f"2026110{d}120000" for d in range(1, 8)]
    entries = [entry(t, NEW if i % 2 else OLD) for i, t in enumerate(times)]
    names = [e.name for e in entries]
    assert prune_selection(entries, 3, ()) == names[:4]
    # the rollback target is the oldest: kept besides the newest three
    assert prune_selection(entries, 3, (names[-1], names[0])) == names[1:4]
    assert prune_selection(entries, 10, (names[-1],)) == []


def test_prune_deletes_incomplete_releases_unless_protected() -> None:
    good = [entry(T_OLD, OLD), entry(T_NEW, NEW)]
    broken = ReleaseEntry(f"20261103120000-{NEW[:10]}", NEW, ("dist",))
    assert prune_selection([*good, broken], 2, ()) == [broken.name]
    assert prune_selection([*good, broken], 2, (broken.name,)) == []


def test_env_names_diff_is_names_only() -> None:
    assert env_names_diff(["A", "B", "C"], ["B", "C", "D", "E"]) == (["D", "E"], ["A"])
    assert env_names_diff([], []) == ([], [])


def test_release_of_link() -> None:
    name = release_name(T_OLD, OLD)
    assert release_of_link(f"releases/{name}") == name
    assert release_of_link(f"/srv/api/releases/{name}/") == name
    assert release_of_link("/srv/api") is None and release_of_link(None) is None


def test_cwd_verdict_names_workers_outside_the_current_release() -> None:
    old, new = release_name(T_OLD, OLD), release_name(T_NEW, NEW)
    cur = f"/srv/api/releases/{new}"
    assert judge_cwds([(0, cur), (1, cur + "/sub")], cur).ok
    v = judge_cwds([(0, cur), (1, f"/srv/api/releases/{old}"), (2, None)], cur)
    assert not v.ok and v.stale == (f"1:{old}", "2:unknown")
    assert not judge_cwds([(0, cur)], None).ok
    assert not judge_cwds([], cur).ok


def _rfacts(**kw: Any) -> HostFacts:
    base: dict[str, Any] = {
        "releases": (entry(T_OLD, OLD),),
        "host_time": T_NEW,
        "current_release": release_name(T_OLD, OLD),
        "branch": None,
    }
    base.update(kw)
    return facts("web1", **base)


def test_a_new_release_is_built_under_its_own_name() -> None:
    p = plan_host(PlanInput(R_DEPLOY, APP, rtarget(), "deploy", None, None), _rfacts())
    steps = {s.name: s for s in p.steps}
    name = release_name(T_NEW, NEW)
    assert p.needs_build and p.release == name
    assert p.from_release == release_name(T_OLD, OLD)
    assert p.scratch == f"/srv/web1/api/releases/{name}"
    assert (
        f"git --git-dir=/srv/web1/api/repo archive --format=tar {NEW}" in steps["prepare"].command
    )
    assert (
        steps["npm-ci"].command == f"cd /srv/web1/api/releases/{name} && npm ci --no-audit "
        "--no-fund"
    )
    assert f"ln -sfn releases/{name} /srv/web1/api/current.next" in steps["switch"].command
    assert "mv -T /srv/web1/api/current.next /srv/web1/api/current" in steps["switch"].command
    assert steps["test-build"].command.startswith(f"cd /srv/web1/api/releases/{name} && node")
    assert steps["prune"].kind == "prune" and steps["prune"].skip is None


def test_a_kept_release_is_switched_to_without_a_build() -> None:
    kept = entry("20261030120000", NEW)
    p = plan_host(
        PlanInput(R_ROLLBACK, APP, rtarget(), "rollback", NEW, None),
        _rfacts(releases=(kept, entry(T_OLD, OLD))),
    )
    steps = {s.name: s for s in p.steps}
    assert not p.needs_build and p.release == kept.name and p.scratch is None
    assert all(steps[n].skip for n in ("prepare", "npm-ci", "build", "test-build"))
    assert steps["switch"].skip is None and kept.name in steps["switch"].command


def test_an_incomplete_kept_release_is_rebuilt_under_a_new_name() -> None:
    broken = entry("20261030120000", NEW, "node_modules")
    p = plan_host(
        PlanInput(R_ROLLBACK, APP, rtarget(), "rollback", NEW, None),
        _rfacts(releases=(broken, entry(T_OLD, OLD))),
    )
    assert p.needs_build and p.release == release_name(T_NEW, NEW)


def test_releases_facts_read_current_and_refuse_an_in_place_host() -> None:
    t = rtarget()
    script = facts_script(t, FactsQuery("origin", "cookcam-api", True, ("refs/remotes/o/m",)))
    assert "cd /srv/web1/api/repo" in script and "REVISION" in script
    name = release_name(T_OLD, OLD)
    out = "\n".join(
        [
            "@@cookcam-ops begin git@@",
            "layout=releases",
            f"head={OLD}",
            f"current=releases/{name}",
            f"time={T_NEW}",
            "dirty=0",
            "node_modules=1",
            "@@cookcam-ops end git 0@@",
            "@@cookcam-ops begin releases@@",
            f"{name}|{OLD}|",
            "@@cookcam-ops end releases 0@@",
        ]
    )
    f = parse_facts("web1", out, FactsQuery("origin", "cookcam-api", False))
    assert f.head == OLD and f.current_release == name and f.host_time == T_NEW
    assert [e.name for e in f.releases] == [name]
    in_place = "@@cookcam-ops begin git@@\nlayout=in-place\n@@cookcam-ops end git 4@@"
    err = parse_facts("web1", in_place, FactsQuery("origin", "cookcam-api", False)).error
    assert err is not None and "migrate-to-releases" in err


def test_migrate_reads_the_layout_and_refuses_what_it_cannot_move() -> None:
    text = (
        "@@cookcam-ops begin layout@@\nlayout=in-place\nsha=" + OLD + "\ndirty=0\n"
        "missing=\ntime=" + T_NEW + "\n@@cookcam-ops end layout 0@@"
    )
    lay = parse_layout(text)
    assert lay == HostLayout("in-place", OLD, 0, (), T_NEW, False) and lay.blocked() is None
    assert "modified" in (HostLayout("in-place", OLD, 2, (), T_NEW).blocked() or "")
    assert "dist" in (HostLayout("in-place", OLD, 0, ("dist",), T_NEW).blocked() or "")
    assert (
        parse_layout(
            "@@cookcam-ops begin layout@@\nlayout=releases\n@@cookcam-ops end layout 0@@"
        ).layout
        == "releases"
    )


def _jlist(cwd: str) -> str:
    procs = [
        {
            "name": "cookcam-api",
            "pm_id": i,
            "pid": 100 + i,
            "status": "online",
            "exec_mode": "cluster_mode",
            "cwd": cwd,
            "pm_cwd": "/srv/api/current",
        }
        for i in range(2)
    ]
    doc = json.dumps({"now": 1, "processes": procs})
    return f"@@cookcam-ops begin pm2@@\n{doc}\n@@cookcam-ops end pm2 0@@"


@pytest.mark.parametrize(("cwd_release", "ok"), [(T_NEW, True), (T_OLD, False)])
def test_status_reports_each_workers_release_and_flags_a_stale_one(
    cwd_release: str, ok: bool
) -> None:
    cur = f"/srv/api/releases/{release_name(T_NEW, NEW)}"
    cwd = f"/srv/api/releases/{release_name(cwd_release, NEW)}"
    out = "\n".join(
        [
            f"@@cookcam-ops begin sha@@\n{NEW}\n@@cookcam-ops end sha 0@@",
            f"@@cookcam-ops begin current@@\n{cur}\n@@cookcam-ops end current 0@@",
            _jlist(cwd),
        ]
    )
    status = parse_status("web1", out)
    assert status.release == release_name(T_NEW, NEW)
    assert [p.release for p in status.processes] == [release_name(cwd_release, NEW)] * 2
    doc = status.to_dict()
    assert doc["processes"][0]["cwd"] == cwd and doc["processes"][0]["release"]
    check = next(c for c in judge_host(status, "cookcam-api") if c.name == "release")
    assert (check.status is Status.PASS) == ok


def test_jlist_cwd_is_parsed() -> None:
    procs, err = parse_jlist({"now": 1, "processes": [{"name": "a", "cwd": "/x"}]})
    assert err is None and procs[0].cwd == "/x"


def test_checklist_rollback_target_must_be_complete() -> None:
    t = rtarget()
    name = release_name(T_NEW, NEW)

    def sections(listing: str) -> dict[str, composite.Section]:
        return {
            "current": composite.Section("current", f"releases/{name}", 0),
            "releases": composite.Section("releases", listing, 0),
        }

    def judge(given: dict[str, composite.Section]) -> list[Any]:
        return t.layout.judge_checklist(given, APP, t.label)

    good = judge(sections(f"{release_name(T_OLD, OLD)}|{OLD}|\n{name}|{NEW}|"))
    assert good[0].status is Status.PASS and release_name(T_OLD, OLD) in good[0].detail
    bad = judge(sections(f"{name}|{NEW}| node_modules"))
    assert bad[0].status is Status.FAIL and "node_modules" in bad[0].detail
    none = judge({"current": composite.Section("current", "", 1)})
    assert none[0].status is Status.FAIL


def test_migration_scripts_quote_every_path_and_keep_the_checkout() -> None:
    from cookcam_ops.deploy.migrate import MigratePaths, restore_script, stage_script, swap_script

    t = replace(rtarget(), layout=layout_for(Strategy.IN_PLACE, "/srv/my app"))
    lay = HostLayout("in-place", OLD, 0, (), T_NEW)
    p = MigratePaths.of(t, lay)
    assert p.stage == "/srv/my app.migrating" and p.backup == f"/srv/my app.ops/inplace-{T_NEW}"
    stage = stage_script(t, p, OLD)
    assert "git -C '/srv/my app' archive --format=tar " + OLD in stage
    assert f"ln -s releases/{release_name(T_NEW, OLD)} '/srv/my app.migrating'/current" in stage
    assert "chmod 600" in stage and "core.bare true" in stage
    swap = swap_script(p)
    assert swap.index("mv -T '/srv/my app' ") < swap.index("mv -T '/srv/my app.migrating' ")
    assert "'/srv/my app.ops/inplace-" in restore_script(p)


def test_a_releases_rollback_switches_every_host_at_once() -> None:
    from cookcam_ops.config import EnvironmentConfig
    from cookcam_ops.deploy.rollback import rollback_batch

    env = EnvironmentConfig.model_validate({"hosts": ["a@h1", "a@h2", "a@h3"]})
    plans = [
        plan_host(PlanInput(R_ROLLBACK, APP, rtarget(n), "rollback", NEW, None), _rfacts())
        for n in ("h1", "h2", "h3")
    ]
    assert rollback_batch(env, plans) == 1
    assert rollback_batch(env.model_copy(update={"strategy": "releases"}), plans) == 3


def test_a_rollback_out_of_fork_mode_goes_host_by_host() -> None:
    """Stop-then-start on every host at once would leave the whole fleet refusing."""
    from dataclasses import replace

    from cookcam_ops.config import EnvironmentConfig
    from cookcam_ops.deploy.rollback import rollback_batch
    from cookcam_ops.pm2.apply import Apply, ApplyPlan

    env = EnvironmentConfig.model_validate({"hosts": ["a@h1", "a@h2"], "strategy": "releases"})
    plans = [
        plan_host(PlanInput(R_ROLLBACK, APP, rtarget(n), "rollback", NEW, None), _rfacts())
        for n in ("h1", "h2")
    ]
    assert rollback_batch(env, plans) == 2
    plans[1] = replace(plans[1], pm2=ApplyPlan(Apply.RESTART))
    assert rollback_batch(env, plans) == 1


class _Host(FakeTransport):
    """A host in place at OLD as migrate-to-releases sees it: every command succeeds, the
    handovers answer as listed (in order), PM2's workers run where the last handover put them."""

    def __init__(self, handovers: list[bool], label: str = "web1") -> None:
        super().__init__(label, [])
        self.handovers = handovers
        self.sent: list[str] = []
        self.app = f"/srv/{label}/api"
        self.cwd = self.app

    def answer(self, command: str) -> str:
        if "migrate_layout.sh" in command:
            said = f"layout=in-place\nsha={OLD}\ndirty=0\nmissing=\ntime={T_NEW}\n"
            return f"@@cookcam-ops begin layout@@\n{said}@@cookcam-ops end layout 0@@"
        if "lock_acquire.sh" in command:
            return "@@acquired\n"
        if "pm2.launchBus" in command:
            ok = self.handovers.pop(0)
            self.cwd = f"{self.app}/releases/{release_name(T_NEW, OLD)}" if ok else self.cwd
            return json.dumps({"ok": ok, "detail": "ok" if ok else "temporary app never ready"})
        if "readlink -f" in command:
            procs = [{"name": "cookcam-api", "pm_id": 0, "pid": 7, "cwd": self.cwd}]
            return (
                f"@@cookcam-ops begin pm2@@\n{json.dumps({'now': 1, 'processes': procs})}\n"
                "@@cookcam-ops end pm2 0@@\n@@cookcam-ops begin current@@\n"
                f"{self.app}/releases/{release_name(T_NEW, OLD)}\n@@cookcam-ops end current 0@@"
            )
        if "test-build" in command or "AbortSignal" in command:
            return json.dumps({"ok": True, "detail": "fine"})
        return ""

    def run(self, command: str, *, timeout: float | None = None, on_line: object = None) -> Any:
        from cookcam_ops.remote.protocol import RunResult

        self.sent.append(command)
        return RunResult(command, 0, self.answer(command), "", 0.0)


def _migrate(hosts: list[_Host], *, dry_run: bool = False) -> Any:
    """migrate-to-releases over the stand-in hosts, on the run skeleton and the engine."""
    from cookcam_ops.config import LoadedConfig, OpsConfig
    from cookcam_ops.deploy.migrate import MigrateRequest, migrate_environment
    from cookcam_ops.deploy.observer import NullObserver

    by_name = {h.label: h for h in hosts}
    config = OpsConfig.model_validate(
        {
            "environments": {
                "prod": {
                    "hosts": [
                        {"ssh": f"deploy@{h.label}.example", "name": h.label, "app_path": h.app}
                        for h in hosts
                    ]
                }
            }
        }
    )
    return migrate_environment(
        LoadedConfig(config=config, path=Path("/nowhere/ops.yaml")),
        MigrateRequest("prod", dry_run=dry_run),
        observer=NullObserver(),
        connector=lambda host: by_name[host.name or ""],
    )


@pytest.mark.parametrize(
    ("handovers", "outcome"), [([False, True], "failed"), ([False, False], "rollback_failed")]
)
def test_a_migration_that_fails_after_the_swap_puts_the_checkout_back(
    handovers: list[bool], outcome: str
) -> None:
    """The engine runs the plan's restore (not the rollback playbook), records, and stops."""
    host, after = _Host(handovers), _Host([True, True], "web2")
    result = _migrate([host, after])
    web1, web2 = result.hosts
    names = [s.name for s in web1.steps]
    assert names[:4] == ["stage", "test-build", "swap", "handover"]
    assert names[8:10] == ["restore:swap-back", "restore:handover"]
    assert {s.status for s in web1.steps[4:8]} == {"skipped"}  # verify .. record: not run
    assert web1.outcome == outcome and result.outcome == outcome
    assert web2.outcome == "skipped" and not any("exec timeout" in c for c in after.sent)
    restore = next(c for c in host.sent if "migrate-failed" in c)
    # the staged layout moves out of the way first, then the kept checkout comes back
    assert restore.index("migrate-failed") < restore.rindex(f"inplace-{T_NEW}")
    (record,) = [c for c in host.sent if "history.jsonl" in c]
    assert '"action":"migrate"' in record and f'"outcome":"{outcome}"' in record


def test_sandbox_up_refuses_an_unknown_strategy_before_starting_anything(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from cookcam_ops.cli.main import app

    done = CliRunner().invoke(
        app, ["sandbox", "up", "--dir", str(tmp_path / "sb"), "--strategy", "blue-green"]
    )
    assert done.exit_code == 2 and "--strategy must be in-place or releases" in done.output
    assert not (tmp_path / "sb").exists()


def test_migrate_help_names_the_exit_codes() -> None:
    from typer.testing import CliRunner

    from cookcam_ops.cli.main import app

    done = CliRunner().invoke(app, ["migrate-to-releases", "--help"], env={"COLUMNS": "120"})
    assert done.exit_code == 0
    for code in ("0 migrated", "1 failed", "3 host", "4 a host", "5 another", "130"):
        assert code in " ".join(done.output.split())


class _Reloaded:
    """Answers the reload command with what the overlap printed, then the settle round trip
    (pm2 save, the saved list, jlist) with the same workers."""

    def __init__(self, procs: list[dict[str, Any]], current: str) -> None:
        self.out = (
            f"@@pm2log=0\n@@procs={json.dumps(procs)}\n2 new worker(s) ready\n"
            f"@@current={current}\n@@reload rc=0 t0=1000"
        )
        listed = json.dumps({"now": 3000, "processes": procs})
        self.settled = sections(
            kills=("", 0), save=("saved", 0), saved=(listed, 0), pm2=(listed, 0)
        )
        self.commands: list[str] = []

    def run(self, command: str, *, timeout: float | None = None, on_line: object = None) -> Any:
        from cookcam_ops.remote.protocol import RunResult

        self.commands.append(command)
        return RunResult(command, 0, self.settled if "pm2 save" in command else self.out, "", 0.0)


@pytest.mark.parametrize(("uptime", "ok"), [(2000, True), (500, False)])
def test_an_overlap_reload_is_judged_from_what_it_watched_on_the_host(
    uptime: int, ok: bool
) -> None:
    import threading

    from cookcam_ops.deploy.observer import NullObserver
    from cookcam_ops.deploy.steps import RunContext, _reload

    kept = entry("20261030120000", NEW)
    p = plan_host(
        PlanInput(R_ROLLBACK, APP, rtarget(), "rollback", NEW, None),
        _rfacts(releases=(kept, entry(T_OLD, OLD))),
    )
    reload = next(s for s in p.steps if s.name == "reload")
    assert reload.overlap and "pm2 scale" in reload.display
    cur = f"/srv/web1/api/releases/{kept.name}"
    procs = [
        {
            "name": "cookcam-api",
            "pm_id": i,
            "pid": 10 + i,
            "status": "online",
            "pm_uptime": uptime,
            "restart_time": 0,
            "cwd": cur,
        }
        for i in range(2)
    ]
    ctx = RunContext(
        run_id="r",
        action="rollback",
        user="u",
        ref=None,
        app=APP,
        observer=NullObserver(),
        rollback_playbook=R_ROLLBACK,
        cancel=threading.Event(),
    )
    host = _Reloaded(procs, cur)
    status, detail = _reload(host, p, reload, ctx)  # type: ignore[arg-type]
    assert status == ("ok" if ok else "failed")
    assert ("2 worker(s) run release" in detail) is ok
    assert ("saved for reboots (pm2 save: 2 worker(s))" in detail) is ok
    assert len(host.commands) == (2 if ok else 1)  # the reload, then one settle round trip


@pytest.mark.parametrize("replace", [False, True])
def test_a_handover_passes_its_mode_and_leaves_saving_to_its_caller(
    tmp_path: Path, replace: bool
) -> None:
    """Overlap (cluster) or replace (fork mode); `pm2 save` is deploy/persist.py's, once."""
    from cookcam_ops.deploy.handover import handover

    pkg, bin_dir, home = tmp_path / "pm2pkg", tmp_path / "bin", tmp_path / "home"
    for d in (pkg / "bin", bin_dir, home / ".pm2"):
        d.mkdir(parents=True)
    (pkg / "package.json").write_text("{}")
    calls, argv = tmp_path / "pm2-calls", tmp_path / "node-argv"
    (pkg / "bin" / "pm2").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "node").write_text(
        f'#!/bin/sh\nshift 2; echo "$@" > {argv}\n'
        'echo \'{"ok":true,"stage":"start","detail":"done"}\'\n'
    )
    for f in (pkg / "bin" / "pm2", bin_dir / "node"):
        f.chmod(0o755)
    (bin_dir / "pm2").symlink_to(pkg / "bin" / "pm2")
    (home / ".pm2" / "dump.pm2").write_text("[]")
    done = subprocess.run(
        ["sh", "-c", handover("cookcam-api", "/srv/api/current", 60, replace=replace)],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and json.loads(done.stdout.strip())["ok"] is True
    assert argv.read_text().split()[1:] == [
        "cookcam-api",
        "/srv/api/current",
        "55000",
        "replace" if replace else "overlap",
        ".handover",
    ]
    assert not calls.exists()


def test_migrate_dry_run_prints_exactly_the_commands_the_engine_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--dry-run shows each step with its command; the run sends exactly those commands, in
    that order, each wrapped as every engine step is; the documents are valid."""
    from cookcam_ops import ui
    from cookcam_ops.deploy import scripts
    from cookcam_ops.remote.protocol import q
    from cookcam_ops.render.deploy import render_plan
    from cookcam_ops.report import document
    from tests.documents import valid_document

    planned = _migrate([_Host([])], dry_run=True)
    assert planned.outcome == "dry_run" and planned.ok and planned.exit_code == 0
    plan, (web1,) = planned.plans[0], planned.hosts
    assert [s.name for s in web1.steps] == [
        *("stage", "test-build", "swap", "handover", "verify", "save", "health", "record")
    ]
    assert {s.status for s in web1.steps} == {"planned"} and web1.outcome == "planned"
    remote = [ps for ps in plan.steps if ps.remote]
    assert [s.detail for s in web1.steps if s.name != "record"] == [ps.command for ps in remote]
    host = _Host([True])
    done = _migrate([host])
    assert done.outcome == "migrated" and done.exit_code == 0, done.hosts[0].steps
    assert [s.name for s in done.hosts[0].steps] == [s.name for s in web1.steps]
    sent = [c for c in host.sent if "exec timeout" in c]  # every step's command, as wrapped
    run_id = sent[0].split('"$$" ', 1)[1].split()[0]
    assert sent == [
        scripts.wrap(
            ps.command,
            cwd=host.app,
            ops_path=plan.target.ops_dir,
            run_id=run_id,
            timeout=ps.timeout,
        )
        for ps in remote
    ]
    assert all(q(ps.command) in c for ps, c in zip(remote, sent, strict=True))
    for result in (planned, done):
        valid_document(
            json.dumps(document("migrate-to-releases", result.to_dict())), "migrate-to-releases"
        )
    monkeypatch.setenv("COLUMNS", "400")
    ui.reset()
    render_plan(planned)
    text = capsys.readouterr().out
    assert f"-> releases/{release_name(T_NEW, OLD)}" in text
    assert remote[0].command.splitlines()[3] in text


def test_migrate_plans_leave_a_releases_host_alone_and_refuse_a_blocked_one() -> None:
    from cookcam_ops.deploy.migrate import layout_check, migration_plan

    t = replace(rtarget(), layout=layout_for(Strategy.IN_PLACE, "/srv/web1/api"))
    done, dirty = HostLayout("releases"), HostLayout("in-place", OLD, 3, (), T_NEW)
    plans = [migration_plan(t, done), migration_plan(t, dirty)]
    assert plans[0].nothing_to_do and not plans[1].nothing_to_do and plans[1].blocked
    checks = [layout_check(p) for p in plans]
    assert [c.status for c in checks] == [Status.PASS, Status.FAIL]
    assert checks[0].detail == "already in the releases layout"
    assert "modified tracked" in checks[1].detail
    leftover = migration_plan(t, HostLayout("in-place", OLD, 0, (), T_NEW, leftover=True))
    assert "APP.migrating" in (leftover.blocked or "")
    ready = migration_plan(t, HostLayout("in-place", OLD, 0, (), T_NEW))
    assert ready.scratch == "/srv/web1/api.migrating" and ready.revert is not None
    assert ready.revert[0].name == "restore:swap-back"
