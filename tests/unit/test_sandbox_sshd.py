"""sshd_config rendering, known_hosts lines and the ssh client's argv for the sandbox."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cookcam_ops.errors import SandboxError
from cookcam_ops.sandbox.sshd import (
    SshClient,
    SshdSpec,
    check_config,
    known_hosts_line,
    render_sshd_config,
)


def spec(root: Path, **overrides: object) -> SshdSpec:
    values: dict[str, object] = dict(
        port=2222,
        host_key=root / "keys/host1_host_ed25519",
        pid_file=root / "hosts/h1/sshd.pid",
        authorized_keys=root / "keys/authorized_keys",
        user="deploy",
        pm2_home=root / "hosts/h1/pm2",
        path_dirs=(root / "tools/node_modules/.bin", Path("/usr/bin"), Path("/bin")),
    )
    values.update(overrides)
    return SshdSpec(**values)  # type: ignore[arg-type]


def directives(text: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in text.splitlines())


def test_config_has_every_directive() -> None:
    d = directives(render_sshd_config(spec(Path("/sb"))))
    assert d["ListenAddress"] == "127.0.0.1:2222"
    assert d["HostKey"] == "/sb/keys/host1_host_ed25519"
    assert d["PidFile"] == "/sb/hosts/h1/sshd.pid"
    assert d["AuthorizedKeysFile"] == "/sb/keys/authorized_keys"
    assert d["PasswordAuthentication"] == "no"
    assert d["KbdInteractiveAuthentication"] == "no"
    assert d["PubkeyAuthentication"] == "yes"
    assert d["UsePAM"] == "no"
    assert d["StrictModes"] == "no"
    assert d["PermitRootLogin"] == "prohibit-password"
    assert d["AllowUsers"] == "deploy"
    assert d["SetEnv"] == (
        "PM2_HOME=/sb/hosts/h1/pm2 PATH=/sb/tools/node_modules/.bin:/usr/bin:/bin"
    )


@pytest.mark.parametrize("bad", ["/tmp/with space", "/tmp/per%cent", '/tmp/q"uote', "/tmp/n\nl"])
def test_config_refuses_paths_sshd_would_misread(bad: str) -> None:
    with pytest.raises(SandboxError, match="only letters"):
        render_sshd_config(spec(Path(bad)))


@pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs OpenSSH's sshd")
def test_sshd_accepts_the_rendered_config(tmp_path: Path) -> None:
    key = tmp_path / "keys/host1_host_ed25519"
    key.parent.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (tmp_path / "keys/authorized_keys").write_text("")
    config = tmp_path / "sshd_config"
    config.write_text(render_sshd_config(spec(tmp_path)))
    done = check_config(Path("/usr/sbin/sshd"), config)
    assert done.returncode == 0, done.stderr


def test_known_hosts_line(tmp_path: Path) -> None:
    pub = tmp_path / "k.pub"
    pub.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB comment@host\n")
    assert known_hosts_line(2200, pub) == "[127.0.0.1]:2200 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB"


def test_client_argv_is_strict_and_ignores_user_config() -> None:
    argv = SshClient("deploy", Path("/sb/keys/id"), Path("/sb/keys/known_hosts")).argv(2200, "ls")
    assert argv[:3] == ["ssh", "-F", "/dev/null"]
    assert "StrictHostKeyChecking=yes" in argv and "BatchMode=yes" in argv
    assert "UserKnownHostsFile=/sb/keys/known_hosts" in argv
    assert argv[-2:] == ["deploy@127.0.0.1", "ls"]
    assert argv[argv.index("-p") + 1] == "2200"


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")
def test_client_argv_is_accepted_by_ssh() -> None:
    argv = SshClient("deploy", Path("/sb/id"), Path("/sb/kh")).argv(2200, "true")
    done = subprocess.run([argv[0], "-G", *argv[1:]], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "stricthostkeychecking true" in done.stdout


def test_missing_sshd_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from cookcam_ops.errors import MissingToolError
    from cookcam_ops.sandbox import sshd

    monkeypatch.setattr(sshd, "SSHD_CANDIDATES", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingToolError) as info:
        sshd.require_sshd()
    assert str(info.value) == (
        "sshd not found; install it with `apt-get install openssh-server`"
        " (root) or your OS's package"
    )


@pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs sshd first")
def test_missing_node_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cookcam_ops.errors import MissingToolError
    from cookcam_ops.sandbox.manager import check_tools

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ssh", "ssh-keygen", "git"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"needs {tool}")
        (bin_dir / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(MissingToolError, match=r"node not found; install Node\.js 18"):
        check_tools()
