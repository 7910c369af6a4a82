"""deploy, rollback and unlock at the CLI: refused input exits 2 before any connection."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cookcam_ops.cli.main import app

OPS = {"environments": {"prod": {"hosts": ["deploy@127.0.0.1:1"]}}}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ops.yaml"
    path.write_text(yaml.safe_dump(OPS))

    def no_ssh(*args: object, **kwargs: object) -> object:
        raise AssertionError("no connection may be opened")

    monkeypatch.setattr("cookcam_ops.remote.fanout.ssh_connector", no_ssh)
    return path


@pytest.mark.parametrize("ref", ["main;touch /tmp/x", "$(reboot now)", "a..b", "-x"])
def test_an_invalid_ref_exits_2_before_connecting(
    runner: CliRunner, config: Path, ref: str
) -> None:
    done = runner.invoke(app, ["--config", str(config), "deploy", "prod", "--ref", ref, "--yes"])
    assert done.exit_code == 2, done.output
    assert "not a valid git ref name" in done.output


def test_rollback_to_an_invalid_ref_exits_2(runner: CliRunner, config: Path) -> None:
    done = runner.invoke(app, ["--config", str(config), "rollback", "prod", "--to", "x y", "--yes"])
    assert done.exit_code == 2 and "--to 'x y' is not a valid git ref name" in done.output


@pytest.mark.parametrize(
    ("args", "what"), [(["deploy", "prod"], "deploy"), (["rollback", "prod"], "roll back")]
)
def test_no_terminal_and_no_yes_is_refused(
    runner: CliRunner, config: Path, args: list[str], what: str
) -> None:
    done = runner.invoke(app, ["--config", str(config), *args])
    assert done.exit_code == 2
    assert f"refusing to {what} without --yes when not on a terminal" in done.output


def test_releases_strategy_refuses_an_absolute_env_file(
    runner: CliRunner, tmp_path: Path, config: Path
) -> None:
    doc = {
        "app": {"env_file": "/etc/cookcam.env"},
        "environments": {"prod": {"hosts": ["d@h"], "strategy": "releases"}},
    }
    config.write_text(yaml.safe_dump(doc))
    done = runner.invoke(app, ["--config", str(config), "deploy", "prod", "--yes"])
    assert done.exit_code == 2 and "is absolute" in done.output and "releases" in done.output


def test_a_bad_playbook_exits_2_naming_the_step(
    runner: CliRunner, tmp_path: Path, config: Path
) -> None:
    book = tmp_path / "deploy.yaml"
    book.write_text("steps:\n  - {name: lock, builtin: lock}\n  - {name: go, builtin: teleport}\n")
    config.write_text(yaml.safe_dump({**OPS, "playbooks": {"deploy": str(book)}}))
    done = runner.invoke(app, ["--config", str(config), "deploy", "prod", "--yes"])
    assert done.exit_code == 2
    assert "step 'go' (builtin)" in done.output


def test_help_names_the_exit_codes(runner: CliRunner) -> None:
    done = runner.invoke(app, ["deploy", "--help"])
    assert done.exit_code == 0
    for flag in (
        "--ref",
        "--dry-run",
        "--yes",
        "--batch",
        "--no-auto-rollback",
        "--json",
        "--accept-new-host-keys",
    ):
        assert flag in done.output
