"""The sandbox service: bring up, stop, inspect and change a rehearsal target on loopback.

Real parts only: one OpenSSH sshd per host, a bare git origin, npm, PM2 from npm and the
reference API, plus the Supabase auth stub. Nothing here prints: progress goes to a callback.
"""

from __future__ import annotations

import getpass
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from cookcam_ops.common import parallel_map
from cookcam_ops.errors import MissingToolError, SandboxError, UsageError
from cookcam_ops.sandbox import files, hosts, pm2, procs, seedhost, sshd
from cookcam_ops.sandbox.layout import (
    AuthState,
    HostState,
    Layout,
    SandboxState,
    read_state,
    write_private,
    write_state,
)

Progress = Callable[[str], None]
MAX_HOSTS = 16
SHAPES = ("seed", "flat")
SEED_CHECKOUT = "var/www/cookcam"  # the seed's server: a monorepo checkout here,
SEED_API = "backend/api"  # and the API in this directory of it
STUB_TIMEOUT_S = 20.0
TOOL_HINTS = {
    "ssh-keygen": "install it with `apt-get install openssh-client` (root) or your OS's package",
    "ssh": "install it with `apt-get install openssh-client` (root) or your OS's package",
    "git": "install it with `apt-get install git` (root) or your OS's package",
    "node": "install Node.js 18 or later (e.g. `apt-get install nodejs npm`, or from nodejs.org)",
    "npm": "install npm (e.g. `apt-get install npm`), it ships with Node.js",
}


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Tools:
    """Absolute paths of the programs the sandbox runs."""

    sshd: Path
    node: Path
    npm: Path


def check_tools() -> Tools:
    """sshd, ssh, ssh-keygen, git, node and npm, or MissingToolError saying how to install."""
    sshd_path = sshd.require_sshd()
    found: dict[str, Path] = {}
    for tool, hint in TOOL_HINTS.items():
        path = shutil.which(tool)
        if path is None:
            raise MissingToolError(f"{tool} not found", hint=hint)
        found[tool] = Path(path)
    # The directory of the real node binary goes on the hosts' PATH (not a version shim).
    return Tools(sshd=sshd_path, node=found["node"].resolve(), npm=found["npm"])


def _host_states(
    layout: Layout, count: int, pm2_homes: dict[str, Path], ports: list[int], shape: str
) -> tuple[HostState, ...]:
    out = []
    for i in range(count):
        name = f"host{i + 1}"
        hdir = layout.host_dir(name)
        checkout = hdir / SEED_CHECKOUT if shape == "seed" else hdir / "app"
        app_path = checkout / SEED_API if shape == "seed" else checkout
        out.append(
            HostState(
                name=name,
                ssh_port=ports[2 * i],
                app_port=ports[2 * i + 1],
                app_path=str(app_path),
                pm2_home=str(pm2_homes[name]),
                sshd_config=str(hdir / "sshd_config"),
                sshd_pid_file=str(hdir / "sshd.pid"),
                sshd_log=str(hdir / "sshd.log"),
                setup_log=str(hdir / "setup.log"),
                checkout=str(checkout),
                home=str(hdir / "home") if shape == "seed" else "",
            )
        )
    return tuple(out)


def _default_pm2_home(layout: Layout, name: str, shape: str) -> Path:
    """seed: pm2's own default, $HOME/.pm2; flat: a directory beside the host's app."""
    return layout.host_dir(name) / ("home/.pm2" if shape == "seed" else "pm2")


def _plan(layout: Layout, count: int, tools: Tools, shape: str) -> SandboxState:
    """Pick ports and paths for a new sandbox (nothing started yet)."""
    ports = procs.pick_free_ports(2 * count + 1)
    names = [f"host{i + 1}" for i in range(count)]
    homes, short_root = pm2.pm2_homes({n: _default_pm2_home(layout, n, shape) for n in names})
    auth = AuthState(
        port=ports[-1],
        config=str(layout.auth_dir / "config.json"),
        pid_file=str(layout.auth_dir / "auth.pid"),
        log=str(layout.auth_dir / "auth.log"),
    )
    path_dirs = tuple(
        dict.fromkeys(
            [str(layout.pm2_bin_dir), str(tools.node.parent), "/usr/local/bin", "/usr/bin", "/bin"]
        )
    )
    return SandboxState(
        dir=str(layout.root),
        user=getpass.getuser(),
        hosts=_host_states(layout, count, homes, ports, shape),
        auth=auth,
        shape=shape,
        api_subdir=SEED_API if shape == "seed" else "",
        node_bin_dir=str(tools.node.parent),
        pm2_bin=str(layout.pm2_bin_dir / "pm2"),
        path_dirs=path_dirs,
        sentry_project_id=files.new_sentry_project_id(),
        pm2_short_root=str(short_root) if short_root else None,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _running_pids(state: SandboxState) -> list[int]:
    alive = []
    for h in state.hosts:
        if procs.owned_alive(h.sshd_pid, h.sshd_config):
            alive.append(h.sshd_pid or 0)
        pid = pm2.daemon_pid(Path(h.pm2_home))
        if pid:
            alive.append(pid)
    if procs.owned_alive(state.auth.pid, state.auth.config):
        alive.append(state.auth.pid or 0)
    return alive


def _prepare_dir(layout: Layout, progress: Progress) -> None:
    """Refuse a running sandbox or a foreign directory; clear a stopped sandbox's leftovers."""
    if layout.root.exists() and not layout.root.is_dir():
        raise SandboxError(
            f"{layout.root}: exists and is not a directory",
            hint="pass --dir with a new or empty directory",
        )
    state = read_state(layout)
    if state is not None:
        if _running_pids(state):
            raise SandboxError(
                f"{layout.root}: a sandbox is already running there",
                hint=f"see `cookcam-ops sandbox status --dir {layout.root}`, "
                f"or stop it with `cookcam-ops sandbox down --dir "
                f"{layout.root}`",
            )
        progress(f"removing the stopped sandbox in {layout.root}")
        stop_sandbox(layout.root, purge=True)
    elif layout.root.exists() and any(layout.root.iterdir()):
        raise SandboxError(
            f"{layout.root}: exists and is not a sandbox",
            hint="pass --dir with a new or empty directory",
        )
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.root.chmod(0o700)


def _make_keys(layout: Layout, state: SandboxState) -> None:
    layout.keys.mkdir(parents=True, exist_ok=True)
    sshd.keygen(layout.client_key, f"cookcam-ops-sandbox-client@{state.user}")
    pub = layout.client_key.with_name("id_ed25519.pub").read_text(encoding="utf-8")
    layout.authorized_keys.write_text(pub, encoding="utf-8")
    entries = []
    for h in state.hosts:
        key = layout.host_key(h.name)
        sshd.keygen(key, f"cookcam-ops-sandbox-{h.name}")
        entries.append(sshd.known_hosts_line(h.ssh_port, key.with_name(key.name + ".pub")))
    layout.known_hosts.write_text("\n".join(entries) + "\n", encoding="utf-8")


def _start_stub(state: SandboxState, sec: files.Secrets) -> SandboxState:
    auth = state.auth
    write_private(Path(auth.config), json.dumps(files.stub_config(sec)))
    argv = [
        sys.executable,
        "-m",
        "cookcam_ops.sandbox.auth_stub",
        "--config",
        auth.config,
        "--host",
        procs.LOOPBACK,
        "--port",
        str(auth.port),
        "--pid-file",
        auth.pid_file,
    ]
    pid = procs.spawn_detached(argv, Path(auth.log))
    state = replace(state, auth=replace(auth, pid=pid))
    if not procs.wait_until(
        lambda: hosts.health_ok(auth.url + "/auth/v1/health") or not procs.pid_alive(pid),
        STUB_TIMEOUT_S,
    ) or not procs.pid_alive(pid):
        raise SandboxError(f"auth stub did not answer on {auth.url}", hint=f"see {auth.log}")
    return state


def _seed_origin(layout: Layout, api_subdir: str) -> None:
    """The origin: the API at its top (flat), or a monorepo with the API under backend/api."""
    from cookcam_ops.sandbox.changes import write_api_tree, write_monorepo_root

    hosts.git(["init", "--quiet", "--bare", "--initial-branch=main", str(layout.origin)])
    hosts.git(["clone", "--quiet", str(layout.origin), str(layout.work)])
    hosts.git(["checkout", "--quiet", "-B", "main"], layout.work)
    if api_subdir:
        write_monorepo_root(layout.work)
    message = write_api_tree(layout.work / api_subdir, "release", 1)
    hosts.git(["add", "--all"], layout.work)
    hosts.git(["commit", "--quiet", "--allow-empty", "-m", message], layout.work)
    hosts.git(["push", "--quiet", "origin", "main"], layout.work)


def _start_sshds(state: SandboxState, layout: Layout, tools: Tools) -> SandboxState:
    started = []
    for h in state.hosts:
        Path(h.sshd_config).parent.mkdir(parents=True, exist_ok=True)
        Path(h.pm2_home).mkdir(parents=True, exist_ok=True)
        if h.home:  # seed: node from nvm in the host's HOME, a PATH without it
            hdir = Path(h.sshd_config).parent
            seedhost.make_home(
                Path(h.home), tools.node, seedhost.npm_package(tools.npm), layout.pm2_package
            )
            seedhost.link_system_bin(hdir / "bin")
            dirs = [hdir / "bin"]
        else:
            dirs = [Path(d) for d in state.path_dirs]
        hosts.write_sshd_config(h, layout, state.user, dirs)
        started.append(replace(h, sshd_pid=hosts.launch_sshd(tools.sshd, h)))
        # Record each pid as soon as it exists, so a failure later still stops it.
        state = replace(state, hosts=tuple(started) + state.hosts[len(started) :])
        write_state(layout, state)
    return state


def start_sandbox(
    directory: Path,
    host_count: int = 2,
    progress: Progress = _quiet,
    strategy: str = "in-place",
    shape: str = "seed",
) -> SandboxState:
    """Bring up a sandbox of host_count hosts in directory; its state (also in state.json).

    shape "seed" (the seed's servers): a monorepo checkout at <host>/var/www/cookcam with the API
    in backend/api, node/npm/pm2 from nvm in the host's HOME and not on the PATH of `ssh host
    cmd`, PM2 started from the ecosystem file and saved. "flat": the API at the top of a
    checkout at <host>/app, node on the ssh PATH.
    strategy "releases": the hosts come up in place, as the seed's servers are, and are then
    moved to the releases layout by `migrate-to-releases`; ops.yaml says `strategy: releases`.
    """
    if not 1 <= host_count <= MAX_HOSTS:
        raise UsageError(f"--hosts must be from 1 to {MAX_HOSTS} (got {host_count})")
    if strategy not in ("in-place", "releases"):
        raise UsageError(f"--strategy must be in-place or releases (got {strategy!r})")
    if shape not in SHAPES:
        raise UsageError(f"--layout must be {' or '.join(SHAPES)} (got {shape!r})")
    started = time.monotonic()
    tools = check_tools()
    layout = Layout(directory.resolve())
    sshd.check_safe_path(layout.root)
    _prepare_dir(layout, progress)
    state = _plan(layout, host_count, tools, shape)
    write_state(layout, state)
    try:
        state = _bring_up(layout, state, tools, progress)
        if strategy == "releases":
            _to_releases(layout, state, progress)
    except BaseException:
        progress("bring-up failed: stopping what was started")
        stop_sandbox(layout.root)
        raise
    state = replace(state, up_seconds=round(time.monotonic() - started, 1))
    write_state(layout, state)
    return state


def _bring_up(
    layout: Layout, state: SandboxState, tools: Tools, progress: Progress
) -> SandboxState:
    sec = files.new_secrets()
    progress(f"generating ssh keys for {len(state.hosts)} hosts")
    _make_keys(layout, state)
    progress(f"starting the auth stub on {state.auth.url}")
    state = _start_stub(state, sec)
    write_state(layout, state)
    progress(f"installing {pm2.PM2_SPEC} into {layout.tools}")
    pm2.install_pm2(layout.tools, layout.setup_log)
    progress(
        "seeding the git origin with release 1"
        + (f" (a monorepo: the API in {state.api_subdir})" if state.api_subdir else "")
    )
    _seed_origin(layout, state.api_subdir)
    progress("starting sshd on " + ", ".join(f"127.0.0.1:{h.ssh_port}" for h in state.hosts))
    state = _start_sshds(state, layout, tools)
    env = files.app_env(0, state.auth.url, sec.anon_key, state.sentry_project_id)
    client = sshd.SshClient(state.user, layout.client_key, layout.known_hosts)
    parallel_map(
        state.hosts,
        lambda h: hosts.deploy_host(
            h, layout, files.env_text({**env, "PORT": str(h.app_port)}), client, progress
        ),
    )
    for h in state.hosts:
        hosts.wait_healthy(h)
        progress(f"{h.name}: {h.base_url}/health answers 200")
    write_private(layout.smoke_env, files.env_text(files.smoke_env(state.auth.url, sec)))
    doc = files.ops_yaml_doc(layout, state.user, state.hosts, state.sentry_project_id)
    layout.ops_yaml.write_text(files.ops_yaml_text(doc), encoding="utf-8")
    return state


def _to_releases(layout: Layout, state: SandboxState, progress: Progress) -> None:
    """Migrate every host with `migrate-to-releases`, then say `strategy: releases`."""
    from cookcam_ops.config import load_config
    from cookcam_ops.deploy.migrate import MigrateRequest, migrate_environment
    from cookcam_ops.deploy.observer import NullObserver
    from cookcam_ops.deploy.result import Outcome

    progress("moving the hosts to the releases layout (migrate-to-releases)")
    result = migrate_environment(
        load_config(layout.ops_yaml),
        MigrateRequest(files.ENV_NAME, command_line="sandbox up"),
        observer=NullObserver(),
    )
    if result.outcome != Outcome.MIGRATED:
        failed = [
            f"{h.name}: {s.name}: {s.detail}"
            for h in result.hosts
            for s in h.steps
            if s.status == "failed"
        ] + [f"{c.host}: {c.name}: {c.detail}" for c in result.checks if c.status == "fail"]
        raise SandboxError(f"migrate-to-releases failed ({'; '.join(failed)[:300]})")
    doc = files.ops_yaml_doc(
        layout, state.user, state.hosts, state.sentry_project_id, strategy="releases"
    )
    layout.ops_yaml.write_text(files.ops_yaml_text(doc), encoding="utf-8")


@dataclass(frozen=True)
class StoppedProcess:
    """One process `down` dealt with: what it was, its pid and how it ended."""

    what: str
    pid: int
    how: str


@dataclass(frozen=True)
class StopReport:
    """What `down` stopped (empty when nothing was running) and whether it purged the dir."""

    dir: str
    stopped: tuple[StoppedProcess, ...]
    purged: bool


def _stop_host(state: SandboxState, h: HostState) -> list[StoppedProcess]:
    out: list[StoppedProcess] = []
    home = Path(h.pm2_home)
    pm2_bin = Path(state.pm2_bin)
    dirs = [Path(d) for d in state.path_dirs]
    if pm2_bin.exists():
        results = pm2.kill_daemon(pm2_bin, home, dirs)
    else:
        pid = pm2.daemon_pid(home)
        results = [procs.stop_pid(pid, str(home))] if pid else []
    out += [StoppedProcess(f"{h.name} pm2", r.pid, r.how) for r in results]
    pid_file = Path(h.sshd_pid_file)
    for pid in {p for p in (h.sshd_pid, procs.read_pid_file(pid_file)) if p}:
        r = procs.stop_pid(pid, h.sshd_config)
        if r.how != "gone":
            out.append(StoppedProcess(f"{h.name} sshd", r.pid, r.how))
    pid_file.unlink(missing_ok=True)
    return out


def _keep_pm2_logs(state: SandboxState, layout: Layout) -> None:
    """Before a short PM2 root in /tmp is removed, copy each host's PM2 logs into the sandbox."""
    root = state.pm2_short_root
    if not root or not Path(root).is_dir():
        return
    for h in state.hosts:
        logs = Path(h.pm2_home) / "logs"
        if logs.is_dir() and layout.root.is_dir():
            shutil.copytree(logs, layout.host_dir(h.name) / "pm2-logs", dirs_exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)


def stop_sandbox(
    directory: Path, *, purge: bool = False, progress: Progress = _quiet
) -> StopReport:
    """Stop every process the sandbox started (by pid), then optionally delete directory."""
    layout = Layout(directory.resolve())
    try:
        state = read_state(layout)
    except SandboxError:
        if not purge:
            raise
        progress(f"{layout.state} is unreadable: deleting without stopping anything")
        state = None
        layout.state.unlink()
    stopped: list[StoppedProcess] = []
    if state is not None:
        for h in state.hosts:
            progress(f"{h.name}: stopping PM2 and sshd")
            stopped += _stop_host(state, h)
        auth = state.auth
        for pid in {p for p in (auth.pid, procs.read_pid_file(Path(auth.pid_file))) if p}:
            r = procs.stop_pid(pid, auth.config)
            if r.how != "gone":
                stopped.append(StoppedProcess("auth stub", r.pid, r.how))
        Path(auth.pid_file).unlink(missing_ok=True)
        _keep_pm2_logs(state, layout)
        state = replace(
            state,
            hosts=tuple(replace(h, sshd_pid=None) for h in state.hosts),
            auth=replace(auth, pid=None),
        )
        if layout.root.is_dir() and not purge:
            write_state(layout, state)
    purged = False
    ours = state is not None or (layout.keys.is_dir() and layout.origin.is_dir())
    if purge and layout.root.is_dir() and (ours or not any(layout.root.iterdir())):
        progress(f"deleting {layout.root}")
        shutil.rmtree(layout.root)
        purged = True
    return StopReport(dir=str(layout.root), stopped=tuple(stopped), purged=purged)


def load_sandbox(directory: Path) -> SandboxState:
    """The state of the sandbox in directory, or SandboxError (exit 2) when there is none."""
    layout = Layout(directory.resolve())
    state = read_state(layout)
    if state is None:
        raise SandboxError(
            f"{layout.root}: no sandbox here",
            hint=f"bring one up with `cookcam-ops sandbox up --dir {directory}`",
        )
    return state
