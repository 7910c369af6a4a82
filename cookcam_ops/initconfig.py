"""What `cookcam-ops init` writes: the commented example, or an ops.yaml read from a server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cookcam_ops.errors import UsageError
from cookcam_ops.resources import example_config

if TYPE_CHECKING:
    from cookcam_ops.remote.discover import Discovery

_FIRST_ENV_RE = re.compile(r"^  production:$", re.M)


def example_text(environment: str) -> str:
    """ops.yaml.example, its first environment named `environment`."""
    text = example_config().read_text(encoding="utf-8")
    return _FIRST_ENV_RE.sub(f"  {environment}:", text, count=1)


def discover_ops_yaml(
    from_host: str,
    environment: str,
    *,
    identity_file: str | None,
    known_hosts: str | None,
    accept_new_host_keys: bool,
    base_dir: Path,
    app_name: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Connect to from_host (strict host keys), discover the app (read only) and return the
    ops.yaml text and what was found."""
    from cookcam_ops.config import EnvironmentConfig
    from cookcam_ops.remote.discover import discover
    from cookcam_ops.remote.ssh import connect

    ssh = {k: v for k, v in (("identity_file", identity_file), ("known_hosts", known_hosts)) if v}
    try:
        env = EnvironmentConfig.model_validate({"hosts": [from_host], "ssh": ssh})
    except ValidationError:
        raise UsageError(
            f"--from-host '{from_host}' is not USER@HOST[:PORT]",
            hint="e.g. deploy@web1.example.com or deploy@10.0.0.5:2222",
        ) from None
    transport = connect(
        env.hosts[0], env, accept_new_host_keys=accept_new_host_keys, base_dir=base_dir
    )
    try:
        found = discover(transport, app_name)
    finally:
        transport.close()
    return render(found, from_host, environment, ssh), found.to_dict()


def render(found: Discovery, from_host: str, environment: str, ssh: dict[str, str]) -> str:
    """The ops.yaml text: what was found, as keys, and how it was found, as comments."""
    import yaml

    w = found.where
    app: dict[str, Any] = {
        "name": found.app.name,
        "path": w.path,
        "remote": w.remote or "origin",
        "branch": w.branch or "main",
        "env_file": w.env_file or ".env",
        "health_path": w.health_path or "/health",
        "port": w.port,
    }
    doc = {
        "app": app,
        "environments": {environment: {"hosts": [from_host], **({"ssh": ssh} if ssh else {})}},
    }
    notes = [
        f"Written by `cookcam-ops init --from-host {from_host}`, read from the running "
        "server; every key is explained in ops.yaml.example.",
        f"PM2 runs {found.app.name} in {found.app.exec_mode} mode, {found.instances} "
        f"instance(s), from {w.path}.",
        f"node, npm and pm2: {found.toolchain.where} (found again at every connection; "
        "ssh.path pins it)."
        if found.toolchain.ok
        else f"node, npm or pm2 not found: {found.toolchain.explanation()}",
        f"git: the checkout is {w.place.top or '(none found)'}"
        + (f", the app is {w.place.subdir}/ in it" if w.place.subdir else "")
        + f"; branch {w.branch or '(detached HEAD)'}"
        + (f"; {w.remote or 'origin'} is {w.remote_url}." if w.remote_url else "."),
        (
            f"health: {w.health_path} answers 200 on port {w.port}."
            if w.health_path
            else f"health: no answer on port {w.port}; check app.health_path and app.port."
        ),
    ]
    if found.others:
        notes.append(f"PM2 also runs {', '.join(found.others)} (not deployed by this file).")
    header = "".join(f"# {line}\n" for line in notes)
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
