"""What test_releases's module fixtures keep, so that its tests can run in any order: the
deploys over an older cookcam-ops's state (before the migration, which needs the in-place
layout), and each host as the migration left it (later tests deploy, prune and roll back)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.e2e.helpers import Cli, change, history, locks, run_cli, served

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox


@dataclass
class Adoption:
    """What deploys saw over an older cookcam-ops's state in APP.ops (inside the work tree),
    and the hosts right after: run before the migration, whatever order the tests run in."""

    sha: str  # the release deployed
    refused: Cli  # while the old state's lock was held
    done: Cli  # once it was gone
    served: dict[str, str]
    locks: list[str]
    legacy_left: list[str]  # hosts where APP.ops still exists
    history: dict[str, list[dict[str, Any]]]


@dataclass
class Migrated:
    """Each host as the migration left it: its history's actions, the commit it served, and a
    copy of its app directory (hard links, node_modules left out) for later tests to change."""

    root: Path
    served: dict[str, str]
    actions: dict[str, list[str]]

    def app(self, host: str) -> Path:
        return self.root / host

    def current(self, host: str) -> str:
        return os.readlink(self.app(host) / "current").rsplit("/", 1)[-1]

    def releases(self, host: str) -> list[str]:
        return sorted(p.name for p in (self.app(host) / "releases").iterdir())


LEGACY_RECORD = {
    "id": "old-run",
    "time": "2026-01-01T00:00:00Z",
    "action": "deploy",
    "user": "ops",
    "host": "x",
    "from_sha": None,
    "to_sha": "0" * 40,
    "outcome": "deployed",
    "duration_s": 1.0,
    "ref": "main",
}


def adopt_legacy_state(sb: Sandbox) -> Adoption:
    """State an older cookcam-ops kept in APP.ops, inside the monorepo's work tree (history on
    both hosts, a lock held on host2); a deploy while the lock is there, another once it is
    gone. On the in-place layout: before the migration."""
    for h in sb.state.hosts:
        legacy = Path(h.app_path + ".ops")
        legacy.mkdir()
        (legacy / "history.jsonl").write_text(json.dumps(LEGACY_RECORD) + "\n")
    lock = Path(sb.host("host2").app_path + ".ops/lock")
    lock.mkdir()
    (lock / "info.json").write_text(
        json.dumps(
            {"owner": "older-tool", "host": "box", "pid": 1, "command": "deploy", "time": "earlier"}
        )
    )
    sha = change(sb, "release")
    refused = run_cli(sb.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json")
    lock.joinpath("info.json").unlink(missing_ok=True)
    if lock.exists():
        lock.rmdir()
    done = run_cli(sb.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json")
    return Adoption(
        sha,
        refused,
        done,
        served(sb),
        locks(sb),
        [h.name for h in sb.state.hosts if Path(h.app_path + ".ops").exists()],
        {h.name: history(sb, h.name) for h in sb.state.hosts},
    )


def keep_migrated(sb: Sandbox, root: Path) -> Migrated:
    """A copy of each host's app directory as the migration left it, with hard links (prune
    deletes releases later), without node_modules (nothing reads it)."""
    for h in sb.state.hosts:
        shutil.copytree(
            h.app_path,
            root / h.name,
            symlinks=True,
            ignore=shutil.ignore_patterns("node_modules"),
            copy_function=os.link,
        )
    return Migrated(
        root,
        served(sb),
        {h.name: [r["action"] for r in history(sb, h.name)] for h in sb.state.hosts},
    )
