"""Where a sandbox keeps its files, and state.json: pids, ports and paths, never a secret."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from cookcam_ops.errors import SandboxError

STATE_VERSION = 1
STATE_FILE = "state.json"


@dataclass(frozen=True)
class Layout:
    """The sandbox directory's fixed layout."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / STATE_FILE

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def client_key(self) -> Path:
        return self.keys / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.keys / "known_hosts"

    @property
    def authorized_keys(self) -> Path:
        return self.keys / "authorized_keys"

    @property
    def tools(self) -> Path:
        return self.root / "tools"

    @property
    def pm2_bin_dir(self) -> Path:
        return self.tools / "node_modules" / ".bin"

    @property
    def origin(self) -> Path:
        return self.root / "origin.git"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def auth_dir(self) -> Path:
        return self.root / "auth"

    @property
    def ops_yaml(self) -> Path:
        return self.root / "ops.yaml"

    @property
    def smoke_env(self) -> Path:
        return self.root / "smoke.env"

    @property
    def setup_log(self) -> Path:
        return self.root / "setup.log"

    @property
    def pm2_package(self) -> Path:
        return self.tools / "node_modules" / "pm2"

    def host_dir(self, name: str) -> Path:
        return self.root / "hosts" / name

    def host_key(self, name: str) -> Path:
        return self.keys / f"{name}_host_ed25519"


@dataclass(frozen=True)
class HostState:
    """One sandbox host: its sshd, its app and its PM2 daemon."""

    name: str
    ssh_port: int
    app_port: int
    app_path: str
    pm2_home: str
    sshd_config: str
    sshd_pid_file: str
    sshd_log: str
    setup_log: str
    sshd_pid: int | None = None
    checkout: str = ""  # the git checkout (app_path is its top, or inside it: seed shape)
    home: str = ""  # seed shape: the HOME every ssh session gets (nvm lives there)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"


@dataclass(frozen=True)
class AuthState:
    """The Supabase auth stub: where it listens and how it was started."""

    port: int
    config: str
    pid_file: str
    log: str
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class SandboxState:
    """state.json: everything `down`, `status` and `change` need, and no secret."""

    dir: str
    user: str
    hosts: tuple[HostState, ...]
    auth: AuthState
    node_bin_dir: str
    pm2_bin: str
    path_dirs: tuple[str, ...]
    sentry_project_id: str
    release: int = 1
    shape: str = "flat"  # seed: a monorepo, node from nvm off the PATH; flat: the older shape
    api_subdir: str = ""  # where the API lives in the origin ('' at its top)
    pm2_short_root: str | None = None
    created_at: str = ""
    up_seconds: float | None = None
    version: int = STATE_VERSION

    def with_release(self, release: int) -> SandboxState:
        return replace(self, release=release)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["auth"]["url"] = self.auth.url
        for host, h in zip(doc["hosts"], self.hosts, strict=True):
            host["base_url"] = h.base_url
        return doc


def state_from_dict(doc: dict[str, Any]) -> SandboxState:
    """Rebuild a SandboxState from state.json's document."""
    hosts = tuple(
        HostState(**{k: v for k, v in h.items() if k != "base_url"}) for h in doc["hosts"]
    )
    auth = AuthState(**{k: v for k, v in doc["auth"].items() if k != "url"})
    rest = {k: v for k, v in doc.items() if k not in ("hosts", "auth")}
    rest["path_dirs"] = tuple(rest["path_dirs"])
    return SandboxState(hosts=hosts, auth=auth, **rest)


def write_state(layout: Layout, state: SandboxState) -> None:
    """Write state.json atomically."""
    tmp = layout.state.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, layout.state)


def read_state(layout: Layout) -> SandboxState | None:
    """state.json, or None when the directory holds no sandbox."""
    if not layout.state.exists():
        return None
    try:
        return state_from_dict(json.loads(layout.state.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SandboxError(
            f"{layout.state}: unreadable sandbox state ({type(e).__name__})",
            hint="run `cookcam-ops sandbox down --purge` and bring it up again",
        ) from e


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 600 from the start, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
