"""Telling people what happened, end to end on the 2-host sandbox.

A webhook receiver and a Sentry stand-in (loopback servers, tests/receivers.py) record what
deploy, rollback and unlock send: a deploy, a deploy rolled back by itself, a rollback, a
rollback that failed too (exit 4: a human is paged), a broken lock. Failed steps end with their
last lines and the run log; documents hold for every exit code; `--ref` finds a tag no branch
reaches. The tests share the sandbox (the `fleet` fixture), in any order: each states the fleet
it starts from (`ready`).
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from cookcam_ops.sandbox import hosts as sandbox_git
from tests.e2e.helpers import (
    FAST_HEALTH_PLAYBOOK_RETRIES,
    ROOT,
    Cli,
    assert_fleet_on,
    assert_no_secrets,
    change,
    cli_env,
    locks,
    ops_copy,
    playbook_without,
    ready,
    run_cli,
    served,
)
from tests.receivers import Received, Recorder, receiver

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e
TOKEN = f"sntrys_e2e_{secrets.token_hex(12)}"


@dataclass
class Told:
    """The fleet, an ops.yaml naming the receivers, and what they recorded."""

    sb: Sandbox
    config: Path
    env: dict[str, str]
    seen: Recorder
    tmp: Path

    def run(self, *args: str, config: Path | None = None) -> Cli:
        return run_cli(config or self.config, *args, env=self.env)

    def mark(self) -> int:
        return len(self.seen.requests)

    def since(self, mark: int, path: str) -> list[Received]:
        return [r for r in self.seen.requests[mark:] if r.path == path]

    def variant(self, name: str, playbooks: dict[str, str]) -> Path:
        """This ops.yaml with other playbooks."""
        doc = yaml.safe_load(self.config.read_text())
        doc["playbooks"] = playbooks
        path = self.tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    def assert_no_secret(self, *outputs: str) -> None:
        for text in outputs:
            assert TOKEN not in text and self.env["E2E_SLACK_URL"] not in text
            assert self.env["E2E_JSON_URL"] not in text


@pytest.fixture(scope="module")
def told(fleet: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Told]:
    tmp = tmp_path_factory.mktemp("told")
    with receiver(token=TOKEN) as (base, seen):

        def edit(doc: dict[str, Any]) -> None:
            env = doc["environments"]["sandbox"]
            env["notify"] = [
                {"url_env": "E2E_SLACK_URL", "format": "slack"},
                {"url_env": "E2E_JSON_URL", "format": "json"},
            ]
            env["sentry"] = {
                "url": base,
                "org": "cookcam",
                "project": "cookcam-api",
                "auth_token_env": "E2E_SENTRY_TOKEN",
            }

        yield Told(
            fleet,
            ops_copy(fleet, tmp, edit),
            {
                "E2E_SLACK_URL": f"{base}/hook",
                "E2E_JSON_URL": f"{base}/json",
                "E2E_SENTRY_TOKEN": TOKEN,
            },
            seen,
            tmp,
        )


def sent_checks(doc: dict[str, Any]) -> dict[str, str]:
    return {
        c["name"]: c["status"] for c in doc["checks"] if c["name"].startswith(("notify:", "sentry"))
    }


def test_a_deploy_is_announced_and_marked_in_sentry(told: Told) -> None:
    ready(told.sb)
    sha = change(told.sb, "release")
    mark = told.mark()
    done = told.run("deploy", "sandbox", "--yes", "--json")
    assert done.code == 0, done.stderr[-3000:]
    assert sent_checks(done.doc) == {
        "notify:E2E_SLACK_URL": "pass",
        "notify:E2E_JSON_URL": "pass",
        "sentry": "pass",
    }
    (slack,) = told.since(mark, "/hook")
    assert slack.body["text"].startswith(":rocket: cookcam-ops: deploy sandbox: ")
    assert f"-> {sha[:10]} by " in slack.body["text"]
    (posted,) = told.since(mark, "/json")
    assert posted.body["event"] == "deploy" and posted.body["outcome"] == "deployed"
    assert posted.body["command"] == "deploy" and posted.body["target_sha"] == sha
    assert told.seen.releases[sha] == ["cookcam-api"]
    assert told.seen.deploys[-1]["version"] == sha
    assert told.seen.deploys[-1]["environment"] == "sandbox"
    told.assert_no_secret(done.stdout, done.stderr)


def test_a_deploy_rolled_back_by_itself_is_a_failure_announced(told: Told) -> None:
    """broken-health past a playbook without the build test: health fails after the switch,
    both hosts go back; people see each failed step's last lines and the run log."""
    ready(told.sb)
    book = playbook_without(told.tmp, ("test-build",), health_retries=FAST_HEALTH_PLAYBOOK_RETRIES)
    config = told.variant("no-build-test", {"deploy": str(book)})
    (old,) = set(served(told.sb).values())
    change(told.sb, "broken-health")
    mark = told.mark()
    done = told.run("deploy", "sandbox", "--yes", "--batch", "2", config=config)  # for people
    assert done.code == 1, done.stderr[-3000:]
    assert "host1: health failed; its last lines:" in done.stderr
    assert '  | {"ok":false,"attempts":4,"detail":"HTTP 503' in done.stderr
    log_line = next(line for line in done.stderr.splitlines() if "full output:" in line)
    assert Path(log_line.split("full output:")[1].strip()).read_text().count("== health\n") == 1
    (slack,) = told.since(mark, "/hook")
    assert "and was rolled back by itself: back on " + old[:10] in slack.body["text"]
    (posted,) = told.since(mark, "/json")
    assert posted.body["event"] == "failure" and posted.body["outcome"] == "rolled_back"
    assert told.seen.deploys[-1]["version"] == old
    assert "automatic rollback" in told.seen.deploys[-1]["name"]
    assert_fleet_on(told.sb, old)
    told.assert_no_secret(done.stdout, done.stderr)


def test_a_rollback_is_announced_and_marked_in_sentry(told: Told) -> None:
    ready(told.sb, rollback=True)
    mark = told.mark()
    done = told.run("rollback", "sandbox", "--yes", "--json")
    assert done.code == 0, done.stderr[-3000:]
    target = done.doc["target_sha"]
    assert sent_checks(done.doc) == {
        "notify:E2E_SLACK_URL": "pass",
        "notify:E2E_JSON_URL": "pass",
        "sentry": "pass",
    }
    (slack,) = told.since(mark, "/hook")
    assert slack.body["text"].startswith(
        ":leftwards_arrow_with_hook: cookcam-ops: rollback sandbox: "
    )
    (posted,) = told.since(mark, "/json")
    assert posted.body["event"] == "rollback" and posted.body["outcome"] == "rolled_back"
    assert told.seen.deploys[-1]["version"] == target
    assert told.seen.deploys[-1]["name"].startswith("cookcam-ops rollback by ")
    assert_fleet_on(told.sb, target)


def test_a_rollback_that_fails_too_is_exit_4_and_pages_a_human(told: Told) -> None:
    """The fleet serves a release that answers 503 (deployed by a careless playbook); the next
    broken release fails its health after the switch, and going back fails too: exit 4. Then
    on-call's hotfix goes out to the unhealthy fleet (the checklist warns, health is checked
    after the switch)."""
    ready(told.sb)
    careless = told.variant(
        "careless", {"deploy": str(playbook_without(told.tmp, ("test-build", "health", "smoke")))}
    )
    change(told.sb, "broken-health")
    assert told.run("deploy", "sandbox", "--yes", "--batch", "2", config=careless).code == 0
    assert {
        httpx.get(f"{h.base_url}/health", timeout=5).status_code for h in told.sb.state.hosts
    } == {503}

    failing = told.variant(
        "failing",
        {
            "deploy": str(
                playbook_without(
                    told.tmp, ("test-build",), health_retries=FAST_HEALTH_PLAYBOOK_RETRIES
                )
            ),
            "rollback": str(
                playbook_without(
                    told.tmp, (), "rollback", health_retries=FAST_HEALTH_PLAYBOOK_RETRIES
                )
            ),
        },
    )
    change(told.sb, "broken-health")
    deploys_before, mark = len(told.seen.deploys), told.mark()
    done = told.run("deploy", "sandbox", "--yes", "--json", "--batch", "2", config=failing)
    assert done.code == 4, done.stderr[-3000:]
    assert done.doc["outcome"] == "rollback_failed" and done.doc["ok"] is False
    assert {h["outcome"] for h in done.doc["hosts"]} == {"rollback_failed"}
    (slack,) = told.since(mark, "/hook")
    assert slack.body["text"].startswith(":rotating_light: cookcam-ops: A HUMAN IS NEEDED NOW")
    (posted,) = told.since(mark, "/json")
    assert posted.body["human_needed"] is True and posted.body["event"] == "failure"
    assert len(told.seen.deploys) == deploys_before  # nothing healthy to mark
    assert locks(told.sb) == []

    fix = change(told.sb, "release")
    done = told.run("deploy", "sandbox", "--yes", "--json", "--batch", "2")
    assert done.code == 0, done.stderr[-3000:]
    health = [c for c in done.doc["checks"] if c["name"] == "checklist:health"]
    assert health and all(c["status"] == "warn" and "503" in c["detail"] for c in health)
    assert_fleet_on(told.sb, fix)


def test_exit_2_3_and_5_are_documents_and_a_broken_lock_is_announced(
    told: Told, tmp_path: Path
) -> None:
    ready(told.sb)
    unknown = told.run("deploy", "nope", "--yes", "--json")
    assert unknown.code == 2 and unknown.doc["error"]["kind"] == "config"
    closed = ops_copy(
        told.sb,
        tmp_path,
        lambda d: d["environments"]["sandbox"]["hosts"][0].update(
            ssh=f"{told.sb.state.user}@127.0.0.1:1"
        ),
    )
    lost = run_cli(closed, "status", "sandbox", "--json")
    assert lost.code == 3 and [u["host"] for u in lost.doc["unreachable"]] == ["host1"]
    assert lost.doc["answered"] == ["host2"]

    lock = told.sb.ops_dir("host1") / "lock"
    lock.mkdir(parents=True)
    (lock / "info.json").write_text(
        '{"owner": "ghost", "host": "gone-box", "pid": 1, "command": "deploy", "time": "earlier"}'
    )
    held = told.run("deploy", "sandbox", "--yes", "--json")
    assert held.code == 5 and held.doc["lock"]["holder"]["owner"] == "ghost"
    mark = told.mark()
    broken = told.run("unlock", "sandbox", "--yes", "--json")
    assert broken.code == 0 and broken.doc["locks"][0]["broken"] is True
    (slack,) = told.since(mark, "/hook")
    assert slack.body["text"].startswith(":unlock: cookcam-ops: deploy lock of sandbox broken")
    assert "ghost@gone-box" in slack.body["text"] and locks(told.sb) == []


def test_ref_finds_a_tag_no_branch_reaches(told: Told, tmp_path: Path) -> None:
    """A hotfix tagged on a commit of its own (pushed as a tag only) is fetched and planned."""
    ready(told.sb)
    work = tmp_path / "hotfix"
    sandbox_git.git(["clone", "--quiet", str(told.sb.layout.origin), str(work)])
    sandbox_git.git(["checkout", "--quiet", "--detach"], work)
    sandbox_git.git(["commit", "--quiet", "--allow-empty", "-m", "hotfix on a tag"], work)
    tag = f"hotfix-{secrets.token_hex(3)}"
    sandbox_git.git(["tag", tag], work)
    sandbox_git.git(["push", "--quiet", "origin", f"refs/tags/{tag}"], work)
    sha = sandbox_git.git(["rev-parse", "HEAD"], work)
    done = told.run("deploy", "sandbox", "--ref", tag, "--dry-run", "--json")
    assert done.code == 0, done.stderr[-2000:]
    assert done.doc["outcome"] == "dry_run" and done.doc["target_sha"] == sha
    assert {h["to_sha"] for h in done.doc["hosts"]} == {sha}


def test_logs_follow_streams_new_lines_and_stops_cleanly(told: Told) -> None:
    """logs -f on both hosts: a reload's start-up lines arrive prefixed by host; Ctrl-C ends
    it (exit 130) and nothing is left tailing on the hosts."""
    ready(told.sb)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cookcam_ops",
            "logs",
            "sandbox",
            "-f",
            "--lines",
            "1",
            "--grep",
            "listening on port",
        ],
        cwd=ROOT,
        env=cli_env(told.config, told.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    seen: list[str] = []
    out = proc.stdout
    assert out is not None
    reader = threading.Thread(target=lambda: seen.extend(iter(out.readline, "")), daemon=True)
    reader.start()
    try:
        time.sleep(4)  # the backlog (--lines 1) has arrived
        before = sum(line.startswith("[host1] ") for line in seen)
        assert told.sb.ssh("host1", "pm2 reload cookcam-api").returncode == 0
        deadline = time.monotonic() + 60
        while sum(line.startswith("[host1] ") for line in seen) < before + 2:
            assert time.monotonic() < deadline, f"no new lines from host1: {seen[-5:]}"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert all("listening on port" in line for line in seen)
    tails = [f"tail -n 1 -v -F -- {h.pm2_home}" for h in told.sb.state.hosts]
    deadline = time.monotonic() + 20  # the heartbeat notices the closed connection in 5 s
    while any(t in told.sb.ssh("host1", "ps -eo args").stdout for t in tails):
        assert time.monotonic() < deadline, "a tail of logs -f is still running on a host"
        time.sleep(1)


def test_init_from_a_running_host_writes_what_checklist_and_a_dry_run_accept(
    told: Told, tmp_path: Path
) -> None:
    """init --from-host: an unknown host key is shown (fingerprint) and refused; trusted when
    asked; the ops.yaml written from what runs there passes checklist and deploy --dry-run."""
    ready(told.sb)
    h = told.sb.host("host1")
    out, known = tmp_path / "ops.yaml", tmp_path / "known_hosts"
    args = [
        "init",
        "--from-host",
        f"{told.sb.state.user}@127.0.0.1:{h.ssh_port}",
        "--output",
        str(out),
        "--environment",
        "web",
        "--identity-file",
        str(told.sb.layout.client_key),
        "--known-hosts",
        str(known),
        "--json",
    ]
    refused = run_cli(out, *args)
    assert refused.code == 3, refused.stderr
    assert "unknown host key" in refused.stderr and "SHA256:" in refused.stderr
    assert refused.doc["unreachable"][0]["reason"].count("SHA256:") == 1
    assert not out.exists() and not known.exists()

    done = run_cli(out, *args, "--accept-new-host-keys")
    assert done.code == 0, done.stderr[-2000:]
    found = done.doc["discovered"]
    assert found["pm2_app"] == {
        "name": "cookcam-api",
        "cwd": h.app_path,
        "exec_mode": "cluster",
        "instances": 2,
    }
    assert found["port"] == h.app_port and found["health_path"] == "/health"
    assert f"[127.0.0.1]:{h.ssh_port} " in known.read_text()
    smoke = told.sb.smoke_env()  # CI gives these as variables; ops.yaml names them
    checklist = run_cli(out, "checklist", "web", "--json", env=smoke)
    assert checklist.code == 0, [c for c in checklist.doc["checks"] if c["status"] == "fail"]
    dry = run_cli(out, "deploy", "web", "--dry-run", "--json", env=smoke)
    assert dry.code == 0, dry.stderr[-2000:]
    assert dry.doc["outcome"] == "dry_run"
    assert [x["name"] for x in dry.doc["hosts"]] == [f"127.0.0.1:{h.ssh_port}"]
    assert_no_secrets(told.sb, out.read_text(), done.stdout, done.stderr)
