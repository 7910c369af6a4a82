"""One JSON document on every exit: each command, each way it can end, valid against the JSON
Schema it ships (`cookcam-ops schema COMMAND`)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cookcam_ops.cli.main import app
from cookcam_ops.deploy.result import HostResult, Outcome, RunResult, StepResult, StepStatus
from cookcam_ops.errors import LockHeld
from cookcam_ops.json_schemas import COMMANDS, envelope, schema_for
from tests.documents import valid_document

# (command words, options it needs besides --json) for every command given an environment
ENV_COMMANDS = [
    (["status"], []),
    (["history"], []),
    (["logs"], []),
    (["checklist"], []),
    (["env", "check"], []),
    (["unlock"], ["--yes"]),
    (["deploy"], ["--yes"]),
    (["rollback"], ["--yes"]),
    (["migrate-to-releases"], ["--yes"]),
    (["drain"], ["--sockets", "0"]),
    (["watch"], ["--duration", "1"]),
]
IDS = [" ".join(words) for words, _ in ENV_COMMANDS]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ops(tmp_path: Path) -> Path:
    """Two hosts on loopback ports where nothing listens: every connection is refused."""
    doc = {
        "app": {"path": "/srv/api"},
        "environments": {
            "prod": {
                "hosts": [
                    {"ssh": f"deploy@127.0.0.1:{closed_port()}", "name": "web1"},
                    {"ssh": f"deploy@127.0.0.1:{closed_port()}", "name": "web2"},
                ],
                "ssh": {"known_hosts": str(tmp_path / "known_hosts"), "connect_timeout": 2},
            }
        },
    }
    path = tmp_path / "ops.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def argv(ops: Path, words: list[str], environment: str, opts: list[str]) -> list[str]:
    return ["--config", str(ops), *words, environment, *opts, "--json"]


def test_every_schema_is_a_valid_json_schema() -> None:
    import jsonschema

    for command in COMMANDS:
        jsonschema.Draft202012Validator.check_schema(schema_for(command))
    jsonschema.Draft202012Validator.check_schema(envelope())


def test_schema_prints_a_command_schema(runner: CliRunner) -> None:
    done = runner.invoke(app, ["schema", "env", "validate"])
    assert done.exit_code == 0
    assert '"const": "env validate"' in done.stdout
    bad = runner.invoke(app, ["schema", "nope"])
    assert bad.exit_code == 2 and "known: checklist" in bad.stderr


@pytest.mark.parametrize(("words", "opts"), ENV_COMMANDS, ids=IDS)
def test_an_unreachable_host_is_exit_3_naming_host_and_why(
    runner: CliRunner, ops: Path, words: list[str], opts: list[str]
) -> None:
    done = runner.invoke(app, argv(ops, words, "prod", opts))
    assert done.exit_code == 3, done.output
    doc = valid_document(done.stdout, " ".join(words))
    assert doc["ok"] is False
    assert {u["host"] for u in doc["unreachable"]} <= {"web1", "web2"} and doc["unreachable"]
    assert all("connect" in u["reason"] for u in doc["unreachable"])
    assert doc["answered"] == []
    assert done.stderr.strip()  # people get a line too


@pytest.mark.parametrize(("words", "opts"), ENV_COMMANDS, ids=IDS)
def test_an_unknown_environment_is_exit_2(
    runner: CliRunner, ops: Path, words: list[str], opts: list[str]
) -> None:
    done = runner.invoke(app, argv(ops, words, "staging", opts))
    assert done.exit_code == 2, done.output
    doc = valid_document(done.stdout, " ".join(words))
    assert doc["error"]["kind"] == "config"
    assert "unknown environment 'staging'" in doc["error"]["message"]
    assert doc["error"]["hint"] == "known environments: prod"
    assert doc["environment"] == "staging"


@pytest.mark.parametrize(
    "argv",
    [
        ["deploy", "--json"],  # missing argument
        ["deploy", "prod", "--batch", "0", "--json"],  # a value out of range
        ["status", "prod", "--bogus", "--json"],  # no such option
        ["env", "validate", "--json"],
        ["sandbox", "change", "--json", "--dir"],
    ],
)
def test_a_usage_error_is_exit_2_with_a_document(runner: CliRunner, argv: list[str]) -> None:
    done = runner.invoke(app, argv)
    assert done.exit_code == 2, done.output
    command = " ".join(w for w in argv[:2] if not w.startswith("-") and w != "prod")
    doc = valid_document(done.stdout, command)
    assert doc["error"]["kind"] == "usage" and doc["error"]["hint"].startswith("see `")
    assert "Error" in done.stderr  # Typer still shows its own message


def test_no_such_command_is_exit_2_with_a_document(runner: CliRunner) -> None:
    done = runner.invoke(app, ["deplo", "prod", "--json"])
    assert done.exit_code == 2
    doc = valid_document(done.stdout)
    assert doc["command"] == "" and "No such command 'deplo'" in doc["error"]["message"]
    root = runner.invoke(app, ["--bogus", "status", "prod", "--json"])
    assert root.exit_code == 2
    assert valid_document(root.stdout)["command"] == "status"


def test_without_json_stdout_stays_empty_on_errors(runner: CliRunner, ops: Path) -> None:
    done = runner.invoke(app, ["--config", str(ops), "status", "staging"])
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr.startswith("error: unknown environment 'staging'")


def patched(monkeypatch: pytest.MonkeyPatch, target: str, effect: Callable[..., Any]) -> None:
    monkeypatch.setattr(target, effect)


def raiser(error: BaseException) -> Callable[..., Any]:
    def raise_(*args: object, **kwargs: object) -> Any:
        raise error

    return raise_


@pytest.mark.parametrize(
    ("error", "code", "kind"),
    [
        (KeyboardInterrupt(), 130, "interrupted"),
        (RuntimeError("boom"), 70, "internal"),
        (
            LockHeld(
                "web1: the deploy lock is held by ana@box (pid 7) since then: deploy",
                host="web1",
                holder={
                    "owner": "ana",
                    "host": "box",
                    "pid": 7,
                    "command": "deploy",
                    "time": "then",
                },
            ),
            5,
            "locked",
        ),
    ],
)
def test_interrupts_bugs_and_locks_end_in_a_document(
    runner: CliRunner,
    ops: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    code: int,
    kind: str,
) -> None:
    patched(monkeypatch, "cookcam_ops.deploy.service.deploy_environment", raiser(error))
    done = runner.invoke(app, ["--config", str(ops), "deploy", "prod", "--yes", "--json"])
    assert done.exit_code == code, done.output
    doc = valid_document(done.stdout, "deploy")
    assert doc["error"]["kind"] == kind and doc["environment"] == "prod"
    if kind == "locked":
        assert doc["lock"]["holder"]["owner"] == "ana"
    assert "boom" not in done.stdout  # a bug's text (it may hold anything) is not echoed
    assert "Traceback" not in done.output


@pytest.mark.parametrize(
    ("outcome", "host_outcome", "code"),
    [
        ("deployed", "deployed", 0),
        ("rolled_back", "rolled_back", 1),
        ("rollback_failed", "rollback_failed", 4),
    ],
)
def test_run_results_are_documents(
    runner: CliRunner,
    ops: Path,
    monkeypatch: pytest.MonkeyPatch,
    outcome: str,
    host_outcome: str,
    code: int,
) -> None:
    steps = [StepResult("health", StepStatus.FAILED if code else StepStatus.OK, 1.0, "HTTP 503")]
    result = RunResult(
        "deploy",
        "prod",
        Outcome(outcome),
        "b" * 40,
        [HostResult("web1", "a" * 40, "b" * 40, Outcome(host_outcome), steps)],
    )
    patched(monkeypatch, "cookcam_ops.deploy.service.deploy_environment", lambda *a, **k: result)
    done = runner.invoke(app, ["--config", str(ops), "deploy", "prod", "--yes", "--json"])
    assert done.exit_code == code, done.output
    doc = valid_document(done.stdout, "deploy")
    assert doc["outcome"] == outcome and doc["ok"] is (code == 0)
