"""The PM2 ecosystem file: read on the host by node, reduced to settings and env key NAMES.

The file is JavaScript, so only node can say what it means. The reader compiles the source it
gets on stdin as a module at the path the file has (or would have) in the app directory, so
`__dirname` and relative requires resolve as PM2 would resolve them, and prints only whitelisted
settings and the names of env keys, never a value. The same reader judges the served file
(hostside/ecosystem_served.sh) and the target commit's (`git show SHA:FILE`:
hostside/ecosystem_committed.sh): nothing is written to the host. The reader is
hostside/ecosystem_reader.js.

`Pm2Settings` is what PM2 does with a file, with PM2's own defaults and resolution (instances
`max`, exec_mode from instances, cwd and script made absolute), so a file and what `pm2 jlist`
says PM2 runs can be compared field by field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cookcam_ops.hostside import script
from cookcam_ops.pm2.procs import DEFAULT_KILL_TIMEOUT_MS, DEFAULT_LISTEN_TIMEOUT_MS
from cookcam_ops.remote.protocol import q, sh_program

if TYPE_CHECKING:
    from cookcam_ops.pm2.procs import Pm2Process
    from cookcam_ops.remote.fanout import Target

ECOSYSTEM_FILES = ("ecosystem.config.js", "ecosystem.config.cjs", "ecosystem.json")


@dataclass(frozen=True)
class EcosystemApp:
    """An app entry of the PM2 ecosystem file: settings and the NAMES of its env keys."""

    name: str | None
    exec_mode: str | None
    instances: int | str | None
    kill_timeout: int | None
    wait_ready: bool
    listen_timeout: int | None
    env_keys: dict[str, list[str]]  # "env", "env_production", ... -> key names
    cwd: str | None = None  # resolved as PM2 resolves it (default: the file's directory)
    script: str | None = None  # resolved against cwd


@dataclass(frozen=True)
class EcosystemRead:
    """What the reader said about one ecosystem file: its apps, or why it could not be read."""

    apps: tuple[EcosystemApp, ...] = ()
    error: str | None = None
    file: str | None = None
    sha: str | None = None
    cpus: int | None = None

    def app(self, name: str) -> EcosystemApp | None:
        return next((a for a in self.apps if a.name == name), None)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _app(raw: dict[str, Any]) -> EcosystemApp:
    keys = raw.get("env_keys") if isinstance(raw.get("env_keys"), dict) else {}
    inst = raw.get("instances")
    return EcosystemApp(
        name=_str(raw.get("name")),
        exec_mode=_str(raw.get("exec_mode")),
        instances=inst if isinstance(inst, int | str) and not isinstance(inst, bool) else None,
        kill_timeout=_int(raw.get("kill_timeout")),
        wait_ready=raw.get("wait_ready") is True,
        listen_timeout=_int(raw.get("listen_timeout")),
        env_keys={
            str(k): [str(n) for n in v] for k, v in (keys or {}).items() if isinstance(v, list)
        },
        cwd=_str(raw.get("cwd")),
        script=_str(raw.get("script")),
    )


def parse_ecosystem(doc: object) -> EcosystemRead:
    """The reader's JSON -> EcosystemRead (an error when there is no usable answer)."""
    if not isinstance(doc, dict):
        return EcosystemRead(error="could not read the ecosystem file with node")
    meta = {
        "file": _str(doc.get("file")),
        "sha": _str(doc.get("sha")),
        "cpus": _int(doc.get("cpus")),
    }
    if isinstance(doc.get("error"), str):
        return EcosystemRead(error=str(doc["error"])[:200], **meta)  # type: ignore[arg-type]
    apps = tuple(_app(raw) for raw in doc.get("apps") or [] if isinstance(raw, dict))
    return EcosystemRead(apps=apps, **meta)  # type: ignore[arg-type]


def served_command(code_dir: str) -> str:
    """Read the ecosystem file served from code_dir (the first of ECOSYSTEM_FILES there)."""
    return (
        f"{sh_program('ecosystem_served.sh')} "
        f"{q(script('ecosystem_reader.js'), code_dir, ' '.join(ECOSYSTEM_FILES))}"
    )


def committed_command(repo: str, spec: str, code_dir: str, candidates: tuple[str, ...]) -> str:
    """Read the ecosystem file of the first candidate that resolves to a commit, from git.

    repo: where git runs (`git -C REPO`: a work tree or a bare repository); spec: the app's
    directory in a commit (`backend/api/`, '' at the top, or `./` when git runs in the app's
    own directory of a work tree); the file is read as if it lay in code_dir.
    """
    return (
        f"{sh_program('ecosystem_committed.sh')} "
        f"{q(script('ecosystem_reader.js'), repo, spec, code_dir)} "
        f"{q(' '.join(ECOSYSTEM_FILES), *candidates)}"
    )


@dataclass(frozen=True)
class Pm2Settings:
    """How PM2 runs (or would run) the app: the settings `pm2 reload NAME` keeps as they were."""

    exec_mode: str  # cluster | fork
    instances: int
    kill_timeout: int
    wait_ready: bool
    listen_timeout: int
    script: str | None
    cwd: str | None


def _instances(value: int | str | None, cpus: int | None) -> int:
    """PM2's resolution: 'max' or 0 = one per CPU, -N = CPUs minus N, never below 1."""
    if value is None:
        return 1
    n = 0 if value == "max" else (_int(value) or 0)
    count = cpus or 1
    if n == 0:
        n = count
    elif n < 0:
        n += count
    return max(n, 1)


def _exec_mode(app: EcosystemApp) -> str:
    """PM2's default: cluster when instances is given (node apps), else fork."""
    if app.exec_mode:
        return app.exec_mode.removesuffix("_mode")
    return "fork" if app.instances is None else "cluster"


def from_file(app: EcosystemApp, cpus: int | None) -> Pm2Settings:
    """What PM2 would run from this app entry."""
    return Pm2Settings(
        exec_mode=_exec_mode(app),
        instances=_instances(app.instances, cpus),
        kill_timeout=app.kill_timeout or DEFAULT_KILL_TIMEOUT_MS,
        wait_ready=app.wait_ready,
        listen_timeout=app.listen_timeout or DEFAULT_LISTEN_TIMEOUT_MS,
        script=app.script,
        cwd=app.cwd,
    )


def wanted(read: EcosystemRead | None, app_name: str) -> Pm2Settings | None:
    """The settings a file asks for the app, or None when it cannot say."""
    app = read.app(app_name) if read is not None else None
    return from_file(app, read.cpus) if app is not None and read is not None else None


def from_processes(procs: list[Pm2Process]) -> Pm2Settings | None:
    """What PM2 runs: the worker count and the first worker's settings (None: nothing runs)."""
    if not procs:
        return None
    p = procs[0]
    return Pm2Settings(
        exec_mode=p.exec_mode,
        instances=len(procs),
        kill_timeout=p.kill_timeout_ms,
        wait_ready=p.wait_ready,
        listen_timeout=p.listen_timeout_ms,
        script=p.exec_path,
        cwd=p.pm_cwd,
    )


def target_command(t: Target, candidates: tuple[str, ...]) -> str:
    """Read the ecosystem file of the first candidate commit, as it will be served on t.

    Git runs in the repository the layout names (a work tree's top or the bare APP/repo); the
    file is the one in the app's own directory of the commit (layout.subdir in a monorepo), read
    as if it lay in the directory PM2 runs the app from (layout.code_path).
    """
    spec = f"{t.layout.subdir}/" if t.layout.subdir else ""
    return committed_command(t.repo_path, spec, t.code_path, candidates)
