"""The ecosystem file as deployed code: the reader (node, git), PM2's resolution, the apply plan."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cookcam_ops.checklist.pm2_items import judge_changes, judge_runtime
from cookcam_ops.config import AppConfig, HostConfig, Strategy
from cookcam_ops.layout import Place, layout_for
from cookcam_ops.pm2 import ecosystem
from cookcam_ops.pm2.apply import Apply, Change, differences, plan_apply
from cookcam_ops.pm2.ecosystem import (
    EcosystemApp,
    Pm2Settings,
    committed_command,
    from_file,
    from_processes,
    parse_ecosystem,
    served_command,
    target_command,
)
from cookcam_ops.pm2.procs import parse_jlist
from cookcam_ops.remote.fanout import Target
from cookcam_ops.report import Status
from tests.conftest import SENTINEL
from tests.unit.pm2_fakes import APP_DIR, SCRIPT, ecosystem_doc, jlist

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("git") is None, reason="node and git are needed"
)
SHIPPED = Pm2Settings("cluster", 2, 10000, True, 10000, SCRIPT, APP_DIR)
FILE = (
    "// @cookcam-marker\nmodule.exports = {apps: [{name: 'cookcam-api', script: "
    "'dist/index.js', cwd: __dirname, exec_mode: 'cluster', instances: INSTANCES, "
    "wait_ready: true, listen_timeout: 10000, kill_timeout: KILL, "
    f"env: {{NODE_ENV: 'production', JWT_SECRET: '{SENTINEL}'}}}}]}};\n"
)


def app(**over: object) -> EcosystemApp:
    fields: dict[str, object] = {
        "name": "cookcam-api",
        "exec_mode": None,
        "instances": None,
        "kill_timeout": None,
        "wait_ready": False,
        "listen_timeout": None,
        "env_keys": {},
        "cwd": APP_DIR,
        "script": SCRIPT,
    }
    fields.update(over)
    return EcosystemApp(**fields)  # type: ignore[arg-type]


def run(script: str, cwd: Path) -> dict[str, object]:
    done = subprocess.run(
        ["sh", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    assert SENTINEL not in done.stdout
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(doc, dict)
    return doc


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@needs_node
def test_the_target_commits_file_is_read_from_git_in_a_monorepo_subdirectory(
    tmp_path: Path,
) -> None:
    """`./FILE` at a commit names the file in the app's own directory, wherever it is in the
    repository; __dirname is the served app directory, so cwd and script resolve there."""
    top = tmp_path / "cookcam"
    api = top / "backend" / "api"
    api.mkdir(parents=True)
    git(top, "init", "-q", "-b", "main")
    (api / "ecosystem.config.js").write_text(
        FILE.replace("INSTANCES", "2").replace("KILL", "10000")
    )
    git(top, "add", "-A")
    git(top, "commit", "-qm", "one")
    (api / "ecosystem.config.js").write_text(
        FILE.replace("INSTANCES", "'max'").replace("KILL", "1000")
    )
    git(top, "commit", "-qam", "two")
    first = git(top, "rev-parse", "HEAD~1")
    doc = run(committed_command(str(api), "./", str(api), ("nope", first)), tmp_path)
    read = parse_ecosystem(doc)
    assert read.error is None and read.sha == first and read.file == "ecosystem.config.js"
    got = ecosystem.wanted(read, "cookcam-api")
    assert got == Pm2Settings("cluster", 2, 10000, True, 10000, f"{api}/dist/index.js", str(api))
    assert read.apps[0].env_keys == {"env": ["NODE_ENV", "JWT_SECRET"]}
    served = parse_ecosystem(run(served_command(str(api)), tmp_path))
    now = ecosystem.wanted(served, "cookcam-api")
    assert now is not None and now.kill_timeout == 1000
    assert now.instances == os.cpu_count() and served.sha is None
    missing = parse_ecosystem(
        run(committed_command(str(api), "./", str(api), ("no-such-ref",)), tmp_path)
    )
    assert missing.error is not None and "does not resolve" in missing.error


@needs_node
@pytest.mark.parametrize("strategy", [Strategy.IN_PLACE, Strategy.RELEASES])
def test_the_target_file_is_read_where_the_layout_keeps_the_app(
    tmp_path: Path, strategy: Strategy
) -> None:
    """In place: git at the checkout's top, the file at the app's subdir; releases: the bare
    APP/repo, the file read as if it lay in APP/current (where PM2 runs the app)."""
    top = tmp_path / "cookcam"
    (top / "backend" / "api").mkdir(parents=True)
    git(top, "init", "-q", "-b", "main")
    (top / "backend" / "api" / "ecosystem.config.js").write_text(
        FILE.replace("INSTANCES", "3").replace("KILL", "12000")
    )
    (top / "ecosystem.config.js").write_text(FILE.replace("INSTANCES", "9").replace("KILL", "1"))
    git(top, "add", "-A")
    git(top, "commit", "-qm", "one")
    sha = git(top, "rev-parse", "HEAD")
    if strategy is Strategy.IN_PLACE:
        app = top / "backend" / "api"
        place = Place(top=str(top), subdir="backend/api")
    else:
        app = tmp_path / "releases-root"
        app.mkdir()
        git(tmp_path, "clone", "-q", "--bare", str(top), str(app / "repo"))
        place = Place(subdir="backend/api")
    t = Target(
        HostConfig(ssh="web1"),
        AppConfig(),
        layout_for(strategy, str(app), place),
        3000,
        "http://web1:3000",
    )
    read = parse_ecosystem(run(target_command(t, ("nope", sha)), tmp_path))
    got = ecosystem.wanted(read, "cookcam-api")
    assert read.sha == sha and got is not None
    assert (got.instances, got.kill_timeout) == (3, 12000)
    assert got.cwd == t.code_path and got.script == f"{t.code_path}/dist/index.js"


@needs_node
def test_a_broken_or_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    assert "no ecosystem.config.js" in str(
        parse_ecosystem(run(served_command(str(tmp_path)), tmp_path)).error
    )
    (tmp_path / "ecosystem.config.js").write_text("module.exports = {;\n")
    assert "cannot load" in str(parse_ecosystem(run(served_command(str(tmp_path)), tmp_path)).error)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ("fork", 1)),  # no instances: PM2 starts one fork-mode process
        ({"instances": 2}, ("cluster", 2)),  # instances without exec_mode: cluster for node apps
        ({"instances": "max"}, ("cluster", 4)),
        ({"instances": 0, "exec_mode": "cluster_mode"}, ("cluster", 4)),
        ({"instances": -1, "exec_mode": "cluster"}, ("cluster", 3)),
        ({"instances": "3", "exec_mode": "fork"}, ("fork", 3)),
        ({"instances": -9, "exec_mode": "cluster"}, ("cluster", 1)),
    ],
)
def test_settings_follow_pm2s_own_resolution(
    fields: dict[str, object], expected: tuple[str, int]
) -> None:
    got = from_file(app(**fields), cpus=4)
    assert (got.exec_mode, got.instances) == expected
    assert (got.kill_timeout, got.listen_timeout, got.wait_ready) == (1600, 3000, False)


def test_what_pm2_runs_is_read_from_the_whitelisted_jlist() -> None:
    procs, _ = parse_jlist(json.loads(jlist(3)))
    assert from_processes(procs) == Pm2Settings("cluster", 3, 10000, True, 10000, SCRIPT, APP_DIR)
    assert from_processes([]) is None


@pytest.mark.parametrize(
    ("wanted", "how", "settings"),
    [
        (SHIPPED, Apply.NONE, []),
        (
            Pm2Settings("cluster", 3, 10000, True, 10000, SCRIPT, APP_DIR),
            Apply.SCALE,
            ["instances"],
        ),
        (
            Pm2Settings("cluster", 2, 1000, True, 10000, SCRIPT, APP_DIR),
            Apply.HANDOVER,
            ["kill_timeout"],
        ),
        (
            Pm2Settings("cluster", 3, 10000, True, 10000, SCRIPT, "/srv/other"),
            Apply.HANDOVER,
            ["instances", "cwd"],
        ),
        (
            Pm2Settings("fork", 1, 10000, True, 10000, SCRIPT, APP_DIR),
            Apply.RESTART,
            ["exec_mode", "instances"],
        ),
    ],
)
def test_the_plan_applies_what_pm2_reload_cannot(
    wanted: Pm2Settings, how: Apply, settings: list[str]
) -> None:
    plan = plan_apply(SHIPPED, wanted)
    assert plan.how is how and [c.setting for c in plan.changes] == settings
    assert plan.wanted == wanted and plan.unknown is None


def test_leaving_fork_mode_restarts_and_unknowns_apply_nothing() -> None:
    fork = Pm2Settings("fork", 1, 10000, True, 10000, SCRIPT, APP_DIR)
    back = plan_apply(fork, SHIPPED)
    assert back.how is Apply.RESTART
    assert back.describe() == (
        "PM2 settings: exec_mode fork -> cluster, instances 1 -> 2 "
        "(stop, then start: fork mode cannot hand over)"
    )
    assert (
        plan_apply(fork, Pm2Settings("fork", 1, 12000, True, 10000, SCRIPT, APP_DIR)).how
        is Apply.RESTART
    )
    nothing = plan_apply(None, SHIPPED)
    assert nothing.how is Apply.NONE and nothing.unknown == "PM2 runs no process of the app"
    broken = plan_apply(SHIPPED, None, "node cannot load ecosystem.config.js (SyntaxError)")
    assert broken.how is Apply.NONE and "SyntaxError" in broken.describe()
    assert broken.to_dict() == {
        "apply": "none",
        "changes": [],
        "unknown": "node cannot load ecosystem.config.js (SyntaxError)",
    }


def test_changes_read_as_runs_then_file() -> None:
    scaled = Pm2Settings("cluster", 3, 1000, True, 10000, SCRIPT, APP_DIR)
    assert differences(SHIPPED, scaled) == (
        Change("instances", 2, 3),
        Change("kill_timeout", 10000, 1000),
    )
    assert plan_apply(SHIPPED, scaled).describe() == (
        "PM2 settings: instances 2 -> 3, kill_timeout 10000 ms -> 1000 ms (zero-downtime handover)"
    )
    assert Change("instances", 2, 3).to_dict() == {"setting": "instances", "from": 2, "to": 3}


def test_the_checklist_compares_the_files_with_what_runs() -> None:
    procs, _ = parse_jlist(json.loads(jlist()))
    same = judge_runtime(parse_ecosystem(ecosystem_doc()), procs, "cookcam-api", 8000, "h")
    assert same.status is Status.PASS and "2 cluster worker(s)" in same.detail
    scaled_by_hand, _ = parse_jlist(json.loads(jlist(3)))
    drift = judge_runtime(
        parse_ecosystem(ecosystem_doc()), scaled_by_hand, "cookcam-api", 8000, "h"
    )
    assert drift.status is Status.WARN and "instances 3 -> 2" in drift.detail
    short, _ = parse_jlist(json.loads(jlist(kill_timeout=1000)))
    cut = judge_runtime(
        parse_ecosystem(ecosystem_doc(kill_timeout=1000)), short, "cookcam-api", 8000, "h"
    )
    assert cut.status is Status.WARN and "SIGKILL them mid-drain" in cut.detail
    assert (
        judge_runtime(parse_ecosystem(ecosystem_doc()), [], "cookcam-api", 8000, "h").status
        is Status.FAIL
    )
    change = judge_changes(
        parse_ecosystem(ecosystem_doc(sha="c" * 40, instances=3)), procs, "cookcam-api", "h"
    )
    assert change.status is Status.PASS
    assert change.detail == ("the target at cccccccccc: PM2 settings: instances 2 -> 3 (pm2 scale)")
    unchanged = judge_changes(parse_ecosystem(ecosystem_doc()), procs, "cookcam-api", "h")
    assert unchanged.detail.endswith("PM2 settings unchanged")
    assert (
        judge_changes(parse_ecosystem({"error": "x"}), procs, "cookcam-api", "h").status
        is Status.SKIP
    )
