"""For `make demo`: ops.yaml variants beside the sandbox's, for the steps that need one.

    python3 scripts/demo_configs.py DIR

writes, next to DIR/ops.yaml:
- DIR/ops-no-build-test.yaml, whose deploy playbook (DIR/deploy-no-build-test.yaml) is the
  default one without `test-build` and with fewer health retries: a broken release then gets
  past the switch, so the demo can show the automatic rollback a failure after it triggers;
- DIR/ops-releases.yaml: the same environment with `strategy: releases`, for after
  `migrate-to-releases`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from cookcam_ops.resources import default_playbook


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def main(directory: str) -> None:
    d = Path(directory)
    ops = yaml.safe_load((d / "ops.yaml").read_text())
    book = yaml.safe_load(default_playbook("deploy.yaml").read_text())
    book["steps"] = [s for s in book["steps"] if s["name"] != "test-build"]
    for step in book["steps"]:
        if step["name"] == "health":
            step["retries"] = 5
    _write(d / "deploy-no-build-test.yaml", book)
    _write(
        d / "ops-no-build-test.yaml", {**ops, "playbooks": {"deploy": "deploy-no-build-test.yaml"}}
    )
    for env in ops["environments"].values():
        env["strategy"] = "releases"
    _write(d / "ops-releases.yaml", ops)


if __name__ == "__main__":
    main(sys.argv[1])
