"""Placeholders stand only where their quoted value is one safe shell word; refused at load."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cookcam_ops.deploy.playbook import PLACEHOLDER_RE, load_playbook, render
from cookcam_ops.deploy.shellwords import placeholder_problems
from cookcam_ops.errors import ConfigError

EVIL_TAG = "$(touch${IFS}/tmp/cookcam-ops-pwned)"  # a legal git tag name


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ('git checkout "{ref}"', "inside double quotes"),
        ("echo '{ref}'", "inside single quotes"),
        ('echo x"{ref}"', "inside double quotes"),
        ("echo \\{ref}", "after a backslash"),
        ("echo `echo {ref}`", "inside backticks"),
        ("echo ${X:-{ref}}", "inside ${...}"),
        ("echo $(( {port} + 1 ))", "inside $((...))"),
        ("cat <<EOF\n{ref}\nEOF", "in a heredoc body"),
        ("cat <<-'EOF'\n\t{ref}\n\tEOF\n", "in a heredoc body"),
        ("true # {ref}", "in a comment"),
        ('echo {ref}"x"', "joined to '\"'"),
        ("echo $HOME{ref}", "joined to '$'"),
        ('echo "a $(echo "{ref}")"', "inside double quotes"),
    ],
)
def test_refused(template: str, why: str) -> None:
    problems = placeholder_problems(template, PLACEHOLDER_RE)
    assert problems and why in problems[0][1], problems


@pytest.mark.parametrize(
    "template",
    [
        "git checkout {ref}",
        "mv {ops_path}/swap {ops_path}/prev",
        "git --git-dir={repo_path} log",
        "cd $(dirname {app_path})",
        'echo "$(basename {app_path})"',
        "( cd {app_path} && ls )",
        "cat <<EOF\nx\nEOF\necho {ref}",
        "echo {ref} # the ref",
        "for f in {shared_path}/*; do :; done",
        'x={release_path}; echo "$x/$name"',
        "echo {app_name}{port}",
        "printf '%s\\n' {to_sha}",
    ],
)
def test_accepted(template: str) -> None:
    assert placeholder_problems(template, PLACEHOLDER_RE) == []


@pytest.mark.parametrize(
    "template", ["git tag -l {ref}", 'x=$(echo {ref}); echo "$x"', "echo {ops_path}/{ref}"]
)
def test_an_accepted_template_runs_a_hostile_value_as_data(template: str, tmp_path: Path) -> None:
    marker = Path("/tmp/cookcam-ops-pwned")
    marker.unlink(missing_ok=True)
    command = render(template, {"ref": EVIL_TAG, "ops_path": str(tmp_path)})
    subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, check=False)
    assert not marker.exists()


def test_a_quoted_placeholder_is_refused_at_load_with_its_line(tmp_path: Path) -> None:
    book = tmp_path / "deploy.yaml"
    book.write_text(
        "steps:\n  - name: lock\n    builtin: lock\n  - name: switch\n"
        "    switch: true\n    run: |\n      set -e\n"
        '      git checkout --quiet "{ref}"\n'
    )
    with pytest.raises(ConfigError) as e:
        load_playbook(book)
    assert str(e.value).startswith(
        f"{book}:8: playbook: step 'switch' (run): {{ref}} is inside double quotes"
    )
