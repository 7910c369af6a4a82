"""The two plain ways to run a deploy's commands: one `ssh host '...'`, and ansible-playbook."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import yaml

from bench.commands import DeployCommands, one_line
from bench.proc import BenchError, Done, run
from bench.sandbox import Host, Sandbox


def ssh_argv(sb: Sandbox, host: Host) -> list[str]:
    """ssh with the sandbox's key and strict known_hosts, as a user would set it up."""
    return [
        "ssh",
        "-i",
        sb.identity_file,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={sb.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-p",
        str(host.ssh_port),
        f"{host.user}@127.0.0.1",
    ]


def plain_ssh(sb: Sandbox, host: Host, commands: DeployCommands, log: Path) -> Done:
    """Run every command in one ssh session, chained with &&."""
    return run([*ssh_argv(sb, host), one_line(commands)], log, timeout=900)


def _playbook(commands: DeployCommands) -> list[dict[str, object]]:
    tasks = [
        {"name": s.name, "ansible.builtin.shell": s.command, "args": {"chdir": commands.app_path}}
        for s in commands.steps
    ]
    return [{"name": "deploy", "hosts": "target", "gather_facts": False, "tasks": tasks}]


def _ansible_files(sb: Sandbox, host: Host, commands: DeployCommands, here: Path) -> dict[str, str]:
    """Write inventory, ansible.cfg and the playbook; the environment to run them with."""
    here.mkdir(parents=True, exist_ok=True)
    (here / "inventory.ini").write_text(
        f"[target]\n{host.name} ansible_host=127.0.0.1 ansible_port={host.ssh_port} "
        f"ansible_user={host.user} ansible_ssh_private_key_file={sb.identity_file} "
        "ansible_python_interpreter=/usr/bin/python3\n",
        encoding="utf-8",
    )
    # Ansible's recommended speed-ups, so it is at its best: pipelining and a persistent
    # master connection (fresh per run: each run pays its own SSH handshake, as ours does).
    (here / "ansible.cfg").write_text(
        "[defaults]\nhost_key_checking = True\nforks = 8\nremote_tmp = "
        f"{here}/remote-tmp\nlocal_tmp = {here}/local-tmp\n\n[ssh_connection]\n"
        "pipelining = True\n"
        f"ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o IdentitiesOnly=yes "
        f"-o UserKnownHostsFile={sb.known_hosts} -o StrictHostKeyChecking=yes\n"
        f"control_path_dir = {here}/cp\n",
        encoding="utf-8",
    )
    (here / "deploy.yml").write_text(
        yaml.safe_dump(_playbook(commands), sort_keys=False), encoding="utf-8"
    )
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(here / "ansible.cfg"),
        ANSIBLE_HOME=str(here / "home"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="default",
    )
    return env


def _stop_masters(sb: Sandbox, host: Host, control_dir: Path, log: Path) -> None:
    """End the ssh master connections this run started (by their sockets, nothing else)."""
    if not control_dir.is_dir():
        return
    for sock in control_dir.iterdir():
        with contextlib.suppress(BenchError):
            run(
                [*ssh_argv(sb, host)[:-1], "-S", str(sock), "-O", "exit", "127.0.0.1"],
                log,
                timeout=30,
                check=False,
                env=dict(os.environ),
            )


def ansible(
    binary: Path, sb: Sandbox, host: Host, commands: DeployCommands, here: Path, log: Path
) -> Done:
    """ansible-playbook running the same commands as one task each."""
    env = _ansible_files(sb, host, commands, here)
    try:
        return run(
            [str(binary), "-i", str(here / "inventory.ini"), str(here / "deploy.yml")],
            log,
            timeout=900,
            env=env,
        )
    finally:
        _stop_masters(sb, host, here / "cp", log)


def session_cost(sb: Sandbox, host: Host, here: Path, log: Path, samples: int = 5) -> float:
    """Median seconds of one more SSH session (`true`) on an open connection to host.

    Every remote command of ours is a session; on this machine each pays for the login
    shell's start (root's ~/.bashrc runs for non-interactive ssh commands too).
    """
    import statistics

    sock = here / "session-cost.sock"
    base = ssh_argv(sb, host)
    master = [*base[:-1], "-o", "ControlMaster=yes", "-o", f"ControlPath={sock}", "-fN", base[-1]]
    run(master, log, timeout=30, env=dict(os.environ))
    try:
        mux = [*base[:-1], "-o", f"ControlPath={sock}", base[-1], "true"]
        return statistics.median(
            run(mux, log, timeout=30, env=dict(os.environ)).seconds for _ in range(samples)
        )
    finally:
        run(
            [*base[:-1], "-o", f"ControlPath={sock}", "-O", "exit", base[-1]],
            log,
            timeout=30,
            check=False,
            env=dict(os.environ),
        )
