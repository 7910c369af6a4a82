"""Where the default playbooks and schema live: one copy, in the repo's playbooks/.

An installed wheel carries them as `cookcam_ops/_playbooks` (mapped at build time by
pyproject.toml); a source checkout or editable install reads the repo's `playbooks/` directly.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def playbooks_dir() -> Path:
    bundled = _PACKAGE / "_playbooks"
    return bundled if bundled.is_dir() else _PACKAGE.parent / "playbooks"


def default_playbook(name: str) -> Path:
    return playbooks_dir() / name
