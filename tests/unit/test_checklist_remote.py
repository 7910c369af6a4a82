"""The checklist's server half: ecosystem, git, versions, disk, kill signal; .env in memory only."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cookcam_ops.checklist import judge
from cookcam_ops.checklist.remote import (
    ChecklistOptions,
    checklist_script,
    remote_checklist,
    remote_env_check,
)
from cookcam_ops.checklist.semver_range import satisfies
from cookcam_ops.config import AppConfig, HostConfig
from cookcam_ops.envfile.schema import load_schema
from cookcam_ops.hostside import script
from cookcam_ops.layout import judge_git
from cookcam_ops.pm2 import killsignal
from cookcam_ops.pm2.ecosystem import EcosystemRead, parse_ecosystem
from cookcam_ops.remote.fanout import target
from cookcam_ops.remote.protocol import RunResult
from cookcam_ops.report import Status
from cookcam_ops.resources import default_playbook
from tests.conftest import SENTINEL, VALID_ENV, env_text
from tests.unit.pm2_fakes import ecosystem_doc, jlist, saved
from tests.unit.test_status_service import sections

ECO_OK = {
    "apps": [
        {
            "name": "cookcam-api",
            "exec_mode": "cluster",
            "instances": 2,
            "kill_timeout": 10000,
            "wait_ready": True,
            "listen_timeout": 10000,
            "env_keys": {"env": ["NODE_ENV"]},
        }
    ]
}
SECRETS = {"JWT_SECRET", "STRIPE_SECRET_KEY"}


DRAIN = 8000


def eco(**over: object) -> EcosystemRead:
    app = dict(ECO_OK["apps"][0])
    app.update(over)
    read = parse_ecosystem({"apps": [app]})
    assert read.error is None
    return read


def judged(read: EcosystemRead, prefix: str = "") -> list:  # type: ignore[type-arg]
    return judge.judge_ecosystem(read, "cookcam-api", SECRETS, "h", drain_ms=DRAIN, prefix=prefix)


def by_name(checks: list) -> dict:  # type: ignore[type-arg]
    return {c.name: c for c in checks}


def test_a_good_ecosystem_passes() -> None:
    checks = judged(eco())
    assert all(c.status is Status.PASS for c in checks), checks


def test_ecosystem_judgments() -> None:
    assert judged(eco(name="other"))[0].status is Status.FAIL
    checks = by_name(
        judged(
            eco(
                exec_mode="fork",
                instances=1,
                kill_timeout=None,
                wait_ready=False,
                env_keys={"env": ["NODE_ENV"], "env_production": ["JWT_SECRET", "API_TOKEN"]},
            )
        )
    )
    assert checks["ecosystem-cluster"].status is Status.WARN
    assert "downtime" in checks["ecosystem-cluster"].detail
    assert checks["ecosystem-kill-timeout"].status is Status.FAIL
    assert "1600" in checks["ecosystem-kill-timeout"].detail
    assert checks["ecosystem-wait-ready"].status is Status.WARN
    secret = checks["ecosystem-no-inline-secrets"]
    assert secret.status is Status.FAIL and "env_production.JWT_SECRET" in secret.detail
    low = by_name(judged(eco(kill_timeout=3000, instances="max")))
    assert low["ecosystem-kill-timeout"].status is Status.FAIL
    assert "mid-drain" in low["ecosystem-kill-timeout"].detail
    assert low["ecosystem-cluster"].status is Status.PASS
    looks = by_name(judged(eco(env_keys={"env": ["MY_API_TOKEN"]})))
    assert looks["ecosystem-no-inline-secrets"].status is Status.WARN


def test_kill_timeout_must_be_above_the_drain_deadline_not_equal_to_it() -> None:
    assert by_name(judged(eco(kill_timeout=DRAIN)))["ecosystem-kill-timeout"].status is Status.FAIL
    assert (
        by_name(judged(eco(kill_timeout=DRAIN + 1)))["ecosystem-kill-timeout"].status is Status.PASS
    )


def test_the_target_file_is_judged_under_its_own_names() -> None:
    names = {c.name for c in judged(eco(), prefix="target-")}
    assert names == {
        "target-ecosystem-app",
        "target-ecosystem-cluster",
        "target-ecosystem-kill-timeout",
        "target-ecosystem-wait-ready",
        "target-ecosystem-no-inline-secrets",
    }
    broken = judged(
        parse_ecosystem({"error": "node cannot load ecosystem.config.js", "sha": "b" * 40}),
        prefix="target-",
    )
    assert [(c.name, c.status) for c in broken] == [("target-ecosystem", Status.FAIL)]
    assert "at bbbbbbbbbb" in broken[0].detail


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_ecosystem_reader_prints_key_names_never_values(tmp_path: Path) -> None:
    source = (
        "module.exports = {apps: [{name: 'cookcam-api', exec_mode: 'cluster', instances: 2,"
        f" env: {{NODE_ENV: 'production', JWT_SECRET: '{SENTINEL}'}}}}]}};\n"
    )
    reader = ["node", "-e", script("ecosystem_reader.js"), str(tmp_path / "ecosystem.config.js")]
    done = subprocess.run(reader, input=source, capture_output=True, text=True, check=True)
    assert SENTINEL not in done.stdout
    read = parse_ecosystem(json.loads(done.stdout))
    assert read.error is None and read.apps[0].env_keys == {"env": ["NODE_ENV", "JWT_SECRET"]}
    broken = subprocess.run(
        reader, input="module.exports = {;\n", capture_output=True, text=True, check=True
    )
    assert "cannot load" in json.loads(broken.stdout)["error"]


def test_git_judgments() -> None:
    ok = judge_git([], "main", True, "main", "h")
    assert [c.status for c in ok] == [Status.PASS, Status.PASS]
    dirty = by_name(judge_git([" M src/a.ts", "?? tmp.txt"], "feature", None, "main", "h"))
    assert dirty["git-clean"].status is Status.FAIL and "src/a.ts" in dirty["git-clean"].detail
    assert dirty["git-branch"].status is Status.FAIL and "feature" in dirty["git-branch"].detail
    detached = by_name(judge_git([], None, False, "main", "h"))
    assert detached["git-branch"].status is Status.WARN


def test_versions_against_engines() -> None:
    checks = by_name(judge.judge_versions("v18.19.0", "10.2.3", {"node": ">=20"}, "h"))
    assert checks["node-version"].status is Status.FAIL and ">=20" in checks["node-version"].detail
    assert checks["npm-version"].status is Status.PASS
    assert (
        by_name(judge.judge_versions(None, "10.0.0", None, "h"))["node-version"].status
        is Status.FAIL
    )


@pytest.mark.parametrize(
    ("version", "wanted", "expected"),
    [
        ("v20.1.0", ">=20", True),
        ("v18.2.0", ">=20", False),
        ("10.2.3", "^10.0.0", True),
        ("11.0.0", "^10.0.0", False),
        ("v20.5.0", "18.x || 20.x", True),
        ("v20.0.0", ">=18 <20", False),
        ("v21.0.0", "18 - 20", False),
        ("1.3.0", "~1.2", False),
        ("0.2.5", "^0.2.3", True),
        ("0.3.0", "^0.2.3", False),
        ("1.0.0", "banana", None),
    ],
)
def test_semver_ranges(version: str, wanted: str, expected: bool | None) -> None:
    assert satisfies(version, wanted) is expected


def test_disk_thresholds() -> None:
    line = "/dev/sda1 100 50 {} 50% /"
    assert judge.judge_disk(line.format(2 * 1024**2), "h").status is Status.PASS
    assert judge.judge_disk(line.format(512 * 1024), "h").status is Status.WARN
    assert judge.judge_disk(line.format(100 * 1024), "h").status is Status.FAIL
    assert judge.judge_disk("garbage", "h").status is Status.WARN


def test_kill_signal_mismatch_names_the_fix() -> None:
    pm2 = killsignal.parse_pm2_signal("daemon ")
    assert pm2.signal == "SIGINT"
    handled = killsignal.parse_handlers(
        "process.on('SIGTERM', () => shutdown('SIGTERM'));\n"
        "// process.on('SIGINT', () => shutdown('SIGINT'));\n"
    )
    assert handled == {"SIGTERM"}
    check = judge.judge_kill_signal(pm2, handled, "h")
    assert check.status is Status.WARN
    assert "handles SIGTERM but PM2 sends SIGINT" in check.detail
    assert "handle SIGINT as well as SIGTERM, or set PM2_KILL_SIGNAL=SIGTERM" in check.detail
    told = killsignal.parse_pm2_signal("daemon SIGTERM")
    assert judge.judge_kill_signal(told, handled, "h").status is Status.PASS
    assert killsignal.parse_handlers(killsignal.NO_BUILD) is None
    assert killsignal.parse_handlers('process.once("SIGINT", f)') == {"SIGINT"}


def test_the_checklist_refuses_refs_with_the_one_ref_validator(tmp_path: Path) -> None:
    """--ref goes through deploy.refs.validate_ref, as deploy's and rollback's do."""
    from typer.testing import CliRunner

    from cookcam_ops.cli.main import app

    config = tmp_path / "ops.yaml"
    config.write_text("environments:\n  production:\n    hosts: [deploy@web1.example]\n")
    for bad in ("main;touch /tmp/x", "-rf", "a..b", "x.lock", "a b"):
        done = CliRunner().invoke(
            app, ["--config", str(config), "checklist", "production", "--ref", bad]
        )
        assert done.exit_code == 2, done.output
        assert "is not a valid git ref name" in done.output


@dataclass
class EnvTransport:
    """A host whose composite script answers healthy and whose .env holds the planted secret."""

    label: str
    stdout: str
    env: bytes | None
    reads: list[str] = field(default_factory=list)
    runs: int = 0

    def run(
        self, command: str, *, timeout: float | None = None, on_line: object = None
    ) -> RunResult:
        self.runs += 1
        return RunResult(command, 0, self.stdout, "", 0.01)

    def read_file(self, path: str) -> bytes | None:
        self.reads.append(path)
        return self.env

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        raise AssertionError("the checklist never writes")

    def close(self) -> None:
        pass


def healthy_sections() -> str:
    return sections(
        **{
            "ecosystem": (json.dumps(ecosystem_doc()), 0),
            "ecosystem-target": (json.dumps(ecosystem_doc(sha="b" * 40)), 0),
            "pm2": (jlist(), 0),
            "pm2-saved": (saved(), 0),
            "pm2-startup": (
                "home|/root/.pm2\nunit|/etc/systemd/system/pm2-root.service|/root/.pm2|1",
                0,
            ),
            "git-dirty": ("", 0),
            "git-branch": ("main", 0),
            "git-contained": ("", 0),
            "ref": ("", 0),
            "node": ("v20.11.0", 0),
            "npm": ("10.2.4", 0),
            "engines": ('{"engines":{"node":">=20"}}', 0),
            "disk": ("/dev/sda1 1 1 9999999 1% /", 0),
            "lock": ("", 0),
            "health": ('{"status":200,"ms":3,"body":"{}"}', 0),
            "kill-signal": ("daemon ", 0),
            "handlers": ("process.on('SIGTERM', f)\nprocess.on('SIGINT', f)", 0),
        }
    )


def opts() -> ChecklistOptions:
    schema = load_schema(default_playbook("env.schema.yaml"))
    return ChecklistOptions("production", "main", schema, "4505000000000000")


def test_remote_checklist_passes_and_never_shows_a_value() -> None:
    planted = {
        k: (v if k not in ("JWT_SECRET", "JWT_REFRESH_SECRET") else SENTINEL + "x" * 40)
        for k, v in VALID_ENV.items()
    }
    env = env_text(planted).encode()  # type: ignore[arg-type]
    made: list[EnvTransport] = []

    def connect(host: HostConfig) -> EnvTransport:
        made.append(EnvTransport(host.label, healthy_sections(), env))
        return made[-1]

    t = target(HostConfig(ssh="deploy@web1", name="web1"), AppConfig(path="/srv/api"))
    report = remote_checklist([t], connect, opts())
    doc = report.to_json()
    assert report.ok, [c for c in report.checks if c.status is Status.FAIL]
    assert SENTINEL not in doc
    names = {c.name for c in report.checks}
    assert {
        "env-all-set",
        "jwt-secrets-length",
        "ecosystem-cluster",
        "git-clean",
        "target-ref",
        "node-version",
        "disk-free",
        "lock",
        "health",
        "kill-signal",
        "target-ecosystem-kill-timeout",
        "ecosystem-runtime",
        "ecosystem-changes",
        "pm2-startup",
        "pm2-saved",
    } <= names
    assert not [c for c in report.checks if c.status is not Status.PASS], [
        c for c in report.checks if c.status is not Status.PASS
    ]
    assert all(c.host == "web1" for c in report.checks)
    assert made[0].runs == 2 and made[0].reads == ["/srv/api/.env"]  # the probe, the checks


def test_remote_checklist_fails_on_missing_env_and_held_lock() -> None:
    out = healthy_sections().replace(
        "@@cookcam-ops begin lock@@\n",
        '@@cookcam-ops begin lock@@\n@@held\n{"owner":"bo","host":"x","pid":1,"command":"deploy",'
        '"time":"t"}',
    )
    t = target(HostConfig(ssh="web1"), AppConfig())
    report = remote_checklist([t], lambda h: EnvTransport(h.label, out, None), opts())
    checks = by_name(report.checks)
    assert checks["env-file"].status is Status.FAIL
    assert checks["lock"].status is Status.FAIL and "bo@x" in checks["lock"].detail


def test_env_check_judges_every_variable() -> None:
    env = env_text({**VALID_ENV, "OPENAI_API_KEY": None}).encode()
    t = target(HostConfig(ssh="web1"), AppConfig())
    report = remote_env_check([t], lambda h: EnvTransport(h.label, "", env), opts())
    checks = by_name(report.checks)
    assert checks["OPENAI_API_KEY"].status is Status.FAIL
    assert checks["JWT_SECRET"].status is Status.PASS
    assert not report.ok


def test_checklist_script_quotes_every_value() -> None:
    """ops.yaml refuses such a path; the quoting holds all the same (defence in depth)."""
    t = target(HostConfig(ssh="web1"), AppConfig.model_construct(path="/srv/it's"))
    script = checklist_script(t, "main")
    assert "'/srv/it'\"'\"'s'" in script


def test_an_unhealthy_host_warns_but_does_not_block_a_deploy() -> None:
    """On-call must be able to deploy the hotfix to a fleet that is unhealthy now."""
    from cookcam_ops.deploy.gates import as_deploy_gate

    env = env_text(VALID_ENV).encode()  # type: ignore[arg-type]
    out = healthy_sections().replace('{"status":200,', '{"status":503,')
    t = target(HostConfig(ssh="web1"), AppConfig())
    report = remote_checklist([t], lambda h: EnvTransport(h.label, out, env), opts())
    assert by_name(report.checks)["health"].status is Status.FAIL
    gated = by_name([as_deploy_gate(c) for c in report.checks])
    assert gated["health"].status is Status.WARN
    assert "checked again after the switch" in gated["health"].detail
    assert not [c for c in gated.values() if c.status is Status.FAIL]


def test_the_deploy_gate_blocks_on_the_target_file_not_on_the_served_one() -> None:
    """The deploy replaces the served file; the target's short kill_timeout must stop it."""
    from cookcam_ops.deploy.gates import as_deploy_gate

    env = env_text(VALID_ENV).encode()  # type: ignore[arg-type]
    short = json.dumps(ecosystem_doc(kill_timeout=1000))
    out = healthy_sections().replace(json.dumps(ecosystem_doc()), short, 1)
    t = target(HostConfig(ssh="web1"), AppConfig(path="/srv/api"))
    report = remote_checklist([t], lambda h: EnvTransport(h.label, out, env), opts())
    failed = [c.name for c in report.checks if c.status is Status.FAIL]
    assert failed == ["ecosystem-kill-timeout"]
    gated = by_name([as_deploy_gate(c) for c in report.checks])
    assert gated["ecosystem-kill-timeout"].status is Status.WARN
    assert "this deploy applies the target's" in gated["ecosystem-kill-timeout"].detail
    target_short = healthy_sections().replace(
        json.dumps(ecosystem_doc(sha="b" * 40)),
        json.dumps(ecosystem_doc(sha="b" * 40, kill_timeout=1000)),
    )
    report = remote_checklist([t], lambda h: EnvTransport(h.label, target_short, env), opts())
    gated = by_name([as_deploy_gate(c) for c in report.checks])
    assert gated["target-ecosystem-kill-timeout"].status is Status.FAIL
    assert gated["ecosystem-changes"].detail == (
        "the target at bbbbbbbbbb: PM2 settings: "
        "kill_timeout 10000 ms -> 1000 ms "
        "(zero-downtime handover)"
    )
