"""The changes a sandbox can push: the shipped reference API, bumped, with at most one defect.

Every change starts from the API as shipped in `api/`; only the release counter carries over, so
defects never pile up. Defects are exact text substitutions at `// @cookcam-marker NAME` spots;
a marker that is missing or not unique fails loudly instead of producing a silently clean tree.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from cookcam_ops.errors import SandboxError, UsageError

API_DIR: Path = Path(__file__).resolve().parent / "api"
KINDS: tuple[str, ...] = (
    "release",
    "broken-build",
    "broken-health",
    "crash-on-start",
    "sigterm-only",
    "ecosystem-scale",
    "ecosystem-fork",
    "kill-timeout-short",
    "late-crash",
    "late-auth-failure",
)

RELEASE_FILE = "src/release.ts"
FEATURE_FLAGS_KEY = "COOKCAM_FEATURE_FLAGS_URL"
_RELEASE_LINE = re.compile(r"^export const RELEASE = \d+;$", re.MULTILINE)
_SKIPPED_DIRS = frozenset({".git", "node_modules", "dist"})


@dataclass(frozen=True)
class Edit:
    """Replace `old` (which must occur exactly once) with `new` in one file of the API."""

    path: str
    old: str
    new: str


def _marker(name: str) -> str:
    return f"// @cookcam-marker {name}"


# The marker names, and the file each lives in.
MARKERS: dict[str, str] = {
    "sigint-handler": "src/index.ts",
    "health-status": "src/routes/health.ts",
    "schema-required-keys": "src/config/env.schema.ts",
    "type-error-slot": "src/version.ts",
    "exec-mode": "ecosystem.config.js",
    "instances": "ecosystem.config.js",
    "kill-timeout": "ecosystem.config.js",
    "late-crash": "src/index.ts",
    "auth-check": "src/services/supabase.ts",
}

# The late kinds break this long after a worker starts: past the build test, the health check
# and the smoke right after the switch, well inside a canary's bake.
LATE_FAILURE_S = 30

_SIGINT_LINE = f"process.on('SIGINT', () => shutdown('SIGINT')); {_marker('sigint-handler')}"
_HEALTH_LINE = "const HEALTH_STATUS_CODE: number = {code}; " + _marker("health-status")


def _setting(marker: str, key: str, shipped: str, value: str) -> Edit:
    """Set one ecosystem.config.js setting on its marked line (`key: value, // marker`)."""
    return Edit(
        MARKERS[marker],
        f"{key}: {shipped}, {_marker(marker)}",
        f"{key}: {value}, {_marker(marker)}",
    )


DEFECTS: dict[str, tuple[tuple[Edit, ...], str]] = {
    "release": ((), "version bump"),
    "broken-build": (
        (
            Edit(
                MARKERS["type-error-slot"],
                _marker("type-error-slot"),
                f"export const BUILD_LABEL: number = 'cookcam'; {_marker('type-error-slot')}",
            ),
        ),
        "label the build (type error: npm run build fails)",
    ),
    "broken-health": (
        (
            Edit(
                MARKERS["health-status"],
                _HEALTH_LINE.format(code=200),
                _HEALTH_LINE.format(code=503),
            ),
        ),
        "report health as 503",
    ),
    "crash-on-start": (
        (
            Edit(
                MARKERS["schema-required-keys"],
                f"  {_marker('schema-required-keys')}",
                f"  {FEATURE_FLAGS_KEY}: Joi.string().uri({{ scheme: ['http', 'https'] }})"
                f".required(),\n  {_marker('schema-required-keys')}",
            ),
        ),
        f"require {FEATURE_FLAGS_KEY} (exits at start when .env lacks it)",
    ),
    "sigterm-only": (
        (
            Edit(
                MARKERS["sigint-handler"],
                _SIGINT_LINE,
                f"{_marker('sigint-handler')}: SIGINT is not handled in this release",
            ),
        ),
        "graceful shutdown on SIGTERM only (SIGINT not handled)",
    ),
    "ecosystem-scale": (
        (_setting("instances", "instances", "2", "3"),),
        "ecosystem.config.js: 3 instances instead of 2",
    ),
    "ecosystem-fork": (
        (
            _setting("exec-mode", "exec_mode", "'cluster'", "'fork'"),
            _setting("instances", "instances", "2", "1"),
        ),
        "ecosystem.config.js: exec_mode fork, 1 instance",
    ),
    "kill-timeout-short": (
        (_setting("kill-timeout", "kill_timeout", "10000", "1000"),),
        "ecosystem.config.js: kill_timeout 1000 ms, shorter than the app's 8 s drain",
    ),
    "late-crash": (
        (
            Edit(
                MARKERS["late-crash"],
                f"    {_marker('late-crash')}",
                "    setTimeout(() => {\n"
                f"      throw new Error('late-crash: this worker gives up {LATE_FAILURE_S} s "
                "after it started');\n"
                f"    }}, {LATE_FAILURE_S * 1000}); {_marker('late-crash')}",
            ),
        ),
        f"workers exit {LATE_FAILURE_S} s after they start (PM2 restarts them)",
    ),
    "late-auth-failure": (
        (
            Edit(
                MARKERS["auth-check"],
                f"  {_marker('auth-check')}",
                f"  if (process.uptime() > {LATE_FAILURE_S}) {{\n"
                f"    return {{ reason: 'late-auth-failure: every token refused {LATE_FAILURE_S} s "
                "after start' };\n"
                f"  }} {_marker('auth-check')}",
            ),
        ),
        f"token checks refuse valid tokens {LATE_FAILURE_S} s after a worker starts",
    ),
}


def _substitute(text: str, edit: Edit) -> str:
    found = text.count(edit.old)
    if found != 1:
        raise SandboxError(
            f"api/{edit.path}: expected the marker text exactly once, found it {found} times",
            hint=f"restore {edit.old.strip()!r} in {API_DIR / edit.path}",
        )
    return text.replace(edit.old, edit.new)


def _set_release(text: str, release: int) -> str:
    new, found = _RELEASE_LINE.subn(f"export const RELEASE = {release};", text)
    if found != 1:
        raise SandboxError(
            f"api/{RELEASE_FILE}: expected one 'export const RELEASE = N;' line, found {found}"
        )
    return new


def render_changes(kind: str, release: int) -> dict[str, str]:
    """The files (path relative to the API, new text) that differ from the shipped API."""
    if kind not in DEFECTS:
        raise UsageError(f"unknown change kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    if isinstance(release, bool) or not isinstance(release, int) or release < 1:
        raise UsageError(f"release must be a positive integer, not {release!r}")
    edits, _ = DEFECTS[kind]
    files = {RELEASE_FILE: _set_release(_read(RELEASE_FILE), release)}
    for edit in edits:
        files[edit.path] = _substitute(files.get(edit.path) or _read(edit.path), edit)
    return files


def _read(rel: str) -> str:
    try:
        return (API_DIR / rel).read_text(encoding="utf-8")
    except OSError as e:
        raise SandboxError(f"{API_DIR / rel}: cannot read the shipped API ({e.strerror})") from e


def _skip(directory: str, names: list[str]) -> set[str]:
    del directory
    return {n for n in names if n in _SKIPPED_DIRS or n == ".env" or n.startswith(".env.")}


def _clear(dest: Path) -> None:
    for entry in dest.iterdir():
        if entry.name == ".git":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def write_api_tree(dest: Path, kind: str, release: int) -> str:
    """Replace dest's tracked content (everything except .git) with the shipped API (excluding
    node_modules, dist, any .env), set RELEASE = release in src/release.ts, apply the defect for
    kind, return a one-line commit message."""
    files = render_changes(kind, release)  # fails before dest is touched
    dest.mkdir(parents=True, exist_ok=True)
    _clear(dest)
    shutil.copytree(API_DIR, dest, ignore=_skip, dirs_exist_ok=True)
    for rel, text in files.items():
        (dest / rel).write_text(text, encoding="utf-8")
    _, summary = DEFECTS[kind]
    return f"release 1.0.{release}: {summary}"


MONOREPO_FILES: dict[str, str] = {
    "README.md": "# CookCam\n\nThe CookCam monorepo: the API in `backend/api` (Express + "
    "Socket.IO, run by PM2),\nthe app in `frontend/`.\n",
    "frontend/README.md": "# CookCam app\n\n(The sandbox's placeholder for the mobile app.)\n",
}


def write_monorepo_root(dest: Path) -> None:
    """The monorepo around the API, as the seed's repository is: a root README, frontend/."""
    for rel, text in MONOREPO_FILES.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8")
