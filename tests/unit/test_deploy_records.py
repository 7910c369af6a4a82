"""Lock and audit record formats, facts parsing, and where `rollback` takes the fleet."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from cookcam_ops.config import AppConfig, HostConfig
from cookcam_ops.deploy import audit, lock
from cookcam_ops.deploy.facts import FactsQuery, facts_script, parse_facts
from cookcam_ops.deploy.refs import ref_candidates
from cookcam_ops.history import parse_history
from cookcam_ops.layout.lock import LOCK_INFO_CAP, LockInfo
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import target
from tests.unit.deploy_fakes import NEW, OLD, make_target
from tests.unit.pm2_fakes import ecosystem_doc
from tests.unit.pm2_fakes import jlist as pm2_jlist

MID = "c" * 40


def test_lock_info_has_the_documented_fields() -> None:
    claim = lock.new_claim("cookcam-ops deploy production --ref main")
    doc = json.loads(claim.to_json())
    assert list(doc) == ["owner", "host", "pid", "command", "time", "id"]
    assert doc["command"] == "cookcam-ops deploy production --ref main"
    assert doc["time"].endswith("Z") and isinstance(doc["pid"], int)


def test_lock_is_renamed_into_place_whole_and_release_is_only_our_own() -> None:
    claim = lock.new_claim("deploy")
    cmd = lock.acquire_command("/srv/api.ops", claim)
    assert shlex.split(cmd)[3:] == [
        "lock_acquire.sh",
        "/srv/api.ops",
        claim.run_id,
        claim.to_json(),
        str(LOCK_INFO_CAP),
        "@@acquired",
        "@@held",
        "@@failed",
    ]
    assert 't="$ops/.lock-$run_id"' in cmd and 'l="$ops/lock"' in cmd
    assert 'mv -T "$t" "$l"' in cmd
    assert lock.parse_acquire("@@acquired\n").acquired
    tried = lock.parse_acquire(
        '@@held\n{"owner":"ann","host":"ci-1","pid":7,'
        '"command":"deploy","time":"2026-01-01T00:00:00Z"}\n'
    )
    holder = tried.holder
    assert not tried.acquired and holder is not None
    assert holder.describe() == "ann@ci-1 (pid 7) since 2026-01-01T00:00:00Z: deploy"
    release = lock.release_command("/srv/api.ops", claim.run_id)
    assert release.startswith(f"if grep -qF {claim.run_id} /srv/api.ops/lock/info.json")
    err = lock.held_error("web1", holder, "production")
    assert err.exit_code == 5 and "since 2026-01-01T00:00:00Z" in str(err)
    assert "cookcam-ops unlock production" in str(err)


def test_a_lock_left_by_a_dead_process_on_this_machine_is_called_stale() -> None:
    import socket
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = LockInfo("ann", socket.gethostname(), int(gone.stdout), "deploy", "t")
    assert lock.stale_here(dead)
    err = lock.held_error("web1", dead, "production")
    assert "no longer runs on this machine: the lock is stale" in str(err)
    alive = LockInfo("ann", socket.gethostname(), os.getppid(), "deploy", "t")
    elsewhere = LockInfo("ann", "another-machine", int(gone.stdout), "deploy", "t")
    assert not lock.stale_here(alive) and not lock.stale_here(elsewhere)
    assert "stale" not in str(lock.held_error("web1", elsewhere, "production"))


def test_audit_record_format_is_one_json_line_appended() -> None:
    rec = audit.new_record(
        run_id="r1",
        action="deploy",
        user="ann",
        host="web1",
        from_sha=OLD,
        to_sha=NEW,
        outcome="deployed",
        duration_s=1.23456,
        ref="main",
    )
    assert list(rec) == [
        "id",
        "time",
        "action",
        "user",
        "host",
        "from_sha",
        "to_sha",
        "outcome",
        "duration_s",
        "ref",
    ]
    cmd = audit.append_command("/srv/api.ops", rec)
    assert cmd.endswith(">> /srv/api.ops/history.jsonl")
    assert "\n" not in cmd
    records, bad = parse_history(json.dumps(rec) + "\n")
    assert bad == 0 and records[0].to_sha == NEW and records[0].duration_s == 1.235


def line(time: str, action: str, frm: str, to: str, outcome: str, user: str = "ann") -> str:
    return json.dumps(
        {
            "id": time,
            "time": time,
            "action": action,
            "user": user,
            "host": "h",
            "from_sha": frm,
            "to_sha": to,
            "outcome": outcome,
            "duration_s": 1,
            "ref": None,
        }
    )


def hist(*lines: str) -> list[object]:
    return parse_history("\n".join(lines))[0]  # type: ignore[return-value]


def test_rollback_target_is_the_release_before_the_current_one() -> None:
    h = hist(
        line("2026-01-01T00:00:00Z", "deploy", OLD, MID, "deployed"),
        line("2026-01-02T00:00:00Z", "deploy", MID, NEW, "deployed"),
    )
    found = audit.rollback_target({"a": NEW, "b": NEW}, {"a": h, "b": h})  # type: ignore[dict-item]
    assert found is not None and found[0] == MID


def test_rolling_back_twice_walks_back_one_more_release() -> None:
    h = hist(
        line("2026-01-01T00:00:00Z", "deploy", OLD, MID, "deployed"),
        line("2026-01-02T00:00:00Z", "deploy", MID, NEW, "deployed"),
        line("2026-01-03T00:00:00Z", "rollback", NEW, MID, "rolled_back"),
    )
    found = audit.rollback_target({"a": MID}, {"a": h})  # type: ignore[dict-item]
    assert found is not None and found[0] == OLD


def test_hosts_left_on_different_releases_converge() -> None:
    a = hist(
        line("2026-01-01T00:00:00Z", "deploy", OLD, MID, "deployed"),
        line("2026-01-02T00:00:00Z", "deploy", MID, NEW, "failed"),
    )  # left on NEW
    b = hist(
        line("2026-01-01T00:00:00Z", "deploy", OLD, MID, "deployed"),
        line("2026-01-02T00:00:00Z", "deploy", MID, NEW, "failed"),
    )  # never switched
    found = audit.rollback_target({"a": NEW, "b": MID}, {"a": a, "b": b})  # type: ignore[dict-item]
    assert found is not None and found[0] == MID


def test_no_recorded_release_means_no_target() -> None:
    assert audit.rollback_target({"a": OLD}, {"a": []}) is None


def test_facts_come_from_one_script_and_parse() -> None:
    t = make_target("web1")
    query = FactsQuery("origin", "cookcam-api", True, ("refs/remotes/origin/main",))
    script = facts_script(t, query)
    assert "git fetch --quiet --prune --tags --force origin" in script
    assert "refs/remotes/origin/main" in script and "pm2 jlist" in script
    pm2 = json.dumps(
        {
            "now": 1,
            "processes": [
                {"name": "cookcam-api", "exec_mode": "cluster_mode", "status": "online"},
                {"name": "cookcam-api", "exec_mode": "cluster_mode", "status": "online"},
                {"name": "other", "exec_mode": "fork_mode"},
            ],
        }
    )
    out = "".join(
        f"\n@@cookcam-ops begin {name}@@\n{body}\n@@cookcam-ops end {name} {rc}@@\n"
        for name, body, rc in [
            ("git", f"head={OLD}\nbranch=main\ndirty=0\nnode_modules=1", 0),
            ("fetch", "", 0),
            ("target", f"target={NEW}\nlockfile_diff=1", 0),
            ("prev", MID, 0),
            ("lock", '@@held\n{"owner":"ann","host":"x","pid":1,"command":"d","time":"t"}', 0),
            ("pm2", pm2, 0),
        ]
    )
    f = parse_facts("web1", out, query)
    assert (f.head, f.branch, f.dirty, f.target, f.lockfile_differs) == (OLD, "main", 0, NEW, True)
    assert f.prev_sha == MID and f.exec_mode == "cluster_mode" and f.instances == 2
    assert f.lock is not None and f.lock.owner == "ann"
    assert composite.parse(out)["git"].ok


def test_facts_read_the_target_commits_ecosystem_file_and_what_pm2_runs() -> None:
    t = make_target("web1")
    query = FactsQuery("origin", "cookcam-api", False, (NEW,))
    script = facts_script(t, query)
    # hostside/ecosystem_committed.sh runs `git -C REPO show`, REPO its first argument after the
    # reader
    assert 'git -C "$repo" show' in script and " /srv/web1/api " in script
    assert "ecosystem.config.js" in script
    eco = ecosystem_doc(sha=NEW, instances=3)
    out = "".join(
        f"\n@@cookcam-ops begin {name}@@\n{body}\n@@cookcam-ops end {name} 0@@\n"
        for name, body in [
            ("git", f"head={OLD}\nbranch=main\ndirty=0"),
            ("target", f"target={NEW}\nlockfile_diff=0"),
            ("ecosystem-target", json.dumps(eco)),
            ("pm2", pm2_jlist(2)),
        ]
    )
    f = parse_facts("web1", out, query)
    assert f.running is not None and f.running.instances == 2
    assert f.target_ecosystem is not None and f.target_ecosystem.sha == NEW
    assert f.target_ecosystem.apps[0].instances == 3
    assert parse_facts("web1", out, FactsQuery("origin", "cookcam-api", False)).running is not None


def test_facts_of_a_missing_app_dir() -> None:
    query = FactsQuery("origin", "cookcam-api", False)
    out = "\n@@cookcam-ops begin git@@\n\n@@cookcam-ops end git 3@@\n"
    assert parse_facts("web1", out, query).error


def _git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_a_tag_no_branch_reaches_resolves_after_the_facts_fetch(tmp_path: Path) -> None:
    """Real git: a hotfix tag on a commit no branch holds is fetched and resolved to its SHA."""
    work, origin, app = tmp_path / "work", tmp_path / "origin.git", tmp_path / "app"
    work.mkdir()
    _git(work, "init", "-q")
    _git(work, "commit", "-q", "--allow-empty", "-m", "one")
    _git(tmp_path, "clone", "-q", "--bare", str(work), str(origin))
    _git(tmp_path, "clone", "-q", str(origin), str(app))
    _git(work, "checkout", "-q", "--detach")
    _git(work, "commit", "-q", "--allow-empty", "-m", "hotfix only a tag holds")
    _git(work, "tag", "v1.0.1-hotfix")
    tagged = _git(work, "rev-parse", "HEAD")
    _git(work, "push", "-q", str(origin), "refs/tags/v1.0.1-hotfix")
    t = target(HostConfig(ssh="d@h", name="web1"), AppConfig(path=str(app)))
    query = FactsQuery(
        "origin", "cookcam-api", True, tuple(ref_candidates("v1.0.1-hotfix", "origin", "main"))
    )
    done = subprocess.run(
        ["sh", "-c", facts_script(t, query)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    found = parse_facts("web1", done.stdout, query)
    assert found.fetch_error is None and found.target == tagged


@pytest.mark.parametrize("strategy", ["in-place", "releases"])
def test_a_deploys_first_round_trip_runs_facts_and_checklist_sections_once_each(
    strategy: str,
) -> None:
    from cookcam_ops.checklist.remote import checklist_sections, gate_sections
    from cookcam_ops.config import Strategy
    from cookcam_ops.deploy.facts import facts_sections
    from cookcam_ops.layout import layout_for

    t = make_target("web1")
    t = replace(t, layout=layout_for(Strategy(strategy), t.app_path))
    query = FactsQuery("origin", "cookcam-api", True, ("refs/remotes/origin/main",))
    merged = composite.merged(facts_sections(t, query), checklist_sections(t, query.candidates))
    names = [n for n, _ in merged]
    assert len(names) == len(set(names))
    assert {"lock", "fetch", "target", "ecosystem-target", "pm2", "node", "health"} <= set(names)
    assert names.index("fetch") < names.index("ecosystem-target")  # the target is fetched first
    with pytest.raises(ValueError, match="two different sections named pm2"):
        composite.merged([("pm2", "a")], [("pm2", "b")])
    got = gate_sections({"target": composite.Section("target", "", 1)})
    assert got["ref"].exit_code == 1  # the ref item fails where no candidate resolved
