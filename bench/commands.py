"""The remote commands of one deploy, for the plain-ssh and Ansible sides of figure 2.

They come from `cookcam-ops deploy --dry-run --json` (the exact text of every `run:` step,
placeholders filled) and, for built-ins, from the very scripts our engine sends
(cookcam_ops.deploy.scripts). What only cookcam-ops does is left out of the plain sides and
named in the notes: the checklist, the smoke tests, the lock's owner record and `pm2 jlist`
verification. `git fetch` stands in for our facts round trip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.proc import ROOT, ops_argv, run
from cookcam_ops.deploy import scripts
from cookcam_ops.remote.protocol import q

OURS_ONLY = ("checklist", "smoke")


@dataclass(frozen=True)
class Step:
    """One remote command, run with `sh -c` in the app directory."""

    name: str
    command: str


@dataclass(frozen=True)
class DeployCommands:
    """What a plain deploy of one host runs, in order."""

    host: str
    app_path: str
    to_sha: str
    steps: tuple[Step, ...]


def _builtin(kind: str, spec: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    ops = ctx["app_path"] + ".ops"
    if kind == "lock":
        return f"mkdir -p {q(ops)} && mkdir {q(ops + '/bench-lock')}"
    if kind == "test_build":
        return scripts.test_build(
            ops + "/build", float(spec.get("timeout", 120)), ctx["health_path"], str(spec["expect"])
        )
    if kind == "reload":
        return f"pm2 reload {q(ctx['app_name'])} --update-env"
    if kind == "health":
        return scripts.health(
            f"http://127.0.0.1:{ctx['port']}{ctx['health_path']}",
            int(spec.get("retries", 0)),
            float(spec.get("delay", 1)),
            ctx["to_sha"],
        )
    if kind == "record":
        line = json.dumps({"to": ctx["to_sha"], "by": "bench"})
        return (
            scripts.append_line(ops + "/bench-history.jsonl", line)
            + f" && rmdir {q(ops + '/bench-lock')}"
        )
    return None  # OURS_ONLY


def deploy_commands(
    config: Path, environment: str, log: Path, playbook: Path = ROOT / "playbooks" / "deploy.yaml"
) -> DeployCommands:
    """The plain equivalent of deploying environment's first host to the origin's head."""
    done = run(ops_argv("--config", str(config), "deploy", environment, "--dry-run", "--json"), log)
    plan = json.loads(done.stdout)
    host = plan["hosts"][0]
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    entry = doc["environments"][environment]["hosts"][0]
    ctx = {
        "app_path": entry["app_path"],
        "port": entry["port"],
        "to_sha": host["to_sha"],
        "app_name": doc["app"]["name"],
        "health_path": doc["app"]["health_path"],
        "remote": doc["app"]["remote"],
        "branch": doc["app"]["branch"],
    }
    specs = {s["name"]: s for s in yaml.safe_load(playbook.read_text(encoding="utf-8"))["steps"]}
    steps = [Step("fetch", f"git fetch --quiet {q(ctx['remote'])} {q(ctx['branch'])}")]
    for step in host["steps"]:
        spec = specs[step["name"]]
        if step["status"] != "planned":
            continue
        command = step["detail"] if "run" in spec else _builtin(spec["builtin"], spec, ctx)
        if command is not None:
            steps.append(Step(step["name"], command))
    return DeployCommands(host["name"], ctx["app_path"], host["to_sha"], tuple(steps))


def one_line(commands: DeployCommands) -> str:
    """`cd APP && sh -c STEP1 && sh -c STEP2 && ...`: the whole deploy as one ssh command."""
    return " && ".join(
        [f"cd {q(commands.app_path)}", *(f"sh -c {q(s.command)}" for s in commands.steps)]
    )
