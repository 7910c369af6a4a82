"""Where ops.yaml is looked for, without loading it (cheap: no pydantic, no YAML).

Kept apart from cookcam_ops.config so that commands which only need to know whether there is
an ops.yaml (e.g. `env validate` outside a project) do not pay for building its models.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_ENV = "COOKCAM_OPS_CONFIG"
DEFAULT_CONFIG = Path("ops.yaml")


def config_path(explicit: Path | None) -> Path:
    """--config, else $COOKCAM_OPS_CONFIG, else ./ops.yaml."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    return Path(from_env) if from_env else DEFAULT_CONFIG
