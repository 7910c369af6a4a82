"""Where the default playbooks, schema and ops.yaml.example live: one copy each, in the repo.

An installed wheel carries them in `cookcam_ops/_playbooks` (mapped at build time by
pyproject.toml); a source checkout or editable install reads the repo's `playbooks/` and
`ops.yaml.example` directly.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def playbooks_dir() -> Path:
    bundled = _PACKAGE / "_playbooks"
    return bundled if bundled.is_dir() else _PACKAGE.parent / "playbooks"


def default_playbook(name: str) -> Path:
    return playbooks_dir() / name


def example_config() -> Path:
    """ops.yaml.example, every key commented (what `cookcam-ops init` writes)."""
    bundled = _PACKAGE / "_playbooks" / "ops.yaml.example"
    return bundled if bundled.is_file() else _PACKAGE.parent / "ops.yaml.example"
