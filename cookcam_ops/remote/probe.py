"""The host probe: one round trip right after connecting, before any other command.

It finds two things every later command depends on:
- the toolchain: node, npm and pm2 are often not on the PATH of a non-interactive `ssh host cmd`
  (nvm, for one, loads from ~/.bashrc, which returns early for such shells). The probe lists
  where they are — the directories ops.yaml's `ssh.path` / host `path` names, else the PATH,
  the running PM2 daemon's node (/proc/PID/exe), nvm (preferring the version .nvmrc or
  package.json `engines` asks for), volta, asdf and /usr/local/bin — and `choose_toolchain`
  picks the directories to prepend to PATH for every later command on that host;
- the place: the git work tree app.path is in (its top and the app's directory inside it) and
  where the tool's state lives. State never stays inside a work tree: a legacy `<app_path>.ops`
  found inside one is moved to `<top>.ops` here (its one side effect; never while a lock is
  held there, so a run that holds it keeps its lock).

`probe_script` is the script, `parse_probe` reads its output: both testable without a host.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from cookcam_ops.layout import Place
from cookcam_ops.remote import composite
from cookcam_ops.remote.protocol import q, sh_program

TOOLS = ("node", "npm", "pm2")
PROBE_TIMEOUT_S = 30.0
PACKAGE_JSON_MAX = 65536
_VERSION_RE = re.compile(r"/versions/node/v(\d+)\.(\d+)\.(\d+)/bin$")
_NVMRC_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
SETTING_HINT = (
    "set `ssh.path` for the environment (or `path` on the host) in ops.yaml to the "
    'directory that holds them (on the host, in a login shell: dirname "$(command '
    '-v node)")'
)


@dataclass(frozen=True)
class Candidate:
    """A directory that may hold node, npm or pm2, and why it is looked at."""

    source: str
    dir: str
    tools: frozenset[str]

    @property
    def version(self) -> tuple[int, int, int] | None:
        """nvm's version from the directory name (…/versions/node/vX.Y.Z/bin)."""
        m = _VERSION_RE.search(self.dir)
        return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


@dataclass(frozen=True)
class HostProbe:
    """What the probe found on one host (answered False: no answer, e.g. a test's fake host)."""

    answered: bool
    place: Place = field(default_factory=Place)
    session_path: str = ""
    on_path: dict[str, str] = field(default_factory=dict)
    candidates: tuple[Candidate, ...] = ()
    nvmrc: str | None = None
    engines_node: str | None = None
    adopted: str | None = None


@dataclass(frozen=True)
class Toolchain:
    """Where node, npm and pm2 come from on a host, and the directories prepended to PATH."""

    dirs: tuple[str, ...] = ()
    where: str = "not probed"
    missing: tuple[str, ...] = ()
    session_path: str = ""

    @property
    def ok(self) -> bool:
        return not self.missing

    def explanation(self) -> str:
        """The one message every command gives when a tool is found nowhere."""
        tools = " and ".join(
            [", ".join(self.missing[:-1]), self.missing[-1]]
            if len(self.missing) > 1
            else list(self.missing)
        )
        verb = "is" if len(self.missing) == 1 else "are"
        return (
            f"{tools} {verb} not on the PATH of a non-interactive ssh command "
            f"(PATH={self.session_path or '?'}) and not in ssh.path, the PM2 daemon's "
            "node, ~/.nvm, ~/.volta, ~/.asdf or /usr/local/bin; nvm loads only in "
            "interactive shells (~/.bashrc returns before its lines); " + SETTING_HINT
        )


def probe_script(app_path: str, configured: tuple[str, ...], *, adopt: bool = True) -> str:
    """The probe for one host (read only, but for adopting a legacy state dir; adopt=False:
    read only, as `init --from-host` must be)."""
    tools = " ".join([sh_program("probe_tools.sh"), *map(q, configured)])
    place = (
        f"{sh_program('probe_place.sh')} {q(app_path.rstrip('/') or '/', '1' if adopt else '0')}"
    )
    package = (
        f'A={q(app_path.rstrip("/"))}; for f in "$A/package.json" '
        f'"$A/current/package.json"; do [ -f "$f" ] || continue; '
        f'head -c {PACKAGE_JSON_MAX} "$f"; break; done'
    )
    return composite.script([("tools", tools), ("place", place), ("package", package)])


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out.append((key.strip(), value))
    return out


def _engines_node(text: str) -> str | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    engines = doc.get("engines") if isinstance(doc, dict) else None
    node = engines.get("node") if isinstance(engines, dict) else None
    return node if isinstance(node, str) else None


def parse_probe(stdout: str) -> HostProbe:
    """The probe's output (pure); answered False when its sections are not there."""
    sections = composite.parse(stdout)
    tools, place = sections.get("tools"), sections.get("place")
    if tools is None or place is None:
        return HostProbe(answered=False)
    t, p = _pairs(tools.text), dict(_pairs(place.text))
    cands = []
    for key, value in t:
        if key == "cand":
            source, _, rest = value.partition("|")
            path, _, has = rest.partition("|")
            cands.append(Candidate(source, path, frozenset(has.split())))
    on_path = {k.removeprefix("on_path."): v for k, v in t if k.startswith("on_path.") and v}
    state = p.get("state") or None
    package = sections.get("package")
    return HostProbe(
        answered=True,
        place=Place(
            top=p.get("top") or None, subdir=(p.get("subdir") or "").strip("/"), state_dir=state
        ),
        session_path=dict(t).get("path", ""),
        on_path=on_path,
        candidates=tuple(cands),
        nvmrc=(p.get("nvmrc") or "").strip() or None,
        engines_node=_engines_node(package.text) if package is not None else None,
        adopted=p.get("adopted") or None,
    )


def _nvm_choice(nvm: list[Candidate], nvmrc: str | None, engines: str | None) -> list[Candidate]:
    """nvm's versions, the one .nvmrc (else engines) asks for first, then newest first."""
    from cookcam_ops.checklist.semver_range import satisfies

    def wanted(c: Candidate) -> bool:
        v = c.version
        if v is None:
            return False
        m = _NVMRC_RE.match(nvmrc or "")
        if m:
            return all(int(g) == v[i] for i, g in enumerate(m.groups()) if g is not None)
        return bool(engines) and satisfies(".".join(map(str, v)), engines or "") is True

    ordered = sorted(nvm, key=lambda c: c.version or (0, 0, 0), reverse=True)
    return sorted(ordered, key=lambda c: not wanted(c))


def _ordered(probe: HostProbe) -> list[Candidate]:
    nvm = [c for c in probe.candidates if c.source == "nvm"]
    rest = [c for c in probe.candidates if c.source not in ("nvm", "setting")]
    daemon = [c for c in rest if c.source.startswith("pm2-daemon")]
    others = [c for c in rest if not c.source.startswith("pm2-daemon")]
    return daemon + _nvm_choice(nvm, probe.nvmrc, probe.engines_node) + others


def _describe(c: Candidate) -> str:
    if c.source == "setting":
        return "ssh.path"
    if c.source.startswith("pm2-daemon:"):
        return f"the running PM2 daemon's node, pid {c.source.partition(':')[2]}"
    if c.source == "nvm":
        return "nvm"
    return c.source


def choose_toolchain(probe: HostProbe, configured: tuple[str, ...]) -> Toolchain:
    """The directories to prepend to PATH: the setting, else what discovery found (pure)."""
    if not probe.answered:
        return Toolchain()
    if configured:
        settings = [c for c in probe.candidates if c.source == "setting"]
        have = set().union(*(c.tools for c in settings)) | set(probe.on_path)
        return Toolchain(
            configured,
            f"ssh.path: {':'.join(configured)}",
            tuple(t for t in TOOLS if t not in have),
            probe.session_path,
        )
    missing = [t for t in TOOLS if t not in probe.on_path]
    if not missing:
        return Toolchain(
            (),
            "on the SSH PATH: " + ", ".join(f"{t} {probe.on_path[t]}" for t in TOOLS),
            (),
            probe.session_path,
        )
    chosen: list[Candidate] = []
    for c in _ordered(probe):
        if c.tools & set(missing) and c.dir not in (x.dir for x in chosen):
            chosen.append(c)
            missing = [t for t in missing if t not in c.tools]
        if not missing:
            break
    where = (
        "; ".join(
            f"{' '.join(t for t in TOOLS if t in c.tools)} from {c.dir} ({_describe(c)})"
            for c in chosen
        )
        or "nothing found"
    )
    return Toolchain(tuple(c.dir for c in chosen), where, tuple(missing), probe.session_path)
