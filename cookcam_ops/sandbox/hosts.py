"""Setting up one sandbox host: sshd, a clone of origin, its .env, and the app under PM2.

npm and PM2 run through the host's own sshd with the generated key and strict host keys,
so a sandbox that comes up has proven its SSH path, the sshd-side PATH and PM2_HOME.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from cookcam_ops.errors import SandboxError
from cookcam_ops.sandbox.layout import HostState, Layout, write_private
from cookcam_ops.sandbox.procs import wait_until
from cookcam_ops.sandbox.seedhost import NVM_SOURCE
from cookcam_ops.sandbox.sshd import SshClient, SshdSpec, render_sshd_config, start_sshd

Progress = Callable[[str], None]
HEALTH_TIMEOUT_S = 90.0
GIT_NAME = "cookcam-ops sandbox"
GIT_EMAIL = "sandbox@cookcam-ops.invalid"
NPM_FLAGS = "--prefer-offline --no-audit --no-fund --no-update-notifier"


def git(args: list[str], cwd: Path | None = None, *, timeout: float = 120.0) -> str:
    """Run git with the sandbox's identity and no signing; stdout, or SandboxError."""
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME=GIT_NAME,
        GIT_AUTHOR_EMAIL=GIT_EMAIL,
        GIT_COMMITTER_NAME=GIT_NAME,
        GIT_COMMITTER_EMAIL=GIT_EMAIL,
        GIT_TERMINAL_PROMPT="0",
    )
    argv = ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args]
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise SandboxError(
            f"git {args[0]} failed in {cwd or '.'}: "
            f"{done.stderr.strip().splitlines()[-1:] or ['(no message)']}"
        )
    return done.stdout.strip()


def write_sshd_config(host: HostState, layout: Layout, user: str, path_dirs: list[Path]) -> None:
    """Write the host's sshd_config (PM2_HOME only where pm2's default $HOME/.pm2 is not it)."""
    home = Path(host.home) if host.home else None
    pm2_home = None if home and Path(host.pm2_home) == home / ".pm2" else Path(host.pm2_home)
    spec = SshdSpec(
        port=host.ssh_port,
        host_key=layout.host_key(host.name),
        pid_file=Path(host.sshd_pid_file),
        authorized_keys=layout.authorized_keys,
        user=user,
        pm2_home=pm2_home,
        path_dirs=tuple(path_dirs),
        home=home,
    )
    Path(host.sshd_config).write_text(render_sshd_config(spec), encoding="utf-8")


def launch_sshd(sshd: Path, host: HostState) -> int:
    """Start the host's sshd; its pid."""
    return start_sshd(
        sshd, Path(host.sshd_config), Path(host.sshd_log), host.ssh_port, name=host.name
    )


def _ssh_step(
    client: SshClient, host: HostState, what: str, command: str, timeout: float = 600.0
) -> None:
    log = Path(host.setup_log)
    try:
        done = client.run(host.ssh_port, command, timeout=timeout, log=log)
    except subprocess.TimeoutExpired as e:
        raise SandboxError(
            f"{host.name}: {what} timed out after {timeout:.0f}s", hint=f"see {log}"
        ) from e
    if done.returncode == 255:
        raise SandboxError(
            f"{host.name}: ssh to 127.0.0.1:{host.ssh_port} failed ({done.stderr.strip()[:200]})",
            hint=f"see {host.sshd_log}",
        )
    if done.returncode != 0:
        raise SandboxError(
            f"{host.name}: {what} failed (exit {done.returncode})", hint=f"see {log}"
        )


def deploy_host(
    host: HostState, layout: Layout, env_text: str, client: SshClient, progress: Progress
) -> None:
    """Clone origin, write .env (600), then over ssh as a human would (on a seed-shaped host
    sourcing nvm first): npm ci, build, pm2 start from the ecosystem file (and pm2 save)."""
    app = Path(host.app_path)
    git(["clone", "--quiet", "--branch", "main", str(layout.origin), host.checkout])
    write_private(app / ".env", env_text)
    cd = (NVM_SOURCE if host.home else "") + f"cd {shlex.quote(str(app))} && "
    progress(f"{host.name}: npm ci (over ssh 127.0.0.1:{host.ssh_port})")
    _ssh_step(client, host, "npm ci", cd + f"npm ci {NPM_FLAGS}")
    progress(f"{host.name}: npm run build")
    _ssh_step(client, host, "npm run build", cd + "npm run build")
    save = " && pm2 save" if host.home else ""
    progress(f"{host.name}: pm2 start ecosystem.config.js{save}")
    _ssh_step(client, host, "pm2 start", cd + f"pm2 start ecosystem.config.js{save}", timeout=120.0)


def health_ok(url: str, timeout: float = 2.0) -> bool:
    """True when GET url answers 200."""
    import httpx

    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(host: HostState, timeout: float = HEALTH_TIMEOUT_S) -> float:
    """Wait for the host's /health to answer 200; the seconds it took."""
    started = time.monotonic()
    if not wait_until(lambda: health_ok(host.base_url + "/health"), timeout, 0.2):
        raise SandboxError(
            f"{host.name}: {host.base_url}/health did not answer 200 within {timeout:.0f}s",
            hint=f"see `pm2 logs` on the host, or {host.pm2_home}/logs",
        )
    return time.monotonic() - started
