"""Planning is pure: facts in, exact commands out (npm ci or not, build or kept, blocked)."""

from __future__ import annotations

import shlex
from typing import Any

from cookcam_ops.deploy.plan import HostPlan, PlanInput, PlannedStep, plan_host
from cookcam_ops.pm2.apply import Apply
from cookcam_ops.pm2.ecosystem import Pm2Settings, parse_ecosystem
from tests.unit.deploy_fakes import APP, DEPLOY, NEW, OLD, ROLLBACK, facts, make_target, plan
from tests.unit.pm2_fakes import ecosystem_doc


def by_name(p: HostPlan) -> dict[str, PlannedStep]:
    return {s.name: s for s in p.steps}


def reload_run(step: PlannedStep) -> str:
    """The command the reload step runs (the last argument of hostside/reload.sh)."""
    return shlex.split(step.command)[-1]


def test_lockfile_unchanged_links_modules_and_skips_npm_ci() -> None:
    p = plan("web1", lockfile_differs=False)
    steps = by_name(p)
    assert p.needs_build and not p.lockfile_changed
    assert steps["npm-ci"].skip == "when: lockfile_changed is false"
    assert steps["link-modules"].skip is None
    assert (
        "ln -s /srv/web1/api/node_modules /srv/web1/api.ops/build/node_modules"
        in steps["link-modules"].command
    )


def test_lockfile_changed_runs_npm_ci_in_the_build_dir() -> None:
    p = plan("web1", lockfile_differs=True)
    steps = by_name(p)
    assert p.lockfile_changed
    assert steps["npm-ci"].skip is None
    assert steps["npm-ci"].command == ("cd /srv/web1/api.ops/build && npm ci --no-audit --no-fund")
    assert steps["link-modules"].skip


def test_missing_node_modules_counts_as_a_lockfile_change() -> None:
    assert plan("web1", has_node_modules=False).lockfile_changed


def test_the_switch_checks_out_the_sha_and_swaps_dist() -> None:
    switch = by_name(plan("web1"))["switch"]
    cmd = switch.command
    assert switch.switch
    assert f"git checkout --quiet --force -B main {NEW}" in cmd
    assert "mv /srv/web1/api.ops/build/dist dist" in cmd
    assert f"printf '%s\\n' {OLD} > /srv/web1/api.ops/swap/SHA" in cmd


def test_the_release_kept_in_prev_needs_no_build() -> None:
    p = plan("web1", prev_sha=NEW, lockfile_differs=True)
    steps = by_name(p)
    assert not p.needs_build and not p.lockfile_changed
    for name in ("prepare", "npm-ci", "link-modules", "build", "test-build"):
        assert steps[name].skip
    assert "mv /srv/web1/api.ops/prev/dist dist" in steps["switch"].command


def test_builtins_carry_their_commands() -> None:
    steps = by_name(plan("web1"))
    assert "pm2 reload cookcam-api --update-env" in steps["reload"].command
    assert "http://127.0.0.1:3000/health" in steps["health"].command
    assert NEW in steps["health"].command
    assert "/srv/web1/api.ops/build/dist/index.js" in steps["test-build"].command
    assert steps["lock"].preflight and steps["checklist"].preflight


def test_fork_mode_restarts() -> None:
    steps = by_name(plan("web1", exec_mode="fork_mode"))
    assert "pm2 restart cookcam-api --update-env" in steps["reload"].command


def test_nothing_to_do_when_already_on_target() -> None:
    p = plan("web1", target=OLD)
    assert p.nothing_to_do and p.steps == ()


def test_blocked_hosts() -> None:
    assert "modified tracked" in (plan("web1", dirty=2).blocked or "")
    assert "does not resolve" in (plan("web1", target=None).blocked or "")
    assert "fetch failed" in (plan("web1", target=None, fetch_error="no route").blocked or "")
    assert plan("web1", error="no app").blocked == "no app"


def test_paths_with_spaces_are_quoted() -> None:
    from cookcam_ops.config import HostConfig
    from cookcam_ops.remote.fanout import target

    # ops.yaml refuses such a path; the quoting holds all the same (defence in depth)
    t = target(HostConfig.model_construct(ssh="d@h", name="h", app_path="/srv/my app"), APP)
    p = plan_host(PlanInput(DEPLOY, APP, t, "deploy", None, None), facts("h"))
    assert "git -C '/srv/my app' archive --format=tar" in by_name(p)["prepare"].command


def test_auto_rollback_plan_skips_lock_and_record_and_ignores_a_dirty_tree() -> None:
    inp = PlanInput(ROLLBACK, APP, make_target("web1"), "rollback", OLD, None, auto=True)
    p = plan_host(inp, facts("web1", head=NEW, prev_sha=OLD, dirty=3, target=OLD))
    steps = by_name(p)
    assert p.blocked is None and not p.needs_build
    assert steps["lock"].skip and steps["record"].skip
    assert f"-B main {OLD}" in steps["switch"].command


SHIPPED = Pm2Settings(
    "cluster", 2, 10000, True, 10000, "/srv/web1/api/dist/index.js", "/srv/web1/api"
)


def eco_facts(running: Pm2Settings | None = SHIPPED, **over: Any) -> dict[str, object]:
    """Facts fields: PM2 runs `running`, the target's file is the shipped one with over."""
    doc = ecosystem_doc(sha=NEW, **over)
    doc["apps"][0].update(cwd="/srv/web1/api", script="/srv/web1/api/dist/index.js")
    return {"running": running, "target_ecosystem": parse_ecosystem(doc)}


def test_an_instance_count_change_is_a_reload_then_pm2_scale() -> None:
    p = plan("web1", **eco_facts(instances=3))
    assert p.pm2 is not None and p.pm2.how is Apply.SCALE
    reload = by_name(p)["reload"]
    assert "pm2 reload cookcam-api --update-env && pm2 scale cookcam-api 3" in reload.command
    assert "@@pm2log=" in reload.command  # where PM2's log ended: SIGKILLs after it count
    assert "instances 2 -> 3 (pm2 scale)" in reload.display


def test_settings_a_reload_keeps_are_applied_by_a_handover() -> None:
    p = plan("web1", **eco_facts(kill_timeout=12000))
    assert p.pm2 is not None and p.pm2.how is Apply.HANDOVER
    reload = by_name(p)["reload"]
    assert "pm2 reload cookcam-api" not in reload_run(reload)
    assert "/srv/web1/api 115000 overlap" in reload.command
    assert "beside the old workers" in reload.display


def test_fork_mode_on_either_side_stops_then_starts() -> None:
    p = plan("web1", **eco_facts(exec_mode="fork", instances=1))
    assert p.pm2 is not None and p.pm2.how is Apply.RESTART
    assert "/srv/web1/api 115000 replace" in by_name(p)["reload"].command
    back = plan(
        "web1",
        **eco_facts(
            Pm2Settings(
                "fork", 1, 10000, True, 10000, "/srv/web1/api/dist/index.js", "/srv/web1/api"
            )
        ),
    )
    assert back.pm2 is not None and back.pm2.how is Apply.RESTART


def test_unchanged_or_unread_settings_keep_the_plain_reload() -> None:
    same = plan("web1", **eco_facts())
    assert same.pm2 is not None and same.pm2.how is Apply.NONE and not same.pm2.changes
    assert reload_run(by_name(same)["reload"]) == "pm2 reload cookcam-api --update-env"
    broken = plan(
        "web1",
        running=SHIPPED,
        target_ecosystem=parse_ecosystem(
            {"error": "node cannot load ecosystem.config.js (SyntaxError)"}
        ),
    )
    assert broken.pm2 is not None and broken.pm2.unknown and broken.pm2.how is Apply.NONE
    assert plan("web1").pm2 is None  # no target file read (the facts had no candidates)
