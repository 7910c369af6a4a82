"""What hosts say about PM2, as the whitelisting filters print it: shared by the unit tests."""

from __future__ import annotations

import json
from typing import Any

APP_DIR = "/srv/api"
SCRIPT = f"{APP_DIR}/dist/index.js"


def ecosystem_doc(*, sha: str | None = None, cpus: int = 2, **over: Any) -> dict[str, Any]:
    """The ecosystem reader's JSON for the shipped API's file (over: app fields to change)."""
    app: dict[str, Any] = {
        "name": "cookcam-api",
        "exec_mode": "cluster",
        "instances": 2,
        "kill_timeout": 10000,
        "wait_ready": True,
        "listen_timeout": 10000,
        "cwd": APP_DIR,
        "script": SCRIPT,
        "env_keys": {"env": ["NODE_ENV"]},
    }
    app.update(over)
    return {"file": "ecosystem.config.js", "sha": sha, "cpus": cpus, "apps": [app]}


def proc(i: int, **over: Any) -> dict[str, Any]:
    """One worker as the jlist filter prints it, run as the shipped file says."""
    doc: dict[str, Any] = {
        "name": "cookcam-api",
        "pm_id": i,
        "pid": 100 + i,
        "cwd": APP_DIR,
        "cpu": 0.5,
        "memory": 50_000_000,
        "status": "online",
        "exec_mode": "cluster_mode",
        "instances": 2,
        "restart_time": 0,
        "unstable_restarts": 0,
        "pm_uptime": 1_000_000,
        "pm_cwd": APP_DIR,
        "pm_exec_path": SCRIPT,
        "kill_timeout": 10000,
        "wait_ready": True,
        "listen_timeout": 10000,
    }
    doc.update(over)
    return doc


def jlist(n: int = 2, **over: Any) -> str:
    """The jlist filter's output: n workers (over: fields to change on each)."""
    return json.dumps({"now": 1_060_000, "processes": [proc(i, **over) for i in range(n)]})


def saved(n: int = 2, **over: Any) -> str:
    """The filter's output for dump.pm2 (no pid; cwd is where pm_cwd resolves now)."""
    return json.dumps(
        {
            "now": 1_060_000,
            "processes": [
                {**proc(i, **over), "pid": None, "pm_id": None, "instances": None} for i in range(n)
            ],
        }
    )


NO_SAVED = json.dumps({"error": "no saved process list (/root/.pm2/dump.pm2)"})
