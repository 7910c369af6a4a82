"""state.json round trips, PM2 homes that fit unix socket paths, and the status document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cookcam_ops.errors import SandboxError, UsageError
from cookcam_ops.sandbox import pm2
from cookcam_ops.sandbox.layout import (
    AuthState,
    HostState,
    Layout,
    SandboxState,
    read_state,
    write_state,
)
from cookcam_ops.sandbox.manager import load_sandbox, start_sandbox
from cookcam_ops.sandbox.status import HostStatus, SandboxStatus


def host(root: Path, n: int) -> HostState:
    d = root / "hosts" / f"host{n}"
    return HostState(
        name=f"host{n}",
        ssh_port=2200 + n,
        app_port=3000 + n,
        app_path=str(d / "app"),
        pm2_home=str(d / "pm2"),
        sshd_config=str(d / "sshd_config"),
        sshd_pid_file=str(d / "sshd.pid"),
        sshd_log=str(d / "sshd.log"),
        setup_log=str(d / "setup.log"),
    )


def state(root: Path) -> SandboxState:
    return SandboxState(
        dir=str(root),
        user="deploy",
        hosts=(host(root, 1), host(root, 2)),
        auth=AuthState(
            port=4000,
            config=str(root / "auth/config.json"),
            pid_file=str(root / "auth/auth.pid"),
            log=str(root / "auth/auth.log"),
            pid=42,
        ),
        node_bin_dir="/usr/bin",
        pm2_bin=str(root / "tools/pm2"),
        path_dirs=("/usr/bin", "/bin"),
        sentry_project_id="4512345",
    )


def test_state_round_trips(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert read_state(layout) is None
    original = state(tmp_path).with_release(3)
    write_state(layout, original)
    assert read_state(layout) == original
    doc = json.loads(layout.state.read_text())
    assert doc["auth"]["url"] == "http://127.0.0.1:4000"
    assert doc["hosts"][1]["base_url"] == "http://127.0.0.1:3002"


def test_unreadable_state_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(SandboxError, match="unreadable sandbox state"):
        read_state(Layout(tmp_path))


def test_load_sandbox_without_one(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="no sandbox here") as info:
        load_sandbox(tmp_path)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("count", [0, 17])
def test_host_count_is_checked_first(tmp_path: Path, count: int) -> None:
    with pytest.raises(UsageError, match="from 1 to 16"):
        start_sandbox(tmp_path / "sb", count)
    assert not (tmp_path / "sb").exists()


def test_foreign_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SandboxError, match="not a sandbox"):
        start_sandbox(tmp_path, 1)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_pm2_homes_stay_under_the_sandbox_when_short(tmp_path: Path) -> None:
    wanted = {n: tmp_path / "hosts" / n / "home/.pm2" for n in ("host1", "host2")}
    homes, short_root = pm2.pm2_homes(wanted)
    assert short_root is None
    assert homes == wanted


def test_pm2_homes_move_to_a_short_root_when_deep(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    homes, short_root = pm2.pm2_homes({"host1": deep / "hosts/host1/pm2"})
    try:
        assert short_root is not None and short_root.name.startswith("cookcam-pm2-")
        assert homes["host1"] == short_root / "host1"
        assert pm2.socket_path_fits(homes["host1"])
        assert not pm2.socket_path_fits(deep / "hosts/host1/pm2")
    finally:
        if short_root is not None:
            short_root.rmdir()


def test_status_document_shape() -> None:
    up = HostStatus(
        name="host1",
        ssh_port=1,
        app_port=2,
        base_url="http://127.0.0.1:2",
        app_path="/a",
        sshd_up=True,
        app_up=True,
        pm2_up=True,
        workers=2,
    )
    status = SandboxStatus(
        dir="/sb", hosts=(up,), auth_url="http://127.0.0.1:3", auth_up=True, origin="/sb/origin.git"
    )
    doc = status.to_dict()
    assert doc["ok"] is True
    assert set(doc) == {"ok", "hosts", "auth_url", "auth_up", "dir", "origin", "checks"}
    assert [(c["name"], c["status"]) for c in doc["checks"]] == [
        ("sshd", "pass"),
        ("pm2", "pass"),
        ("app", "pass"),
        ("auth-stub", "pass"),
    ]
    assert {
        "name",
        "ssh_port",
        "app_port",
        "base_url",
        "app_path",
        "sshd_up",
        "app_up",
        "pm2_up",
    } <= set(doc["hosts"][0])
    down = SandboxStatus(
        dir="/sb",
        hosts=(up,),
        auth_url="http://127.0.0.1:3",
        auth_up=False,
        origin="/sb/origin.git",
    )
    assert down.to_dict()["ok"] is False


def test_purge_deletes_a_sandbox_with_unreadable_state(tmp_path: Path) -> None:
    from cookcam_ops.sandbox.manager import stop_sandbox

    root = tmp_path / "sb"
    (root / "keys").mkdir(parents=True)
    (root / "origin.git").mkdir()
    (root / "state.json").write_text("{broken")
    with pytest.raises(SandboxError):
        stop_sandbox(root)
    report = stop_sandbox(root, purge=True)
    assert report.purged and not root.exists()


def test_down_twice_on_nothing_is_fine(tmp_path: Path) -> None:
    from cookcam_ops.sandbox.manager import stop_sandbox

    assert stop_sandbox(tmp_path / "never").stopped == ()
    assert stop_sandbox(tmp_path / "never", purge=True).purged is False
