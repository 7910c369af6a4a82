"""Two deploys started together, full disks and wrong smoke credentials, on the 2-host sandbox
(real sshd, git, npm, PM2).

Each test leaves the fleet healthy on one release and every lock free; the module ends by
deploying a fresh `release`. The small filesystems are tmpfs mounts (root: CI runs as root),
always unmounted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from cookcam_ops.remote.fanout import Target, open_host, ssh_connector, targets_for
from tests.e2e.helpers import ROOT, Cli, change, cli_env, run_cli, served

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="tmpfs mounts: Linux only"),
]


def probed(sb: Sandbox) -> list[Target]:
    """The sandbox's targets as the tool finds them on connecting (its state directory and
    the app's place in the repository included)."""
    env = sb.config.environment("sandbox")
    connector = ssh_connector(sb.config, env)
    found = []
    for t in targets_for(sb.config, env):
        transport, target = open_host(connector, t)
        transport.close()
        found.append(target)
    return found


def held_locks(hosts: list[Target]) -> list[str]:
    return [t.label for t in hosts if Path(t.lock_dir).exists()]


def deploy(config: Path) -> Cli:
    return run_cli(config, "deploy", "sandbox", "--yes", "--json")


@pytest.fixture(scope="module")
def fleet(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox, on its branch head before and after (a fresh `release`)."""
    done = deploy(sandbox.dir / "ops.yaml")
    assert done.code == 0, done.stderr[-2000:]
    yield sandbox
    sha = change(sandbox, "release")
    done = deploy(sandbox.dir / "ops.yaml")
    assert done.code == 0, done.stderr[-2000:]
    assert set(served(sandbox).values()) == {sha}
    assert held_locks(probed(sandbox)) == []


@pytest.fixture(scope="module")
def hosts(fleet: Sandbox) -> list[Target]:
    return probed(fleet)


# Lock, hold it 2 s, switch the checkout, record: no build and no reload, so each trial has
# work to do and its winner holds the lock far longer than the two processes' start-up skew
# (a nothing-to-do deploy, one SSH session per host, can end before the other one starts).
RACE_PLAYBOOK = {
    "description": "test: a deploy that holds its lock for a while",
    "steps": [
        {"name": "lock", "builtin": "lock"},
        {"name": "hold", "run": "sleep 2", "timeout": 30},
        {
            "name": "switch",
            "switch": True,
            "timeout": 60,
            "run": "git checkout --quiet --force -B {branch} {to_sha}",
        },
        {"name": "record", "builtin": "record", "timeout": 30},
    ],
}


def race_config(sb: Sandbox) -> Path:
    """The sandbox's ops.yaml with the race playbook, beside it (its relative paths hold)."""
    playbook = sb.dir / "race-deploy.yaml"
    playbook.write_text(yaml.safe_dump(RACE_PLAYBOOK, sort_keys=False), encoding="utf-8")
    doc = yaml.safe_load((sb.dir / "ops.yaml").read_text(encoding="utf-8"))
    doc["playbooks"] = {**(doc.get("playbooks") or {}), "deploy": str(playbook)}
    config = sb.dir / "ops-race.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return config


def test_of_two_deploys_started_together_exactly_one_runs(
    fleet: Sandbox, hosts: list[Target]
) -> None:
    """Ten times: both start at once, one proceeds (0), the other stops naming it (5)."""
    (old,) = set(served(fleet).values())
    new = change(fleet, "release")
    env = cli_env(race_config(fleet))
    for trial in range(10):
        ref = new if trial % 2 == 0 else old  # ends on old: what the hosts' builds serve
        argv = [
            sys.executable,
            "-m",
            "cookcam_ops",
            "deploy",
            "sandbox",
            "--yes",
            "--json",
            "--ref",
            ref,
        ]
        procs = [
            subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            for _ in range(2)
        ]
        runs = [(p, *p.communicate(timeout=120)) for p in procs]
        codes = sorted(p.returncode for p, _, _ in runs)
        assert codes == [0, 5], f"trial {trial}: " + " | ".join(e[-600:] for _, _, e in runs)
        loser = next(err for p, _, err in runs if p.returncode == 5)
        assert "the deploy lock is held by" in loser and "stale" not in loser
        assert held_locks(hosts) == []
        winner = next(json.loads(out) for p, out, _ in runs if p.returncode == 0)
        assert winner["outcome"] == "deployed" and winner["target_sha"] == ref


@contextmanager
def small_fs(where: Path, size: str, *, fill: bool = False) -> Iterator[Path]:
    """A tmpfs of `size` mounted at where (hiding what is there), full if asked."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=755", "tmpfs", str(where)], check=True
    )
    try:
        if fill:
            with suppress(OSError), (where / "fill").open("wb") as f:
                while True:
                    f.write(b"x" * 65536)
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_wrong_smoke_credentials_stop_a_deploy_before_any_host_changes(
    fleet: Sandbox, hosts: list[Target]
) -> None:
    """The sign-in is tried before the switch: a healthy release is not switched in and rolled
    back because the smoke user's password is wrong."""
    before = served(fleet)
    change(fleet, "release")
    env = {**cli_env(fleet.dir / "ops.yaml"), "COOKCAM_SMOKE_PASSWORD": "not-the-password"}
    done = subprocess.run(
        [sys.executable, "-m", "cookcam_ops", "deploy", "sandbox", "--yes", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    doc = json.loads(done.stdout)
    failed = [c for c in doc["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == ["smoke-credentials"], failed
    assert "invalid_credentials" in failed[0]["detail"]
    assert "not-the-password" not in done.stdout + done.stderr
    ran = [s["name"] for h in doc["hosts"] for s in h["steps"] if s["status"] == "ok"]
    assert "switch" not in ran and "prepare" not in ran
    assert served(fleet) == before
    assert held_locks(hosts) == []


def test_a_full_disk_under_the_state_dir_is_named_and_leaves_no_lock(
    fleet: Sandbox, hosts: list[Target]
) -> None:
    before = served(fleet)
    second = sorted(hosts, key=lambda t: (t.host.hostname, t.host.ssh_port))[1]
    with small_fs(Path(second.ops_dir), "64k", fill=True) as ops:
        done = deploy(fleet.dir / "ops.yaml")
        assert done.code == 1, done.stderr[-2000:]
        assert (
            "cannot take the deploy lock: no space left on the disk mounted at "
            f"{second.ops_dir}" in done.stderr
        )
        assert "nothing was left behind" in done.stderr
        assert sorted(p.name for p in ops.iterdir()) == ["fill"]
    assert held_locks(hosts) == []
    assert served(fleet) == before


def push_lockfile_change(sb: Sandbox, t: Target) -> str:
    """A commit on the origin's branch that changes the app's package-lock.json (so npm ci
    runs)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        subprocess.run(["git", "clone", "-q", str(sb.layout.origin), tmp], check=True)
        lock = Path(tmp) / t.layout.lockfile
        lock.write_text(lock.read_text().replace('"version": "1.0.0"', '"version": "1.0.1"', 2))
        git = ["git", "-C", tmp, "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
        subprocess.run([*git, "commit", "-qam", "test: bump the lockfile's version"], check=True)
        subprocess.run([*git, "push", "-q", "origin", "HEAD:main"], check=True)
        return subprocess.run(
            [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()


def without_min_free(sb: Sandbox, tmp: Path) -> Path:
    """ops.yaml whose deploy playbook has no min_free_mb on npm-ci: npm runs into the disk."""
    book = yaml.safe_load((ROOT / "playbooks" / "deploy.yaml").read_text())
    for step in book["steps"]:
        step.pop("min_free_mb", None)
    (tmp / "deploy.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    doc = yaml.safe_load((sb.dir / "ops.yaml").read_text())
    doc["smoke"]["env_file"] = str(sb.dir / doc["smoke"]["env_file"])
    doc["playbooks"] = {"deploy": str(tmp / "deploy.yaml")}
    path = tmp / "ops.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_full_disk_under_the_build_dir_says_no_space(
    fleet: Sandbox, hosts: list[Target], tmp_path: Path
) -> None:
    """The state directory (and the build in it) on an 8 MB disk: the lock fits, npm ci not.

    With the shipped playbook the free-space check (min_free_mb) stops the build before its
    first step; without it, npm ci runs into the full disk (and may well exit 0), and its
    ENOSPC output fails the step.
    """
    before = served(fleet)
    first = hosts[0]  # the first batch: it fails before its switch, nothing changes
    push_lockfile_change(fleet, first)
    for config, step, said in (
        (fleet.dir / "ops.yaml", "prepare", "not enough disk space to start: "),
        (without_min_free(fleet, tmp_path), "npm-ci", "no space left on the disk "),
    ):
        with small_fs(Path(first.ops_dir), "8m") as ops:
            done = deploy(config)
            assert done.code == 1, done.stderr[-2000:]
            failed = [
                (s["name"], s["detail"])
                for h in done.doc["hosts"]
                for s in h["steps"]
                if s["status"] == "failed"
            ]
            assert failed and failed[0][0] == step, failed
            assert failed[0][1].startswith(said), failed
            assert f"disk mounted at {first.ops_dir}" in failed[0][1]
            assert not (ops / "lock").exists()
        assert held_locks(hosts) == []
        assert served(fleet) == before
