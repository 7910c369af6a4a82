"""Discovering how a running server runs the app, read only (`cookcam-ops init --from-host`).

Built on the host probe every command runs (cookcam_ops.remote.probe), without its one side
effect (adopting a legacy state directory): init changes nothing on the host.
1. the probe's toolchain: where node, npm and pm2 are (the SSH PATH, the running PM2 daemon's
   node, nvm, ...);
2. PM2's apps, with that PATH (`pm2 jlist`, whitelisted fields; never a daemon started where
   none runs): the app to deploy and the directory it runs in;
3. the probe again at that directory: the git work tree's top and the app's directory in it;
   and beside it the branch, the remote, the env and ecosystem files, and which health path
   answers on the app's port (PORT from its .env, read over SFTP into memory: only PORT kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cookcam_ops.errors import UsageError
from cookcam_ops.layout import Place
from cookcam_ops.pm2.procs import Pm2Process, parse_jlist
from cookcam_ops.remote import composite
from cookcam_ops.remote.probe import (
    PROBE_TIMEOUT_S,
    Toolchain,
    choose_toolchain,
    parse_probe,
    probe_script,
)
from cookcam_ops.remote.protocol import Transport, q, with_path

DISCOVER_TIMEOUT_S = 60.0
DEFAULT_PORT = 3000
HEALTH_PATHS = ("/health", "/api/health", "/healthz", "/api/v1/health")
ECOSYSTEM_FILES = ("ecosystem.config.js", "ecosystem.config.cjs", "ecosystem.json")


@dataclass(frozen=True)
class AppPlace:
    """Where an app lives on the host and how it is served."""

    path: str
    place: Place
    branch: str | None = None
    remote: str | None = None
    remote_url: str | None = None
    env_file: str | None = None
    ecosystem: str | None = None
    port: int = DEFAULT_PORT
    health_path: str | None = None


@dataclass(frozen=True)
class Discovery:
    """What init found: the toolchain, the app PM2 runs, and its place."""

    toolchain: Toolchain
    app: Pm2Process
    instances: int
    where: AppPlace
    others: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        w = self.where
        return {
            "toolchain": {"dirs": list(self.toolchain.dirs), "where": self.toolchain.where},
            "pm2_app": {
                "name": self.app.name,
                "cwd": self.app.pm_cwd,
                "exec_mode": self.app.exec_mode,
                "instances": self.instances,
            },
            "checkout": {
                "top": w.place.top,
                "app_dir": w.place.subdir,
                "branch": w.branch,
                "remote": w.remote,
                "remote_url": w.remote_url,
            },
            "env_file": w.env_file,
            "ecosystem": w.ecosystem,
            "port": w.port,
            "health_path": w.health_path,
            "other_pm2_apps": list(self.others),
        }


def _pairs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def safe_url(url: str | None) -> str | None:
    """A git remote's URL without any user:password it may carry (never written anywhere)."""
    if not url or "://" not in url:
        return url
    parts = urlsplit(url)
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def choose_app(
    procs: list[Pm2Process], wanted: str | None
) -> tuple[list[Pm2Process], tuple[str, ...]]:
    """The processes of the app to deploy, and the other apps' names."""
    names = list(dict.fromkeys(p.name for p in procs))
    if not names:
        raise UsageError(
            "PM2 runs no app on the host",
            hint="start the app once under PM2 (pm2 start ecosystem.config.js)",
        )
    name = wanted or (
        "cookcam-api" if "cookcam-api" in names else names[0] if len(names) == 1 else None
    )
    if name is None or name not in names:
        raise UsageError(
            f"PM2 runs {', '.join(names)}"
            + (f", not {wanted}" if wanted else "; which one is the API?"),
            hint="pass --app NAME",
        )
    return [p for p in procs if p.name == name], tuple(n for n in names if n != name)


def _probe(transport: Transport, app_path: str) -> tuple[Toolchain, Place]:
    probe = parse_probe(
        transport.run(probe_script(app_path, (), adopt=False), timeout=PROBE_TIMEOUT_S).stdout
    )
    return choose_toolchain(probe, ()), probe.place


def _details_script(cwd: str, port: int) -> str:
    """Branch, remote, files, and which health path answers on the port (read only)."""
    git = (
        f"cd {q(cwd)} || exit 3; "
        "printf 'branch=%s\\n' \"$(git symbolic-ref -q --short HEAD 2>/dev/null)\"; "
        "r=$(git remote 2>/dev/null | head -n 1); printf 'remote=%s\\n' \"$r\"; "
        '[ -n "$r" ] && printf \'url=%s\\n\' "$(git remote get-url "$r")"; '
        f"for f in .env {' '.join(ECOSYSTEM_FILES)}; do "
        '[ -f "$f" ] && printf \'file=%s\\n\' "$f"; done; exit 0'
    )
    return composite.script(
        [("git", git)]
        + [
            (f"health{i}", composite.health(f"http://127.0.0.1:{port}{path}"))
            for i, path in enumerate(HEALTH_PATHS)
        ]
    )


def _port_of(transport: Transport, cwd: str) -> int:
    """PORT from the app's .env, as Node's dotenv reads it (only that value is kept)."""
    from cookcam_ops.envfile.dotenv_parser import parse_dotenv

    data = transport.read_file(f"{cwd.rstrip('/')}/.env")
    port = parse_dotenv(data.decode("utf-8", "replace")).values.get("PORT") if data else None
    del data
    return int(port) if port and port.isdigit() and 0 < int(port) < 65536 else DEFAULT_PORT


def discover(transport: Transport, app_name: str | None = None) -> Discovery:
    """Everything init writes, from a connected host (read only)."""
    tools, _ = _probe(transport, "/")
    runner = with_path(transport, tools.dirs)
    jlist = composite.parse(
        runner.run(
            composite.script([("pm2", composite.pm2_jlist())]), timeout=DISCOVER_TIMEOUT_S
        ).stdout
    )
    procs, error = parse_jlist(composite.json_section(jlist, "pm2"))
    if error:
        raise UsageError(
            f"{transport.label}: {error}" + ("" if tools.ok else f" ({tools.explanation()})"),
            hint="init reads the app from a running PM2; start it there first",
        )
    mine, others = choose_app(procs, app_name)
    cwd = (mine[0].pm_cwd or "").rstrip("/")
    if not cwd:
        raise UsageError(f"{transport.label}: PM2 does not say where {mine[0].name} runs")
    tools, place = _probe(transport, cwd)
    port = _port_of(transport, cwd)
    out = composite.parse(
        with_path(transport, tools.dirs)
        .run(_details_script(cwd, port), timeout=DISCOVER_TIMEOUT_S)
        .stdout
    )
    return Discovery(tools, mine[0], len(mine), _app_place(cwd, place, port, out), others)


def _app_place(
    cwd: str, place: Place, port: int, sections: dict[str, composite.Section]
) -> AppPlace:
    text = sections["git"].text if "git" in sections else ""
    g = _pairs(text)
    files = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("file=")]
    health = next(
        (
            path
            for i, path in enumerate(HEALTH_PATHS)
            if (composite.json_section(sections, f"health{i}") or {}).get("status") == 200
        ),
        None,
    )
    return AppPlace(
        path=cwd,
        place=place,
        branch=g.get("branch") or None,
        remote=g.get("remote") or None,
        remote_url=safe_url(g.get("url") or None),
        env_file=".env" if ".env" in files else None,
        ecosystem=next((f for f in files if f in ECOSYSTEM_FILES), None),
        port=port,
        health_path=health,
    )
