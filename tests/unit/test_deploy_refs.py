"""--ref and --to: git ref-name rules, SHAs, and injection strings refused before connecting."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from cookcam_ops.deploy.refs import ref_candidates, ref_problem, validate_ref
from cookcam_ops.errors import ExitCode, UsageError


@pytest.mark.parametrize(
    "ref",
    [
        "main",
        "release/1.2",
        "v1.0.0",
        "feature/x_y-z",
        "HEAD",
        "origin/main",
        "abc1234",
        "0" * 40,
        "a.b",
        "x@y",
    ],
)
def test_valid_refs_pass(ref: str) -> None:
    assert validate_ref(ref) == ref


@pytest.mark.parametrize(
    "ref",
    [
        "main;touch /tmp/x",
        "$(touch /tmp/x)",
        "a b",
        "-rf",
        "--upload-pack=x",
        "",
        "a..b",
        "a/.hidden",
        "a.lock",
        "a/b.lock/c",
        "/main",
        "main/",
        "a//b",
        "main.",
        "@",
        "a@{1}",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[1]",
        "a\\b",
        "a\nb",
        "a\tb",
        "a\x7f",
        "x" * 256,
    ],
)
def test_invalid_refs_are_usage_errors(ref: str) -> None:
    with pytest.raises(UsageError) as e:
        validate_ref(ref)
    assert e.value.exit_code == ExitCode.USAGE
    assert "not a valid git ref name" in str(e.value)


def test_the_problem_is_named() -> None:
    assert ref_problem("main;touch /tmp/x") is not None
    assert "' '" in (ref_problem("main;touch /tmp/x") or "")
    assert ref_problem("a..b") == "it contains '..'"
    assert ref_problem("main") is None


def test_candidates_prefer_the_remote_branch_then_tags() -> None:
    assert ref_candidates(None, "origin", "main") == ["refs/remotes/origin/main"]
    assert ref_candidates("v1", "origin", "main") == [
        "refs/remotes/origin/v1",
        "refs/tags/v1",
        "v1",
    ]
    assert ref_candidates("abcdef1", "origin", "main") == ["abcdef1"]


SAMPLES = [
    "main",
    "a..b",
    "a b",
    "`id`",
    "main;touch",
    "a'b",
    'a"b',
    "a$b",
    ".x",
    "x.",
    "a.lock",
    "a/.b",
    "a//b",
    "/a",
    "a/",
    "@",
    "a@{b",
    "a@b",
    "a~",
    "a^b",
    "a:b",
    "a?",
    "a*",
    "a[",
    "a\\b",
    "a\x01",
    "a\x7f",
    "ünïcode",
    "-x",
    "x-",
    "refs/heads/main",
    "a/b/c.lock/d",
    "release@v2",
    "A/.b",
    "a.lock/b",
    "a/b.",
    "@{",
    "a@{1}",
    "HEAD",
    "x/@",
    "a.b/c",
]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("ref", SAMPLES)
def test_agrees_with_git_check_ref_format(ref: str) -> None:
    """Our rules are git's (--allow-onelevel); we add only: no leading '-'."""
    done = subprocess.run(
        ["git", "check-ref-format", "--allow-onelevel", ref], capture_output=True, check=False
    )
    git_ok = done.returncode == 0 and not ref.startswith("-")
    assert (ref_problem(ref) is None) == git_ok


def test_accepted_odd_names_still_reach_the_shell_quoted() -> None:
    """git accepts `;` and backticks in ref names; they are only ever passed through q()."""
    from cookcam_ops.remote.protocol import q

    assert validate_ref("`id`;x") == "`id`;x"
    assert q("`id`;x") == "'`id`;x'"
