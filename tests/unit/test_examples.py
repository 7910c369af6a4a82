"""The CI recipes in examples/: valid YAML of the shape each CI reads, and every cookcam-ops
command line in them is one the CLI accepts (parsed by the real command tree, not run)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from cookcam_ops.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
_VAR_RE = re.compile(r"\$\{\{[^}]*\}\}|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")
_REDIRECT_RE = re.compile(r"\s*(?:\d?>>?|<)\s*\S+")


def command_lines(script: str) -> list[str]:
    """The cookcam-ops invocations in a shell script (continuations joined, redirections,
    pipes and `&&`-chains cut)."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|\|\||\||;", line):
            words = part.strip()
            if words.startswith("cookcam-ops "):
                found.append(_REDIRECT_RE.sub("", words))
    return found


def accepts(argv: list[str]) -> None:
    """Parse argv through every level of the command tree: a UsageError when it is refused."""
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("cookcam-ops", list(argv))
    while isinstance(command, typer.core.TyperGroup):
        rest = [*ctx._protected_args, *ctx.args]
        name, command, args = command.resolve_command(ctx, rest)
        ctx = command.make_context(name, args, parent=ctx)


def shell_words(line: str) -> list[str]:
    return shlex.split(_VAR_RE.sub("X", line))


def github_scripts(doc: dict[str, Any]) -> list[str]:
    assert set(doc) >= {"name", "on", "jobs"}
    return [step["run"] for job in doc["jobs"].values() for step in job["steps"] if "run" in step]


def gitlab_scripts(doc: dict[str, Any]) -> list[str]:
    assert "stages" in doc
    jobs = [v for k, v in doc.items() if isinstance(v, dict) and "script" in v]
    assert {j["stage"] for j in jobs} <= set(doc["stages"])
    return [line for j in jobs for key in ("before_script", "script") for line in j.get(key, [])]


@pytest.mark.parametrize(
    ("name", "scripts"), [("github-actions.yml", github_scripts), ("gitlab-ci.yml", gitlab_scripts)]
)
def test_every_command_in_a_ci_recipe_is_accepted(name: str, scripts: Any) -> None:
    doc = yaml.load((ROOT / "examples" / name).read_text(), Loader=yaml.BaseLoader)
    lines = [c for script in scripts(doc) for c in command_lines(script)]
    commands = {shell_words(c)[1] for c in lines}
    assert {"env", "deploy", "smoke"} <= commands, lines
    for line in lines:
        accepts(shell_words(line)[1:])
    assert any("--junit" in c for c in lines if " smoke " in f" {c} ")


def test_a_refused_command_line_is_caught() -> None:
    from typer._click.exceptions import UsageError

    for bad in (
        ["deploy", "production", "--batch", "0"],
        ["deploy", "--no-such-flag"],
        ["smok", "production"],
        ["env", "validate"],
    ):
        with pytest.raises(UsageError):
            accepts(bad)
    accepts(["deploy", "production", "--ref", "abc", "--yes", "--json"])
