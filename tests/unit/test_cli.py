"""The CLI contract: exit codes, data on stdout, one-line errors on stderr, JSON/JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from cookcam_ops.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_commands(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("env", "checklist", "sandbox"):
        assert command in result.stdout


def test_env_validate_ok_json(runner: CliRunner, write_env: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["env", "validate", str(write_env()), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert {c["status"] for c in doc["checks"]} <= {"pass", "warn", "fail", "skip"}
    assert all(set(c) >= {"name", "status", "detail"} for c in doc["checks"])
    assert doc["file"].endswith(".env")


def test_env_validate_invalid_exits_1(runner: CliRunner, write_env: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["env", "validate", str(write_env(OPENAI_API_KEY=None))])
    assert result.exit_code == 1
    assert "OPENAI_API_KEY" in result.stdout
    assert "FAILED" in result.stdout


def test_missing_file_exits_2_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["env", "validate", str(tmp_path / "nope.env"), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr


def test_bad_schema_exits_2(runner: CliRunner, write_env: Callable[..., Path],
                            tmp_path: Path) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text("variables: [\n")
    result = runner.invoke(app, ["env", "validate", str(write_env()), "--schema", str(schema)])
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr


def test_bad_flag_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["env", "validate", "--no-such-flag"])
    assert result.exit_code == 2


def test_junit_counts_and_failures(runner: CliRunner, write_env: Callable[..., Path],
                                   tmp_path: Path) -> None:
    junit = tmp_path / "out.xml"
    env = write_env(JWT_SECRET="short", LOG_LEVEL=None)
    result = runner.invoke(app, ["env", "validate", str(env), "--junit", str(junit), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == len(doc["checks"]) == int(suite.get("tests", "-1"))
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["JWT_SECRET"] and suite.get("failures") == "1"


def test_checklist_local(runner: CliRunner, write_env: Callable[..., Path]) -> None:
    args = ["--config", str(ROOT / "ops.yaml.example"), "checklist", "production", "--local",
            "--env-file", str(write_env()), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stdout + result.stderr
    names = [c["name"] for c in json.loads(result.stdout)["checks"]]
    assert names == ["env-all-set", "jwt-secrets-length", "stripe-webhook-secret",
                     "sentry-dsn-project", "env-schema"]


def test_checklist_sentry_project_mismatch(runner: CliRunner,
                                           write_env: Callable[..., Path]) -> None:
    env = write_env(SENTRY_DSN="https://abc@o1.ingest.sentry.io/999")
    args = ["--config", str(ROOT / "ops.yaml.example"), "checklist", "production", "--local",
            "--env-file", str(env), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    item = next(c for c in json.loads(result.stdout)["checks"]
                if c["name"] == "sentry-dsn-project")
    assert item["detail"] == ("SENTRY_DSN points to project 999, but ops.yaml says "
                              "4505000000000000 for production")


def test_checklist_unknown_environment_exits_2(runner: CliRunner,
                                               write_env: Callable[..., Path]) -> None:
    args = ["--config", str(ROOT / "ops.yaml.example"), "checklist", "prod", "--local",
            "--env-file", str(write_env())]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "unknown environment 'prod'" in result.stderr
    assert "known environments: production, staging" in result.stderr
