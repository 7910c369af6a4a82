"""status, checklist, env check, logs and history against the running sandbox (read-only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from typer.testing import CliRunner

from cookcam_ops.cli.main import app
from tests.documents import valid_document
from tests.e2e.helpers import assert_no_secrets

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e


def cli(runner: CliRunner, sandbox: Sandbox, *args: str) -> Any:
    return runner.invoke(app, ["--config", str(sandbox.dir / "ops.yaml"), *args])


def test_status_all_healthy_two_workers_per_host_no_env_leak(
    runner: CliRunner, sandbox: Sandbox
) -> None:
    result = cli(runner, sandbox, "status", "sandbox", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = valid_document(result.stdout)
    assert doc["ok"] is True
    assert [h["name"] for h in doc["hosts"]] == [h.name for h in sandbox.state.hosts]
    for host in doc["hosts"]:
        assert host["reachable"] and host["healthy"] and len(host["sha"]) == 40
        mine = [p for p in host["processes"] if p["name"] == "cookcam-api"]
        assert len(mine) == 2
        assert all(p["status"] == "online" and p["exec_mode"] == "cluster" for p in mine)
        assert host["saved"] is None or set(host["saved"]) == {"matches", "workers", "detail"}
        assert all(
            set(p)
            <= {
                "name",
                "pm_id",
                "pid",
                "status",
                "exec_mode",
                "instances",
                "restarts",
                "unstable_restarts",
                "uptime_s",
                "memory_bytes",
                "cpu",
                "pm_cwd",
                "cwd",
                "release",
            }
            for p in host["processes"]
        )
        # in place, each worker really runs in the checkout (the kernel's /proc/PID/cwd)
        assert all(p["cwd"] == p["pm_cwd"] and p["release"] is None for p in mine)
    assert_no_secrets(sandbox, result.stdout, result.stderr)
    table = cli(runner, sandbox, "status", "sandbox")
    assert table.exit_code == 0 and "healthy" in table.stdout
    assert_no_secrets(sandbox, table.stdout, table.stderr)


def test_checklist_passes_on_the_healthy_sandbox(
    runner: CliRunner, sandbox: Sandbox, tmp_path: Path
) -> None:
    junit = tmp_path / "checklist.xml"
    result = cli(runner, sandbox, "checklist", "sandbox", "--json", "--junit", str(junit))
    doc = valid_document(result.stdout)
    failed = [c for c in doc["checks"] if c["status"] == "fail"]
    assert result.exit_code == 0 and doc["ok"] is True, failed
    hosts = {h.name for h in sandbox.state.hosts}
    for name in (
        "env-all-set",
        "jwt-secrets-length",
        "stripe-webhook-secret",
        "sentry-dsn-project",
        "ecosystem-app",
        "ecosystem-cluster",
        "ecosystem-kill-timeout",
        "ecosystem-wait-ready",
        "ecosystem-no-inline-secrets",
        "target-ecosystem-app",
        "target-ecosystem-kill-timeout",
        "ecosystem-runtime",
        "ecosystem-changes",
        "pm2-startup",
        "pm2-saved",
        "git-clean",
        "git-branch",
        "target-ref",
        "node-version",
        "npm-version",
        "disk-free",
        "lock",
        "health",
        "kill-signal",
    ):
        assert {c["host"] for c in doc["checks"] if c["name"] == name} == hosts, name
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests", "0")) == len(doc["checks"])
    assert_no_secrets(sandbox, result.stdout, result.stderr, junit.read_text(encoding="utf-8"))


def test_env_check_reads_each_hosts_env_without_showing_it(
    runner: CliRunner, sandbox: Sandbox
) -> None:
    result = cli(runner, sandbox, "env", "check", "sandbox", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = valid_document(result.stdout)
    assert doc["ok"] is True
    assert {c["host"] for c in doc["checks"] if c["name"] == "JWT_SECRET"} == {
        h.name for h in sandbox.state.hosts
    }
    assert_no_secrets(sandbox, result.stdout, result.stderr)


def test_logs_are_prefixed_by_host(runner: CliRunner, sandbox: Sandbox) -> None:
    first = sandbox.state.hosts[0].name
    result = cli(runner, sandbox, "logs", "sandbox", "--lines", "5", "--host", first)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith(f"[{first}] ") for line in lines)
    assert any(".log last 5 lines:" in line for line in lines)  # pm2's per-file headers
    assert_no_secrets(sandbox, result.stdout, result.stderr)


def test_history_reads_every_hosts_audit_log(runner: CliRunner, sandbox: Sandbox) -> None:
    result = cli(runner, sandbox, "history", "sandbox", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = valid_document(result.stdout)
    assert doc["ok"] is True and isinstance(doc["records"], list)
    times = [r["time"] for r in doc["records"]]
    assert times == sorted(times, reverse=True)


def test_status_reaches_hosts_through_ssh_config_aliases(sandbox: Sandbox, tmp_path: Path) -> None:
    """Host, port, user and key from ~/.ssh/config alone, as the ssh command would use them."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "config").write_text(
        "".join(
            f"Host cookcam-{h.name}\n  HostName 127.0.0.1\n  Port {h.ssh_port}\n"
            f"  User {sandbox.state.user}\n  IdentityFile {sandbox.layout.client_key}\n"
            for h in sandbox.state.hosts
        )
    )
    doc = yaml.safe_load((sandbox.dir / "ops.yaml").read_text())
    env = doc["environments"]["sandbox"]
    for h in env["hosts"]:
        h["ssh"] = f"cookcam-{h['name']}"
    del env["ssh"]["identity_file"]
    config = tmp_path / "ops.yaml"
    config.write_text(yaml.safe_dump(doc))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookcam_ops",
            "--config",
            str(config),
            "status",
            "sandbox",
            "--json",
        ],
        env={**os.environ, "HOME": str(home), "SSH_AUTH_SOCK": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    hosts = json.loads(done.stdout)["hosts"]
    assert [h["reachable"] for h in hosts] == [True] * len(sandbox.state.hosts)


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["checklist"],
        ["env", "check"],
        ["history"],
        ["logs"],
        ["unlock", "--yes"],
        ["deploy", "--dry-run"],
        ["rollback", "--yes"],
    ],
    ids=" ".join,
)
def test_an_unknown_host_key_is_exit_3_on_every_command(
    runner: CliRunner, sandbox: Sandbox, tmp_path: Path, args: list[str]
) -> None:
    """host2's key is not in known_hosts: every command exits 3, its document names host2 and
    the key's fingerprint, and says that host1 answered."""
    first, second = sandbox.state.hosts[0], sandbox.state.hosts[1]
    known = tmp_path / "known_hosts"
    known.write_text(
        "".join(
            line + "\n"
            for line in sandbox.layout.known_hosts.read_text().splitlines()
            if not line.startswith(f"[127.0.0.1]:{second.ssh_port} ")
        )
    )
    doc = yaml.safe_load((sandbox.dir / "ops.yaml").read_text())
    doc["environments"]["sandbox"]["ssh"]["known_hosts"] = str(known)
    doc["smoke"]["env_file"] = str(sandbox.dir / doc["smoke"]["env_file"])
    config = tmp_path / "ops.yaml"
    config.write_text(yaml.safe_dump(doc))
    words = [a for a in args if not a.startswith("-")]
    opts = [a for a in args if a.startswith("-")]
    result = runner.invoke(app, ["--config", str(config), *words, "sandbox", *opts, "--json"])
    assert result.exit_code == 3, result.stdout + result.stderr
    out = valid_document(result.stdout, " ".join(words))
    (lost,) = out["unreachable"]
    assert lost["host"] == second.name
    assert "unknown host key" in lost["reason"] and "SHA256:" in lost["reason"]
    assert out["answered"] == [first.name]
    assert "unknown host key" in result.stderr
