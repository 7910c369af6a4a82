"""The sandbox the suite runs on: `cookcam-ops sandbox up` in a temp dir, always taken down.

`sandbox down` stops exactly the processes the sandbox started, by pid; it runs however the
suite ends (error, Ctrl-C or SIGTERM, which the runner turns into KeyboardInterrupt).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.proc import ops_argv, run


@dataclass(frozen=True)
class Host:
    """One sandbox host as ops.yaml names it."""

    name: str
    user: str
    ssh_port: int
    app_path: str
    port: int
    base_url: str


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: its directory, ops.yaml document and hosts."""

    dir: Path
    ops_yaml: Path
    doc: dict[str, Any]
    hosts: tuple[Host, ...]
    log: Path

    @property
    def identity_file(self) -> str:
        return str(self.doc["environments"]["sandbox"]["ssh"]["identity_file"])

    @property
    def known_hosts(self) -> str:
        return str(self.doc["environments"]["sandbox"]["ssh"]["known_hosts"])

    def change(self, kind: str = "release") -> str:
        """Push the next release of KIND to the origin; its SHA."""
        done = run(ops_argv("sandbox", "change", kind, "--dir", str(self.dir)), self.log)
        return done.stdout.strip()

    def write_config(
        self,
        name: str,
        environments: dict[str, dict[str, Any]],
        deploy_playbook: Path | None = None,
    ) -> Path:
        """An ops.yaml beside the sandbox's (so smoke.env resolves) with other environments."""
        doc = dict(self.doc)
        base = doc["environments"]["sandbox"]
        doc["environments"] = {env: {**base, **over} for env, over in environments.items()}
        if deploy_playbook is not None:
            doc["playbooks"] = {"deploy": str(deploy_playbook)}
        path = self.dir / name
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return path

    def hosts_doc(self, count: int) -> list[dict[str, Any]]:
        """The first count hosts' entries from ops.yaml."""
        return list(self.doc["environments"]["sandbox"]["hosts"][:count])


def _host(entry: dict[str, Any]) -> Host:
    user, _, addr = str(entry["ssh"]).partition("@")
    return Host(
        name=entry["name"],
        user=user,
        ssh_port=int(addr.rpartition(":")[2]),
        app_path=entry["app_path"],
        port=int(entry["port"]),
        base_url=entry["base_url"],
    )


@contextlib.contextmanager
def sandbox(workdir: Path, hosts: int) -> Iterator[Sandbox]:
    """Bring up a sandbox of `hosts` hosts under workdir; take it down on the way out."""
    directory = workdir / "sandbox"
    log = workdir / "sandbox.log"
    try:
        # The flat shape (node on the ssh PATH, the API at the checkout's top): the plain-ssh and
        # ansible runs replay the dry run's commands as they are, like earlier runs did.
        run(
            ops_argv(
                "sandbox", "up", "--dir", str(directory), "--hosts", str(hosts), "--layout", "flat"
            ),
            log,
            timeout=900,
        )
        yield attach(directory, log)
    finally:
        # A second Ctrl-C must not cut the teardown short.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            run(
                ops_argv("sandbox", "down", "--dir", str(directory), "--purge"),
                log,
                timeout=300,
                check=False,
            )
        finally:
            signal.signal(signal.SIGINT, previous)


def attach(directory: Path, log: Path) -> Sandbox:
    """A sandbox that is already running (for development: `--use-sandbox DIR`)."""
    ops_yaml = directory / "ops.yaml"
    doc = yaml.safe_load(ops_yaml.read_text(encoding="utf-8"))
    return Sandbox(
        directory,
        ops_yaml,
        doc,
        tuple(_host(h) for h in doc["environments"]["sandbox"]["hosts"]),
        log,
    )
