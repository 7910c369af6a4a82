"""The e2e sandbox: one 2-host sandbox (real sshd, git, npm, PM2) for the whole test session,
shaped like the seed's servers (a monorepo checkout, the API in backend/api, node from nvm and
not on the PATH of `ssh host cmd`).

Brought up through the service API in a short /tmp directory (PM2's unix sockets live under
it), and always taken down at the end — on failure, Ctrl-C or SIGTERM too. Set
COOKCAM_KEEP_SANDBOX=1 to keep its files (its processes are stopped either way).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import pytest

from cookcam_ops.config import LoadedConfig, load_config
from cookcam_ops.sandbox.layout import HostState, Layout, SandboxState, read_state
from cookcam_ops.sandbox.manager import start_sandbox, stop_sandbox
from cookcam_ops.sandbox.seedhost import NVM_SOURCE
from cookcam_ops.sandbox.sshd import SshClient

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"


@dataclass
class Sandbox:
    """A running sandbox: its directory, ops.yaml as loaded, its state, and ssh helpers."""

    dir: Path
    config: LoadedConfig
    state: SandboxState
    progress: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # short in tracebacks
        return f"Sandbox({self.dir})"

    @property
    def layout(self) -> Layout:
        return Layout(self.dir)

    @property
    def client(self) -> SshClient:
        return SshClient(self.state.user, self.layout.client_key, self.layout.known_hosts)

    def host(self, name: str) -> HostState:
        """The state of one host by name (host1, host2, ...)."""
        return next(h for h in self.state.hosts if h.name == name)

    def ssh(
        self, host: str, command: str, timeout: float = 300.0
    ) -> subprocess.CompletedProcess[str]:
        """Run command on a host through its sshd (stock ssh client, strict host keys), as a
        human does there: on a seed-shaped host node comes from nvm, sourced first."""
        h = self.host(host)
        return self.client.run(
            h.ssh_port, (NVM_SOURCE if h.home else "") + command, timeout=timeout
        )

    def ops_dir(self, host: str) -> Path:
        """Where the tool keeps a host's lock and audit log: beside the checkout, never in it."""
        h = self.host(host)
        return Path(h.checkout + ".ops")

    def refresh(self) -> SandboxState:
        """Re-read state.json (e.g. after `sandbox change` bumped the release)."""
        state = read_state(self.layout)
        assert state is not None
        self.state = state
        return state

    def pm2_apps(self, host: str) -> list[dict[str, object]]:
        """`pm2 jlist` on a host over ssh, reduced to fields without secrets (`pm2_env.env`
        holds the app's environment: never let it reach an assertion message)."""
        done = self.ssh(host, "pm2 jlist")
        assert done.returncode == 0, f"pm2 jlist failed on {host} (exit {done.returncode})"
        apps = json.loads(done.stdout.strip().splitlines()[-1])
        return [
            {
                "name": a["name"],
                "pid": a["pid"],
                "pm_id": a["pm_id"],
                "status": a["pm2_env"]["status"],
                "exec_mode": a["pm2_env"]["exec_mode"],
                "restart_time": a["pm2_env"]["restart_time"],
                "pm_cwd": a["pm2_env"].get("pm_cwd"),
            }
            for a in apps
        ]

    def reboot(self, host: str) -> None:
        """What a reboot does to a host's PM2, with the host's own pm2 (nvm's on a seed-shaped
        host, as a human there runs it) and PM2_HOME: the daemon and its apps stop (`pm2
        kill`: the daemon this sandbox started), then `pm2 resurrect`, as the boot unit runs
        it, starts what the last `pm2 save` wrote."""
        done = self.ssh(host, "pm2 kill >/dev/null && pm2 resurrect >/dev/null", timeout=120)
        assert done.returncode == 0, f"pm2 kill + resurrect failed on {host}: {done.stderr}"

    def smoke_env(self) -> dict[str, str]:
        """smoke.env's variables (the smoke user's credentials and the stub's URL and key)."""
        text = self.layout.smoke_env.read_text(encoding="utf-8")
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def secret_values(self) -> list[str]:
        """Every generated secret (each host's .env values and smoke.env's): for leak checks."""
        values = set()
        for h in self.state.hosts:
            for line in (Path(h.app_path) / ".env").read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("=")
                if key not in {
                    "NODE_ENV",
                    "PORT",
                    "SUPABASE_URL",
                    "SENTRY_ENVIRONMENT",
                    "LOG_LEVEL",
                }:
                    values.add(value)
        smoke = self.smoke_env()
        values |= {smoke["COOKCAM_SMOKE_PASSWORD"], smoke["SUPABASE_ANON_KEY"]}
        return sorted(v for v in values if v)


def _down(directory: Path) -> None:
    stop_sandbox(directory)
    if os.environ.get("COOKCAM_KEEP_SANDBOX") != "1":
        shutil.rmtree(directory, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Which tests found the fleet not as they need it and deployed first (`ready`)."""
    from tests.e2e.helpers import REMEDIED

    if REMEDIED:
        terminalreporter.write_line(
            f"e2e preconditions deployed a fresh release {len(REMEDIED)} time(s): "
            + ", ".join(REMEDIED)
        )


@pytest.fixture(scope="session", autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Run logs of the session's commands go to a temp state directory, not ~/.local/state."""
    home = tmp_path_factory.mktemp("state")
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(home)
    yield home
    if before is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = before


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """A 2-host seed-shaped sandbox for the session, always brought down at the end."""
    yield from sandbox_of(2, "cc-sb-")


def sandbox_of(hosts: int, prefix: str, shape: str = "seed") -> Iterator[Sandbox]:
    """Bring up a sandbox of its own (in place, shaped like the seed's servers unless shape is
    "flat"), always brought down."""
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    done = False

    def teardown() -> None:
        nonlocal done
        if not done:
            done = True
            _down(directory)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    atexit.register(teardown)
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, on_sigterm)
    progress: list[str] = []
    try:
        state = start_sandbox(directory, hosts, progress=progress.append, shape=shape)
        yield Sandbox(
            dir=directory,
            config=load_config(directory / "ops.yaml"),
            state=state,
            progress=progress,
        )
    finally:
        teardown()
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture(scope="module")
def fleet(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox for a module that deploys: left healthy on one `release` and no lock
    held when the module ends (`ready`: a fresh release deployed only when it is not so), so
    later modules find it so."""
    from tests.e2e.helpers import ready

    yield sandbox
    ready(sandbox)


@pytest.fixture(scope="module")
def inplace_sandbox() -> Iterator[Sandbox]:
    """A 2-host sandbox of a module's own, in place: for tests that change its layout."""
    yield from sandbox_of(2, "cc-rel-")
