"""Change kinds: the shipped API, bumped, with exactly the named defect and nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cookcam_ops.errors import SandboxError, UsageError
from cookcam_ops.pm2.ecosystem import parse_ecosystem, served_command, wanted
from cookcam_ops.sandbox import changes

SKIPPED = {"node_modules", "dist", ".env"}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root except .git and what the API tree never carries."""
    files: dict[str, bytes] = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIPPED | {".git"} or not path.is_file():
            continue
        files[rel.as_posix()] = path.read_bytes()
    return files


def changed_files(dest: Path) -> dict[str, tuple[str, str]]:
    """Files whose text differs from the shipped API: path -> (shipped, written)."""
    shipped, written = tree(changes.API_DIR), tree(dest)
    assert shipped.keys() == written.keys()
    return {
        rel: (shipped[rel].decode(), written[rel].decode())
        for rel in shipped
        if shipped[rel] != written[rel]
    }


def test_the_shipped_api_has_what_a_deploy_needs() -> None:
    for rel in ("package.json", "package-lock.json", "tsconfig.json", "ecosystem.config.js"):
        assert (changes.API_DIR / rel).is_file(), rel
    assert "export const RELEASE = 1;" in (changes.API_DIR / changes.RELEASE_FILE).read_text()


def test_release_is_only_a_version_bump(tmp_path: Path) -> None:
    message = changes.write_api_tree(tmp_path, "release", 7)

    diff = changed_files(tmp_path)
    assert list(diff) == ["src/release.ts"]
    assert "export const RELEASE = 7;" in diff["src/release.ts"][1]
    assert message == "release 1.0.7: version bump"


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        ("broken-build", "src/version.ts", "export const BUILD_LABEL: number = 'cookcam';"),
        ("broken-health", "src/routes/health.ts", "const HEALTH_STATUS_CODE: number = 503;"),
        (
            "crash-on-start",
            "src/config/env.schema.ts",
            "COOKCAM_FEATURE_FLAGS_URL: Joi.string().uri({ scheme: ['http', 'https'] })"
            ".required(),",
        ),
        ("late-crash", "src/index.ts", "}, 30000); // @cookcam-marker late-crash"),
        ("late-auth-failure", "src/services/supabase.ts", "if (process.uptime() > 30) {"),
    ],
)
def test_defect_kinds_add_their_one_change(
    tmp_path: Path, kind: str, path: str, expected: str
) -> None:
    message = changes.write_api_tree(tmp_path, kind, 3)

    diff = changed_files(tmp_path)
    assert sorted(diff) == sorted({"src/release.ts", path})
    shipped, written = diff[path]
    assert expected not in shipped
    assert expected in written
    assert len(written.splitlines()) - len(shipped.splitlines()) in (0, 1, 2)
    assert message.startswith("release 1.0.3: ")
    assert "\n" not in message


def test_sigterm_only_drops_the_sigint_handler(tmp_path: Path) -> None:
    changes.write_api_tree(tmp_path, "sigterm-only", 4)

    shipped, written = changed_files(tmp_path)["src/index.ts"]
    assert "process.on('SIGINT'" in shipped
    assert "process.on('SIGINT'" not in written
    assert "process.on('SIGTERM', () => shutdown('SIGTERM'));" in written


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(
    ("kind", "settings"),
    [
        ("release", ("cluster", 2, 10000)),
        ("ecosystem-scale", ("cluster", 3, 10000)),
        ("ecosystem-fork", ("fork", 1, 10000)),
        ("kill-timeout-short", ("cluster", 2, 1000)),
    ],
)
def test_ecosystem_kinds_change_only_what_pm2_reads(
    tmp_path: Path, kind: str, settings: tuple[str, int, int]
) -> None:
    """Read back by the tool's own ecosystem reader, as a deploy reads a target commit."""
    changes.write_api_tree(tmp_path, kind, 5)
    diff = changed_files(tmp_path)
    assert sorted(diff) == (
        ["ecosystem.config.js", "src/release.ts"] if kind != "release" else ["src/release.ts"]
    )
    done = subprocess.run(
        ["sh", "-c", served_command(str(tmp_path))], capture_output=True, text=True, check=True
    )
    got = wanted(parse_ecosystem(json.loads(done.stdout)), "cookcam-api")
    assert got is not None
    assert (got.exec_mode, got.instances, got.kill_timeout) == settings
    assert (got.wait_ready, got.listen_timeout, got.cwd) == (True, 10000, str(tmp_path))


def test_the_late_kinds_break_after_the_gates_right_after_a_switch(tmp_path: Path) -> None:
    """Both fail 30 s after a worker starts: past the build test, health and the smoke."""
    changes.write_api_tree(tmp_path, "late-crash", 5)
    crash = (tmp_path / "src" / "index.ts").read_text()
    ready = crash.index("process.send?.('ready');")
    assert ready < crash.index("setTimeout(() => {") < crash.index("throw new Error('late-crash")
    changes.write_api_tree(tmp_path, "late-auth-failure", 6)
    auth = (tmp_path / "src" / "services" / "supabase.ts").read_text()
    assert "setTimeout" not in (tmp_path / "src" / "index.ts").read_text()
    assert auth.index("process.uptime() > 30") < auth.index("supabase.auth.getUser(token)")
    assert changes.LATE_FAILURE_S == 30


def test_every_kind_is_covered() -> None:
    assert set(changes.KINDS) == set(changes.DEFECTS)


def test_unknown_kind_is_a_usage_error_and_leaves_dest_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("untouched")

    with pytest.raises(UsageError, match="unknown change kind 'broken-everything'"):
        changes.write_api_tree(tmp_path, "broken-everything", 2)

    assert (tmp_path / "keep.txt").read_text() == "untouched"


@pytest.mark.parametrize("release", [0, -1, True])
def test_release_must_be_a_positive_integer(tmp_path: Path, release: int) -> None:
    with pytest.raises(UsageError):
        changes.write_api_tree(tmp_path, "release", release)


def test_a_release_after_a_broken_kind_is_clean(tmp_path: Path) -> None:
    for release, kind in enumerate(changes.KINDS[1:], start=2):
        changes.write_api_tree(tmp_path, kind, release)

    changes.write_api_tree(tmp_path, "release", 9)

    assert list(changed_files(tmp_path)) == ["src/release.ts"]


def test_dest_is_replaced_except_git(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "stale.ts").write_text("old")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "removed.ts").write_text("old")

    changes.write_api_tree(tmp_path, "release", 2)

    assert (tmp_path / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (tmp_path / "stale.ts").exists()
    assert not (tmp_path / "src" / "removed.ts").exists()


@pytest.fixture
def api_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the shipped API that tests may damage."""
    copy = tmp_path / "shipped"
    shutil.copytree(changes.API_DIR, copy, ignore=shutil.ignore_patterns(*SKIPPED))
    monkeypatch.setattr(changes, "API_DIR", copy)
    return copy


def test_build_outputs_and_env_files_are_not_copied(api_copy: Path, tmp_path: Path) -> None:
    for rel in ("node_modules/express/index.js", "dist/index.js", "src/.env.local"):
        (api_copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (api_copy / rel).write_text("x")
    (api_copy / ".env").write_text("OPENAI_API_KEY=sk-secret\n")
    dest = tmp_path / "dest"

    changes.write_api_tree(dest, "release", 2)

    for rel in ("node_modules", "dist", ".env", "src/.env.local"):
        assert not (dest / rel).exists(), rel
    assert (dest / "src" / "index.ts").is_file()


@pytest.mark.parametrize(
    ("kind", "marker"),
    [
        ("broken-build", "type-error-slot"),
        ("broken-health", "health-status"),
        ("crash-on-start", "schema-required-keys"),
        ("sigterm-only", "sigint-handler"),
        ("late-crash", "late-crash"),
        ("late-auth-failure", "auth-check"),
    ],
)
def test_a_missing_marker_fails_loudly_before_writing(
    api_copy: Path, tmp_path: Path, kind: str, marker: str
) -> None:
    source = api_copy / changes.MARKERS[marker]
    source.write_text(source.read_text().replace(f"@cookcam-marker {marker}", "(gone)"))
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("untouched")

    with pytest.raises(SandboxError, match="exactly once, found it 0 times"):
        changes.write_api_tree(dest, kind, 2)

    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_a_duplicated_marker_fails_loudly(api_copy: Path, tmp_path: Path) -> None:
    source = api_copy / changes.MARKERS["type-error-slot"]
    source.write_text(source.read_text() + "// @cookcam-marker type-error-slot\n")

    with pytest.raises(SandboxError, match="found it 2 times"):
        changes.write_api_tree(tmp_path / "dest", "broken-build", 2)


def test_the_release_line_must_be_there(api_copy: Path, tmp_path: Path) -> None:
    (api_copy / changes.RELEASE_FILE).write_text("export const RELEASE = 'one';\n")

    with pytest.raises(SandboxError, match="RELEASE"):
        changes.write_api_tree(tmp_path / "dest", "release", 2)
