"""OpenSSH on loopback: keys, known_hosts, one sshd per sandbox host, and the ssh client calls.

Each host's sshd sets PATH (and HOME, or PM2_HOME) for every session with `SetEnv` (OpenSSH
applies it after its own defaults, so it wins): a plain client with only a key and a known_hosts
file gets the session a real server would give it — on a seed-shaped host, one whose PATH has
no node (see seedhost.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cookcam_ops.errors import MissingToolError, SandboxError
from cookcam_ops.sandbox.procs import LOOPBACK, pid_alive, spawn_detached, ssh_banner, tail
from cookcam_ops.sandbox.procs import wait_until as _wait_until

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")
# sshd_config and SetEnv take these paths unquoted; anything else is refused up front.
SAFE_PATH_RE = re.compile(r"^[A-Za-z0-9_./+@=,:-]+$")


@dataclass(frozen=True)
class SshdSpec:
    """What one host's sshd_config says."""

    port: int
    host_key: Path
    pid_file: Path
    authorized_keys: Path
    user: str
    pm2_home: Path | None  # None: pm2's default, $HOME/.pm2
    path_dirs: tuple[Path, ...]
    home: Path | None = None  # the HOME sessions get (None: the user's own)


def find_sshd() -> Path | None:
    """sshd's absolute path (sshd re-execs itself and insists on one), or None."""
    for candidate in SSHD_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    found = shutil.which("sshd")
    return Path(found).resolve() if found else None


def require_sshd() -> Path:
    """sshd's path, or MissingToolError saying how to install it."""
    sshd = find_sshd()
    if sshd is None:
        raise MissingToolError(
            "sshd not found",
            hint="install it with `apt-get install openssh-server` (root) or your OS's package",
        )
    return sshd


def check_safe_path(path: Path) -> None:
    """Refuse paths sshd_config could misread (spaces, quotes, '%' tokens)."""
    if not SAFE_PATH_RE.match(str(path)):
        raise SandboxError(
            f"{path}: the sandbox path must hold only letters, digits and ._/+@=,:-",
            hint="choose another --dir",
        )


def render_sshd_config(spec: SshdSpec) -> str:
    """The sshd_config text for one sandbox host (pure)."""
    optional = [p for p in (spec.pm2_home, spec.home) if p is not None]
    for p in (spec.host_key, spec.pid_file, spec.authorized_keys, *optional, *spec.path_dirs):
        check_safe_path(p)
    path = ":".join(str(d) for d in spec.path_dirs)
    env = (
        ([f"HOME={spec.home}"] if spec.home else [])
        + ([f"PM2_HOME={spec.pm2_home}"] if spec.pm2_home else [])
        + [f"PATH={path}"]
    )
    lines = [
        f"ListenAddress {LOOPBACK}:{spec.port}",
        f"HostKey {spec.host_key}",
        f"PidFile {spec.pid_file}",
        f"AuthorizedKeysFile {spec.authorized_keys}",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        f"AllowUsers {spec.user}",
        "PermitUserEnvironment no",
        "PrintMotd no",
        "PrintLastLog no",
        "UseDNS no",
        "X11Forwarding no",
        "Subsystem sftp internal-sftp",
        f"SetEnv {' '.join(env)}",
    ]
    return "\n".join(lines) + "\n"


def keygen(path: Path, comment: str) -> None:
    """A new passphrase-less ed25519 key pair at path and path.pub."""
    for p in (path, path.with_name(path.name + ".pub")):
        p.unlink(missing_ok=True)
    done = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        raise SandboxError(f"ssh-keygen could not write {path}: {done.stderr.strip()[:200]}")


def known_hosts_line(port: int, host_pub: Path) -> str:
    """A known_hosts entry for a host key served on 127.0.0.1:port."""
    kind, blob = host_pub.read_text(encoding="utf-8").split()[:2]
    return f"[{LOOPBACK}]:{port} {kind} {blob}"


def ensure_privsep_dir() -> None:
    """As root, sshd wants its privilege separation directory; create it when missing."""
    if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)


def check_config(sshd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """`sshd -t -f config`, after creating the privilege separation directory it checks for.

    A freshly installed, never started openssh-server has no /run/sshd (its service unit makes
    it), and `sshd -t` as root refuses to go on without it.
    """
    ensure_privsep_dir()
    return subprocess.run(
        [str(sshd), "-t", "-f", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def start_sshd(
    sshd: Path, config: Path, log: Path, port: int, *, name: str, timeout: float = 15.0
) -> int:
    """Check config, start `sshd -D` detached, wait for its banner; returns its pid."""
    check = check_config(sshd, config)
    if check.returncode != 0:
        raise SandboxError(f"{name}: sshd rejects {config}: {check.stderr.strip()[:300]}")
    pid = spawn_detached([str(sshd), "-D", "-f", str(config), "-E", str(log)], log)
    if not _wait_until(
        lambda: ssh_banner(port) or not pid_alive(pid), timeout, 0.05
    ) or not pid_alive(pid):
        raise SandboxError(
            f"{name}: sshd did not start on {LOOPBACK}:{port}", hint=f"{log}: {tail(log, 3)}"
        )
    return pid


@dataclass(frozen=True)
class SshClient:
    """How to reach sandbox hosts with the stock OpenSSH client: key, known_hosts, strict."""

    user: str
    identity_file: Path
    known_hosts: Path
    connect_timeout: int = 10

    def argv(self, port: int, command: str) -> list[str]:
        """ssh's argv to run command on 127.0.0.1:port (no ssh_config, no agent, batch mode)."""
        return [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            str(self.identity_file),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={self.connect_timeout}",
            "-o",
            "LogLevel=ERROR",
            "-p",
            str(port),
            f"{self.user}@{LOOPBACK}",
            command,
        ]

    def run(
        self, port: int, command: str, *, timeout: float = 300.0, log: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run command over ssh; with log, append the command and its output there."""
        done = subprocess.run(
            self.argv(port, command),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if log is not None:
            with log.open("a", encoding="utf-8") as fh:
                fh.write(f"$ {command}\n{done.stdout}{done.stderr}[exit {done.returncode}]\n")
        return done
