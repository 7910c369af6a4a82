"""Discovering how a running server runs the app, read only (`cookcam-ops init --from-host`).

Three round trips and one SFTP read:
1. where pm2 and node are: the SSH PATH, else the running PM2 daemon's own node (/proc/PID/exe),
   else nvm's newest, else /usr/local/bin (nvm loads only in interactive shells, so a plain
   `ssh host cmd` often finds neither);
2. PM2's apps with that PATH (`pm2 jlist`, whitelisted fields; never a daemon started where
   none runs);
3. for the app chosen: its git checkout (top, the app's directory in it, branch, remotes), its
   env and ecosystem files, and which health path answers on its port.
The port is read from the app's .env (over SFTP, into memory: only PORT is kept). Nothing on
the host is changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cookcam_ops.errors import UsageError
from cookcam_ops.pm2.procs import Pm2Process, parse_jlist
from cookcam_ops.remote import composite
from cookcam_ops.remote.protocol import Transport, q

DISCOVER_TIMEOUT_S = 60.0
DEFAULT_PORT = 3000
HEALTH_PATHS = ("/health", "/api/health", "/healthz", "/api/v1/health")
ECOSYSTEM_FILES = ("ecosystem.config.js", "ecosystem.config.cjs", "ecosystem.json")

# The first directory holding pm2 and node: the SSH PATH, the PM2 daemon's node, nvm, /usr/local.
_TOOLS_SH = r"""
found() { [ -x "$1/pm2" ] && [ -x "$1/node" ] || return 0
  printf 'bin=%s\nsource=%s\n' "$1" "$2"; exit 0; }
if command -v pm2 >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
  printf 'bin=\nsource=path\n'; exit 0; fi
P=$(head -c 20 "${PM2_HOME:-$HOME/.pm2}/pm2.pid" 2>/dev/null)
if [ -n "$P" ] && kill -0 "$P" 2>/dev/null; then
  e=$(readlink "/proc/$P/exe") && found "${e%/*}" pm2-daemon; fi
for d in $(ls -d "${NVM_DIR:-$HOME/.nvm}"/versions/node/*/bin 2>/dev/null | sort -rV); do
  found "$d" nvm; done
found /usr/local/bin /usr/local/bin
printf 'bin=\nsource=none\n'
""".strip()


@dataclass(frozen=True)
class AppPlace:
    """Where an app lives on the host and how it is served."""

    path: str
    top: str | None = None
    subdir: str = ""
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

    bin_dir: str | None
    tool_source: str
    app: Pm2Process
    instances: int
    place: AppPlace
    others: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"toolchain": {"dir": self.bin_dir, "found_by": self.tool_source},
                "pm2_app": {"name": self.app.name, "cwd": self.app.pm_cwd,
                            "exec_mode": self.app.exec_mode, "instances": self.instances},
                "checkout": {"top": self.place.top, "app_dir": self.place.subdir,
                             "branch": self.place.branch, "remote": self.place.remote,
                             "remote_url": self.place.remote_url},
                "env_file": self.place.env_file, "ecosystem": self.place.ecosystem,
                "port": self.place.port, "health_path": self.place.health_path,
                "other_pm2_apps": list(self.others)}


def _pairs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def with_path(bin_dir: str | None, command: str) -> str:
    """command with bin_dir first on PATH (nothing when the SSH PATH already has the tools)."""
    return f"PATH={q(bin_dir)}:\"$PATH\"; export PATH; {command}" if bin_dir else command


def safe_url(url: str | None) -> str | None:
    """A git remote's URL without any user:password it may carry (never written anywhere)."""
    if not url or "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def choose_app(procs: list[Pm2Process], wanted: str | None) -> tuple[list[Pm2Process], tuple[str,
                                                                                           ...]]:
    """The processes of the app to deploy, and the other apps' names."""
    names = list(dict.fromkeys(p.name for p in procs))
    if not names:
        raise UsageError("PM2 runs no app on the host",
                         hint="start the app once under PM2 (pm2 start ecosystem.config.js)")
    name = wanted or ("cookcam-api" if "cookcam-api" in names else names[0] if len(names) == 1
                      else None)
    if name is None or name not in names:
        raise UsageError(f"PM2 runs {', '.join(names)}" + (f", not {wanted}" if wanted else
                                                             "; which one is the API?"),
                         hint="pass --app NAME")
    return [p for p in procs if p.name == name], tuple(n for n in names if n != name)


def _place_script(cwd: str, port_guess: int) -> str:
    git = (f"cd {q(cwd)} || exit 3; printf 'top=%s\\nprefix=%s\\nbranch=%s\\n' "
           "\"$(git rev-parse --show-toplevel 2>/dev/null)\" "
           "\"$(git rev-parse --show-prefix 2>/dev/null)\" "
           "\"$(git symbolic-ref -q --short HEAD 2>/dev/null)\"; "
           "r=$(git remote 2>/dev/null | head -n 1); printf 'remote=%s\\n' \"$r\"; "
           "[ -n \"$r\" ] && printf 'url=%s\\n' \"$(git remote get-url \"$r\")\"; "
           "for f in .env " + " ".join(ECOSYSTEM_FILES) + "; do "
           "[ -f \"$f\" ] && printf 'file=%s\\n' \"$f\"; done; exit 0")
    sections = [("git", git)] + [(f"health{i}", composite.health(
        f"http://127.0.0.1:{port_guess}{path}")) for i, path in enumerate(HEALTH_PATHS)]
    return composite.script(sections)


def _port_of(transport: Transport, cwd: str) -> int:
    """PORT from the app's .env, as Node's dotenv reads it (only that value is kept)."""
    from cookcam_ops.envfile.dotenv_parser import parse_dotenv

    data = transport.read_file(f"{cwd.rstrip('/')}/.env")
    port = parse_dotenv(data.decode("utf-8", "replace")).values.get("PORT") if data else None
    del data
    return int(port) if port and port.isdigit() and 0 < int(port) < 65536 else DEFAULT_PORT


def discover(transport: Transport, app_name: str | None = None) -> Discovery:
    """Everything init writes, from a connected host (read only)."""
    first = composite.parse(transport.run(composite.script([
        ("tools", _TOOLS_SH)]), timeout=DISCOVER_TIMEOUT_S).stdout)
    tools = _pairs(first["tools"].text) if "tools" in first else {}
    bin_dir = tools.get("bin") or None
    jlist = composite.parse(transport.run(composite.script([
        ("pm2", with_path(bin_dir, composite.pm2_jlist()))]), timeout=DISCOVER_TIMEOUT_S).stdout)
    procs, error = parse_jlist(composite.json_section(jlist, "pm2"))
    if error:
        raise UsageError(f"{transport.label}: {error}", hint="init reads the app from a running "
                         "PM2; start it there first")
    mine, others = choose_app(procs, app_name)
    cwd = mine[0].pm_cwd
    if not cwd:
        raise UsageError(f"{transport.label}: PM2 does not say where {mine[0].name} runs")
    port = _port_of(transport, cwd)
    out = composite.parse(transport.run(with_path(bin_dir, _place_script(cwd, port)),
                                        timeout=DISCOVER_TIMEOUT_S).stdout)
    return Discovery(bin_dir, tools.get("source", "none"), mine[0], len(mine),
                     _place(cwd, port, out), others)


def _place(cwd: str, port: int, sections: dict[str, composite.Section]) -> AppPlace:
    g = _pairs(sections["git"].text) if "git" in sections else {}
    files = [line.split("=", 1)[1] for line in (sections["git"].text.splitlines()
                                                if "git" in sections else [])
             if line.startswith("file=")]
    health = next((path for i, path in enumerate(HEALTH_PATHS)
                   if (composite.json_section(sections, f"health{i}") or {}).get("status")
                   == 200), None)
    return AppPlace(path=cwd.rstrip("/"), top=g.get("top") or None,
                    subdir=(g.get("prefix") or "").strip("/"), branch=g.get("branch") or None,
                    remote=g.get("remote") or None, remote_url=safe_url(g.get("url") or None),
                    env_file=".env" if ".env" in files else None,
                    ecosystem=next((f for f in files if f in ECOSYSTEM_FILES), None),
                    port=port, health_path=health)
