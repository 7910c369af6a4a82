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
    doc = json.loads(result.stdout)
    assert doc["error"]["exit_code"] == 2 and doc["error"]["kind"] == "config"
    assert "nope.env" in doc["error"]["message"] and doc["ok"] is False
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr


def test_bad_schema_exits_2(
    runner: CliRunner, write_env: Callable[..., Path], tmp_path: Path
) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text("variables: [\n")
    result = runner.invoke(app, ["env", "validate", str(write_env()), "--schema", str(schema)])
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr


def test_bad_flag_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["env", "validate", "--no-such-flag"])
    assert result.exit_code == 2


def test_junit_counts_and_failures(
    runner: CliRunner, write_env: Callable[..., Path], tmp_path: Path
) -> None:
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
    args = [
        "--config",
        str(ROOT / "ops.yaml.example"),
        "checklist",
        "production",
        "--local",
        "--env-file",
        str(write_env()),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stdout + result.stderr
    names = [c["name"] for c in json.loads(result.stdout)["checks"]]
    assert names == [
        "env-all-set",
        "jwt-secrets-length",
        "stripe-webhook-secret",
        "sentry-dsn-project",
        "env-schema",
    ]


def test_checklist_sentry_project_mismatch(
    runner: CliRunner, write_env: Callable[..., Path]
) -> None:
    env = write_env(SENTRY_DSN="https://abc@o1.ingest.sentry.io/999")
    args = [
        "--config",
        str(ROOT / "ops.yaml.example"),
        "checklist",
        "production",
        "--local",
        "--env-file",
        str(env),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    item = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "sentry-dsn-project")
    assert item["detail"] == (
        "SENTRY_DSN points to project 999, but ops.yaml says 4505000000000000 for production"
    )


def test_checklist_unknown_environment_exits_2(
    runner: CliRunner, write_env: Callable[..., Path]
) -> None:
    args = [
        "--config",
        str(ROOT / "ops.yaml.example"),
        "checklist",
        "prod",
        "--local",
        "--env-file",
        str(write_env()),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "unknown environment 'prod'" in result.stderr
    assert "known environments: production, staging" in result.stderr


def test_junit_holds_details_with_control_characters(tmp_path: Path) -> None:
    """Remote text (a tool's output, a log line) may carry ESC, NUL or a bell: the file must
    still parse, and the characters show as escapes."""
    from cookcam_ops.report import Check, Report, Status, write_junit

    report = Report(
        "t",
        [
            Check("build\x07", Status.FAIL, "npm ERR! \x1b[31mboom\x1b[0m\x00", "web\x01"),
            Check("warned", Status.WARN, "form\x0cfeed"),
        ],
    )
    path = tmp_path / "junit.xml"
    write_junit(report, "deploy\x1b", path)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "deploy\\x1b"
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == "npm ERR! \\x1b[31mboom\\x1b[0m\\x00"
    assert suite.findall("testcase")[0].get("classname") == "deploy\\x1b.web\\x01"


def test_tables_not_on_a_terminal_never_break_a_value(
    runner: CliRunner, write_env: Callable[..., Path]
) -> None:
    """Piped into a CI log (no terminal), a long detail stays on its row's one line."""
    env = write_env(
        JWT_SECRET="short",
        STRIPE_SECRET_KEY="x" * 10,
        NEW_VARIABLE_WITH_A_LONG_NAME_THAT_NOBODY_EXPECTS="1",
    )
    done = runner.invoke(app, ["env", "validate", str(env)], env={"COLUMNS": "60"})
    assert done.exit_code == 1
    rows = [line for line in done.stdout.splitlines() if "JWT_SECRET" in line]
    assert len(rows) == 1 and "32" in rows[0]  # the whole reason, on the row
    unknown = [line for line in done.stdout.splitlines() if "NEW_VARIABLE" in line]
    assert unknown and all("NOBODY_EXPECTS" in line for line in unknown)


def test_shell_completion_offers_the_environments_of_ops_yaml(runner: CliRunner) -> None:
    def complete(words: str) -> list[str]:
        done = runner.invoke(
            app,
            [],
            prog_name="cookcam-ops",
            env={
                "_COOKCAM_OPS_COMPLETE": "complete_bash",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
            },
        )
        assert done.exit_code == 0, done.output
        return done.output.split()

    config = f"cookcam-ops --config {ROOT / 'ops.yaml.example'}"
    assert complete(f"{config} deploy ") == ["production", "staging"]
    assert complete(f"{config} env check st") == ["staging"]
    assert complete("cookcam-ops --config /nonexistent/ops.yaml status ") == []
    assert "rollback" in complete("cookcam-ops roll")
    shown = runner.invoke(app, ["--show-completion", "bash"], prog_name="cookcam-ops")
    assert "_COOKCAM_OPS_COMPLETE=complete_bash" in shown.output


def test_init_writes_the_commented_example_that_loads(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "ops.yaml"
    done = runner.invoke(app, ["init", "--output", str(out), "--environment", "prod-eu", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["path"] == str(out)
    text = out.read_text()
    assert text.startswith("# ops.yaml") and "\n  prod-eu:\n" in text and "\n  staging:\n" in text
    from cookcam_ops.config import load_config

    assert set(load_config(out).config.environments) == {"prod-eu", "staging"}
    again = runner.invoke(app, ["init", "--output", str(out)])
    assert again.exit_code == 2 and "exists; not overwritten" in again.stderr
    assert runner.invoke(app, ["init", "--output", str(out), "--force"]).exit_code == 0


def test_a_missing_ops_yaml_points_at_init(runner: CliRunner, tmp_path: Path) -> None:
    done = runner.invoke(app, ["--config", str(tmp_path / "ops.yaml"), "status", "production"])
    assert done.exit_code == 2 and "`cookcam-ops init`" in done.stderr


def test_the_readme_table_lists_every_exit_code() -> None:
    """ExitCode is the CLI contract's list: the README's table and the JSON schemas agree."""
    import re

    from cookcam_ops.errors import ExitCode
    from cookcam_ops.json_schemas import EXIT_CODES

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("| exit code | meaning |", 1)[1].split("\n\n", 1)[0]
    listed = {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert listed == {int(code) for code in ExitCode}
    assert set(EXIT_CODES) == listed - {0}
