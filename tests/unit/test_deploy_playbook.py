"""Playbooks: the built-in ones load; a bad one is one ConfigError line naming file, line, step."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cookcam_ops.deploy.playbook import load_playbook, render
from cookcam_ops.errors import ConfigError
from cookcam_ops.resources import default_playbook


def test_builtin_playbooks_load() -> None:
    deploy = load_playbook(default_playbook("deploy.yaml"))
    names = [s.name for s in deploy.steps]
    assert names[:2] == ["lock", "checklist"]
    for step in (
        "prepare",
        "npm-ci",
        "build",
        "test-build",
        "switch",
        "reload",
        "health",
        "smoke",
        "record",
    ):
        assert step in names
    assert deploy.steps[deploy.switch_index].name == "switch"
    assert all(s.timeout > 0 for s in deploy.steps)
    back = load_playbook(default_playbook("rollback.yaml"))
    assert back.steps[back.switch_index].name == "switch"


def write(tmp_path: Path, steps: list[dict[str, object]], **top: object) -> Path:
    base = [{"name": "lock", "builtin": "lock"}]
    path = tmp_path / "book.yaml"
    path.write_text(yaml.safe_dump({**top, "steps": base + steps}, sort_keys=False))
    return path


SWITCH = {"name": "switch", "switch": True, "run": "true"}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            [{"name": "build", "builtin": "compile"}, SWITCH],
            "step 'build' (builtin): Input should be",
        ),
        (
            [{"name": "build", "run": "make {nope}"}, SWITCH],
            "step 'build' (run): unknown placeholder {nope}",
        ),
        (
            [{"name": "build", "run": "x", "builtin": "health"}, SWITCH],
            "step 'build': a step needs exactly one of",
        ),
        (
            [{"name": "build", "run": "x", "timeout": -1}, SWITCH],
            "step 'build' (timeout): Input should be greater than 0",
        ),
        (
            [{"name": "build", "run": "x", "colour": 1}, SWITCH],
            "step 'build' (colour): unknown key",
        ),
        ([{"name": "build", "run": "x"}], "exactly one step with `switch: true` (found 0)"),
        ([SWITCH, {**SWITCH, "name": "again"}], "step 'again': a playbook needs exactly one"),
        (
            [SWITCH, {"name": "switch", "run": "y"}],
            "step 'switch' (name): the name 'switch' is used twice",
        ),
        (
            [SWITCH, {"name": "c", "builtin": "checklist"}],
            "step 'c': `builtin: checklist` must come before",
        ),
        (
            [SWITCH, {"name": "h", "builtin": "health", "when": "needs_build"}],
            "step 'h' (when): steps after the switch cannot be conditional",
        ),
        ([{"name": "Bad Name", "run": "x"}, SWITCH], "step 'Bad Name' (name): a step name is"),
    ],
)
def test_bad_playbooks_name_the_step(
    tmp_path: Path, steps: list[dict[str, object]], expected: str
) -> None:
    path = write(tmp_path, steps)
    with pytest.raises(ConfigError) as e:
        load_playbook(path)
    message = str(e.value)
    assert expected in message
    assert message.startswith(f"{path}:")
    assert "\n" not in message


def test_lock_must_come_first(tmp_path: Path) -> None:
    path = tmp_path / "book.yaml"
    path.write_text(yaml.safe_dump({"steps": [SWITCH]}))
    with pytest.raises(
        ConfigError,
        match=r"book.yaml:2: playbook: step 'switch': the first step "
        "must be `builtin: lock`",
    ):
        load_playbook(path)


def test_the_error_line_is_the_steps_line(tmp_path: Path) -> None:
    path = tmp_path / "book.yaml"
    path.write_text(
        "steps:\n  - name: lock\n    builtin: lock\n  - name: build\n"
        "    run: make\n    timeout: soon\n  - {name: switch, switch: true, run: x}\n"
    )
    with pytest.raises(ConfigError, match=r"book.yaml:6: playbook: step 'build' \(timeout\)"):
        load_playbook(path)


def test_not_yaml_and_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_playbook(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_playbook(bad)


def test_render_quotes_every_value_and_leaves_shell_expansions() -> None:
    out = render(
        "cd {app_path} && echo ${HOME} {to_sha}",
        {"app_path": "/srv/my app; rm -rf /", "to_sha": "abc"},
    )
    assert out == "cd '/srv/my app; rm -rf /' && echo ${HOME} abc"


def test_every_step_kind_has_one_entry_in_the_registry() -> None:
    """The playbook's builtins plus `run:` plus the plan-only kinds are StepKind (a playbook
    cannot name a plan-only kind), and the engine's registry runs each."""
    from typing import get_args

    from cookcam_ops.deploy.playbook import PLAN_ONLY, Builtin, StepKind
    from cookcam_ops.deploy.steps import STEP_KINDS

    assert {*get_args(Builtin), "run"} | PLAN_ONLY == set(StepKind)
    assert not PLAN_ONLY & {*get_args(Builtin), "run"}
    assert set(STEP_KINDS) == set(StepKind)
