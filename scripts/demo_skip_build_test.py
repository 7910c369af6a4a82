"""For `make demo`: an ops.yaml beside the sandbox's whose deploy playbook has no build test.

Writes DIR/deploy-no-build-test.yaml (the default playbook without `test-build`, and with fewer
health retries so the demo does not wait long) and DIR/ops-no-build-test.yaml (the sandbox's
ops.yaml using it). A broken release then gets past the switch, so the demo can show the
automatic rollback that a failure after the switch triggers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from cookcam_ops.resources import default_playbook


def main(directory: str) -> None:
    d = Path(directory)
    book = yaml.safe_load(default_playbook("deploy.yaml").read_text())
    book["steps"] = [s for s in book["steps"] if s["name"] != "test-build"]
    for step in book["steps"]:
        if step["name"] == "health":
            step["retries"] = 5
    (d / "deploy-no-build-test.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    ops = yaml.safe_load((d / "ops.yaml").read_text())
    ops["playbooks"] = {"deploy": "deploy-no-build-test.yaml"}
    (d / "ops-no-build-test.yaml").write_text(yaml.safe_dump(ops, sort_keys=False))


if __name__ == "__main__":
    main(sys.argv[1])
