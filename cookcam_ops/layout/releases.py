"""strategy: releases — the pure half: release names, the host listing, pruning, env names, cwds.

Layout on a host (app.path is APP):
  APP/repo/                          bare git repository (the remote, fetched on deploy)
  APP/releases/<UTC time>-<sha10>/   one release: `git archive` of the app's directory in the
                                     commit (SHA:SUBDIR in a monorepo), REVISION, its own
                                     node_modules and dist, its own .env (mode 600)
  APP/shared/.env                    the .env a deploy copies into the release it builds;
  APP/shared/*                       anything else in shared/ is linked into every release
  APP/current -> releases/<name>     switched by renaming a new symlink over it (atomic)
PM2 runs the app with cwd APP/current (the link, not its target), so every worker it starts
resolves the release `current` names at that moment. Nothing here touches a host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cookcam_ops.remote.protocol import q
from cookcam_ops.report import Check, Status

HOST_TIME_RE = re.compile(r"^\d{14}$")
RELEASE_NAME_RE = re.compile(r"^(?P<time>\d{14})-(?P<sha>[0-9a-f]{7,40})$")
SHORT = 10
HANDOVER_SUFFIX = ".handover"


def release_name(host_time: str, sha: str) -> str:
    """`<UTC time YYYYmmddHHMMSS>-<short sha>`: names sort in the order releases were made."""
    if not HOST_TIME_RE.match(host_time) or not re.fullmatch(r"[0-9a-f]{40}", sha):
        raise ValueError(f"not a host time and a full SHA: {host_time!r}, {sha!r}")
    return f"{host_time}-{sha[:SHORT]}"


@dataclass(frozen=True)
class ReleaseEntry:
    """One directory under APP/releases as the host listed it."""

    name: str
    sha: str | None
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Has everything a switch to it needs: REVISION, dist, node_modules and its .env."""
        return self.sha is not None and not self.missing


def listing_command(releases_path: str, env_file: str) -> str:
    """Print `name|sha|missing parts` for every release directory (read only)."""
    return (
        f"cd {q(releases_path)} 2>/dev/null || exit 0; for d in */; do d=${{d%/}}; "
        '[ -d "$d" ] && [ ! -L "$d" ] || continue; '
        "r=$(head -c 64 \"$d/REVISION\" 2>/dev/null | tr -dc 0-9a-f); m=''; "
        '[ -n "$r" ] || m="$m REVISION"; [ -d "$d/dist" ] || m="$m dist"; '
        '[ -d "$d/node_modules" ] || m="$m node_modules"; '
        f'[ -f "$d"/{q(env_file)} ] || m="$m {env_file}"; '
        'printf \'%s|%s|%s\\n\' "$d" "$r" "$m"; done'
    )


def parse_listing(text: str) -> tuple[ReleaseEntry, ...]:
    """listing_command's output, oldest first; lines that are not releases are ignored."""
    out = []
    for line in text.splitlines():
        name, sep, rest = line.partition("|")
        if not sep or not RELEASE_NAME_RE.match(name):
            continue
        sha, _, missing = rest.partition("|")
        out.append(
            ReleaseEntry(
                name, sha if re.fullmatch(r"[0-9a-f]{40}", sha) else None, tuple(missing.split())
            )
        )
    return tuple(sorted(out, key=lambda e: e.name))


def release_of_link(link: str | None) -> str | None:
    """The release name `current` points to (`releases/NAME` or an absolute path)."""
    if not link:
        return None
    name = link.rstrip("/").rsplit("/", 1)[-1]
    return name if RELEASE_NAME_RE.match(name) else None


def newest_for(entries: Iterable[ReleaseEntry], sha: str) -> ReleaseEntry | None:
    """The newest complete release of sha."""
    found = [e for e in entries if e.complete and e.sha == sha]
    return found[-1] if found else None


def prune_selection(
    entries: Iterable[ReleaseEntry], keep: int, protect: Iterable[str | None]
) -> list[str]:
    """Release names to delete: all but the newest `keep` complete ones, never a protected one.

    Protected: the current release and the rollback target (and the release just made).
    Incomplete directories (an interrupted build) are deleted unless protected.
    """
    safe = {p for p in protect if p}
    complete = sorted((e.name for e in entries if e.complete), reverse=True)
    kept = set(complete[: max(keep, 0)]) | safe
    return sorted(e.name for e in entries if e.name not in kept)


def env_names_diff(current: Iterable[str], incoming: Iterable[str]) -> tuple[list[str], list[str]]:
    """(added, removed) variable names between the current release's .env and the shared one."""
    before, after = set(current), set(incoming)
    return sorted(after - before), sorted(before - after)


@dataclass(frozen=True)
class CwdVerdict:
    """Whether every worker runs the release `current` names."""

    ok: bool
    detail: str
    stale: tuple[str, ...] = ()


def judge_cwds(
    workers: Sequence[tuple[object, str | None]], current_real: str | None
) -> CwdVerdict:
    """workers: (pm_id, the resolved /proc/PID/cwd); current_real: `readlink -f APP/current`."""
    if not current_real:
        return CwdVerdict(False, "APP/current does not resolve to a release")
    want = release_of_link(current_real) or current_real
    if not workers:
        return CwdVerdict(False, "no worker to check")
    stale = []
    for pm_id, cwd in workers:
        if cwd is None:
            stale.append(f"{pm_id}:unknown")
        elif cwd != current_real and not cwd.startswith(current_real + "/"):
            stale.append(f"{pm_id}:{release_of_link(cwd) or cwd}")
    if stale:
        return CwdVerdict(
            False, f"worker(s) not in release {want}: {', '.join(stale)}", tuple(stale)
        )
    return CwdVerdict(True, f"{len(workers)} worker(s) run release {want}")


def judge_rollback_target(
    current_link: str | None,
    entries: tuple[ReleaseEntry, ...],
    current_path: str,
    env_file: str,
    host: str,
) -> Check:
    """The current release (what a failed deploy goes back to) is complete."""
    name = release_of_link(current_link)
    if name is None:
        return Check(
            "rollback-target",
            Status.FAIL,
            f"{current_path} does not point to a "
            "release (run `cookcam-ops migrate-to-releases` first?)",
            host,
        )
    entry = next((e for e in entries if e.name == name), None)
    if entry is None or not entry.complete:
        missing = ", ".join(entry.missing) if entry else "the directory"
        return Check(
            "rollback-target",
            Status.FAIL,
            f"current release {name} is incomplete "
            f"(no {missing}): a failed deploy could not go back to it",
            host,
        )
    older = [e for e in entries if e.name < name]
    prev = (
        f"; before it: {older[-1].name}" + ("" if older[-1].complete else " (INCOMPLETE)")
        if older
        else "; no earlier release kept"
    )
    return Check(
        "rollback-target",
        Status.PASS,
        f"current release {name} is complete (dist, node_modules, {env_file}, REVISION){prev}",
        host,
    )
