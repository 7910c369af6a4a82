"""The wheel carries the default playbooks, schema, ops.yaml.example, LICENSE, the host-side
programs and the reference API (without build output)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_carries_playbooks_and_api(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    wheel = next(tmp_path.glob("cookcam_ops-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for playbook in sorted(p.name for p in (ROOT / "playbooks").glob("*.yaml")):
        assert f"cookcam_ops/_playbooks/{playbook}" in names
    assert "cookcam_ops/_playbooks/ops.yaml.example" in names  # what `init` writes
    hostside = sorted(p.name for p in (ROOT / "cookcam_ops" / "hostside").glob("*.[js][sh]"))
    assert len(hostside) >= 14
    assert [n for n in hostside if f"cookcam_ops/hostside/{n}" not in names] == []
    license_file = next(n for n in names if n.endswith("licenses/LICENSE"))
    assert "MIT License" in zipfile.ZipFile(wheel).read(license_file).decode()
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA")))
    assert b"License-Expression: MIT" in metadata
    assert "cookcam_ops/sandbox/api/package-lock.json" in names
    assert "cookcam_ops/sandbox/api/src/index.ts" in names
    assert not [n for n in names if "node_modules" in n or "/api/dist/" in n]
    assert not [n for n in names if n.endswith("/.env")]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "cookcam-ops = cookcam_ops.cli.main:run" in text


def test_the_version_is_written_once_and_printed_by_version(runner: CliRunner) -> None:
    import cookcam_ops
    from cookcam_ops.cli.main import app

    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject
    assert cookcam_ops.__version__ == importlib.metadata.version("cookcam-ops")
    done = runner.invoke(app, ["--version"])
    assert done.exit_code == 0 and done.stdout == f"cookcam-ops {cookcam_ops.__version__}\n"
    assert f"## {cookcam_ops.__version__}" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
