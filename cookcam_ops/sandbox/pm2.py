"""PM2 for the sandbox: installed from npm under the sandbox dir, one daemon (PM2_HOME) per host.

Only our own daemons are touched: `pm2 kill` runs with the host's PM2_HOME, and the fallback
signals the pid in PM2_HOME/pm2.pid after checking that its command line names that home.
The pm2 CLI is never run against a home whose daemon is down, since any pm2 command would
start a new daemon there.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path

from cookcam_ops.errors import SandboxError
from cookcam_ops.sandbox.procs import (
    StopResult,
    children_of,
    owned_alive,
    pid_alive,
    read_pid_file,
    stop_pid,
    wait_until,
)

# PM2 7 is the newest major; it supports Node >= 18 and keeps PM2 5/6's signals and CLI.
PM2_SPEC = "pm2@7"
# sun_path is 108 bytes on Linux; PM2 puts rpc.sock and pub.sock in PM2_HOME.
SOCKET_PATH_MAX = 107
SHORT_ROOT_PREFIX = "cookcam-pm2-"


def install_pm2(tools: Path, log: Path) -> Path:
    """`npm install pm2` into tools (cache first, no audit/fund); returns the pm2 binary."""
    tools.mkdir(parents=True, exist_ok=True)
    argv = [
        "npm",
        "install",
        "--prefix",
        str(tools),
        PM2_SPEC,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        "--loglevel=error",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}[exit {done.returncode}]\n")
    pm2 = tools / "node_modules" / ".bin" / "pm2"
    if done.returncode != 0 or not pm2.exists():
        raise SandboxError(f"npm could not install {PM2_SPEC} into {tools}", hint=f"see {log}")
    return pm2


def socket_path_fits(pm2_home: Path) -> bool:
    """True when PM2's sockets under pm2_home fit in a unix socket path."""
    return len(os.fsencode(pm2_home / "rpc.sock")) <= SOCKET_PATH_MAX


def pm2_homes(homes: dict[str, Path]) -> tuple[dict[str, Path], Path | None]:
    """A PM2_HOME per host: the one given, or under a short /tmp dir if too deep for a socket.

    Returns the homes and the short root created for them (None when not needed).
    """
    names = list(homes)
    if all(socket_path_fits(h) for h in homes.values()):
        return homes, None
    root = Path(tempfile.mkdtemp(prefix=SHORT_ROOT_PREFIX, dir="/tmp"))
    homes = {n: root / n for n in names}
    if not all(socket_path_fits(h) for h in homes.values()):
        raise SandboxError(
            f"{root}: too long for PM2's unix sockets", hint="set TMPDIR to a short path"
        )
    return homes, root


def pm2_env(pm2_home: Path, path_dirs: list[Path]) -> dict[str, str]:
    """The environment a pm2 CLI call on this machine gets: the host's home and PATH."""
    env = dict(os.environ)
    env["PM2_HOME"] = str(pm2_home)
    env["PATH"] = ":".join(str(d) for d in path_dirs)
    return env


def daemon_pid(pm2_home: Path) -> int | None:
    """The pid of the PM2 daemon of pm2_home if it is alive and really that home's daemon."""
    pid = read_pid_file(pm2_home / "pm2.pid")
    return pid if owned_alive(pid, str(pm2_home)) else None


def kill_daemon(pm2: Path, pm2_home: Path, path_dirs: list[Path]) -> list[StopResult]:
    """Stop one host's PM2 daemon and its apps: `pm2 kill`, then by pid if anything is left."""
    pid = daemon_pid(pm2_home)
    if pid is None:
        return []
    workers = children_of(pid)
    results: list[StopResult] = []
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            [str(pm2), "kill"],
            env=pm2_env(pm2_home, path_dirs),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    if wait_until(lambda: not pid_alive(pid), 5.0, 0.05):
        results.append(StopResult(pid, "pm2 kill"))
    else:
        results.append(stop_pid(pid, str(pm2_home)))
    for worker in workers:
        # A worker's command line is PM2's container or node; it was the daemon's child a
        # moment ago, so its pid cannot have been recycled yet.
        if pid_alive(worker):
            results.append(stop_pid(worker, "", grace=3.0))
        else:
            results.append(StopResult(worker, "pm2 kill"))
    (pm2_home / "pm2.pid").unlink(missing_ok=True)
    return results
