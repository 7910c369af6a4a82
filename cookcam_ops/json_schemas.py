"""The JSON Schema (draft 2020-12) of every command's --json document: the machine contract.

Every document has `schema_version`, `command`, `ok` and `checks`. A command that stopped with
an error has `error` ({exit_code, kind, message, hint}) and whatever it knew so far; otherwise
it has its own fields (required below). Commands that contact hosts add `unreachable` (which
host, and why) and `answered`. `cookcam-ops schema COMMAND` prints one of these; the tests
validate real outputs against them.
"""

from __future__ import annotations

from typing import Any

from cookcam_ops.errors import ExitCode
from cookcam_ops.report import SCHEMA_VERSION

DRAFT = "https://json-schema.org/draft/2020-12/schema"
EXIT_CODES = sorted(int(code) for code in ExitCode if code != ExitCode.OK)
ERROR_KINDS = [
    "usage",
    "config",
    "unreachable",
    "checks_failed",
    "rollback_failed",
    "locked",
    "interrupted",
    "sandbox",
    "missing_tool",
    "internal",
]

S: dict[str, Any] = {"type": "string"}
S_NULL: dict[str, Any] = {"type": ["string", "null"]}
NUM: dict[str, Any] = {"type": "number"}
NUM_NULL: dict[str, Any] = {"type": ["number", "null"]}
INT_NULL: dict[str, Any] = {"type": ["integer", "null"]}
BOOL: dict[str, Any] = {"type": "boolean"}
OBJ: dict[str, Any] = {"type": "object"}
SHA_NULL: dict[str, Any] = {"type": ["string", "null"], "pattern": "^[0-9a-f]{7,40}$"}


def arr(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def obj(required: list[str], props: dict[str, Any]) -> dict[str, Any]:
    """An object with these properties (required ones listed); others allowed (additions
    within a schema version are compatible)."""
    return {"type": "object", "required": required, "properties": props}


DEFS: dict[str, Any] = {
    "check": obj(
        ["name", "status", "detail"],
        {
            "name": S,
            "status": {"enum": ["pass", "warn", "fail", "skip"]},
            "detail": S,
            "host": S,
            "duration_s": NUM,
        },
    ),
    "error": obj(
        ["exit_code", "kind", "message", "hint"],
        {
            "exit_code": {"enum": EXIT_CODES},
            "kind": {"enum": ERROR_KINDS},
            "message": S,
            "hint": S_NULL,
        },
    ),
    "unreachable": obj(["host", "reason"], {"host": S, "reason": S}),
    "step": obj(
        ["name", "status", "duration_s", "detail"],
        {
            "name": S,
            "status": {"enum": ["ok", "warn", "failed", "skipped", "planned"]},
            "duration_s": NUM,
            "detail": S,
        },
    ),
    "run_host": obj(
        ["name", "from_sha", "to_sha", "outcome", "steps"],
        {
            "name": S,
            "from_sha": SHA_NULL,
            "to_sha": SHA_NULL,
            "outcome": {
                "enum": [
                    "deployed",
                    "rolled_back",
                    "rollback_failed",
                    "failed",
                    "nothing_to_do",
                    "skipped",
                    "unreachable",
                    "planned",
                    "migrated",
                ]
            },
            "steps": arr({"$ref": "#/$defs/step"}),
            "pm2": {"anyOf": [{"$ref": "#/$defs/pm2_plan"}, {"type": "null"}]},
        },
    ),
    # What a host's reload applies of the target's ecosystem file (pm2/apply.py).
    "pm2_plan": obj(
        ["apply", "changes", "unknown"],
        {
            "apply": {"enum": ["none", "scale", "handover", "restart"]},
            "changes": arr(
                obj(
                    ["setting", "from", "to"],
                    {
                        "setting": {
                            "enum": [
                                "exec_mode",
                                "instances",
                                "kill_timeout",
                                "wait_ready",
                                "listen_timeout",
                                "script",
                                "cwd",
                            ]
                        }
                    },
                )
            ),
            "unknown": S_NULL,
        },
    ),
    "warning": obj(["host", "step", "detail"], {"host": S, "step": S, "detail": S}),
    "saved_list": obj(
        ["matches", "workers", "detail"],
        {"matches": {"type": ["boolean", "null"]}, "workers": {"type": "integer"}, "detail": S},
    ),
    "lock_holder": obj(
        ["owner", "host", "pid", "command", "time"],
        {"owner": S, "host": S, "pid": INT_NULL, "command": S, "time": S},
    ),
}

COMMON: dict[str, Any] = {
    "schema_version": {"const": SCHEMA_VERSION},
    "command": S,
    "ok": BOOL,
    "checks": arr({"$ref": "#/$defs/check"}),
    "error": {"$ref": "#/$defs/error"},
    "environment": S_NULL,
    "duration_s": NUM,
    "run_log": S_NULL,
    "unreachable": arr({"$ref": "#/$defs/unreachable"}),
    "answered": arr(S),
    "lock": obj(
        ["host", "holder"],
        {"host": S_NULL, "holder": {"anyOf": [{"$ref": "#/$defs/lock_holder"}, {"type": "null"}]}},
    ),
}

RUN = {
    "action": {"enum": ["deploy", "rollback", "migrate"]},
    "outcome": {
        "enum": [
            "deployed",
            "rolled_back",
            "rollback_failed",
            "failed",
            "nothing_to_do",
            "dry_run",
            "migrated",
        ]
    },
    "target_sha": SHA_NULL,
    "hosts": arr({"$ref": "#/$defs/run_host"}),
    "interrupted": BOOL,
    "warnings": arr({"$ref": "#/$defs/warning"}),
}
METRIC = obj(
    ["name", "canary", "baseline", "rule", "status"],
    {
        "name": S,
        "canary": NUM_NULL,
        "baseline": NUM_NULL,
        "rule": S,
        "unit": S,
        "status": {"enum": ["pass", "fail", "failing", "pending", "skip"]},
    },
)
CANARY = obj(
    ["hosts", "bake_s", "verdict", "detail", "metrics"],
    {
        "hosts": arr(S),
        "bake_s": NUM,
        "verdict": {
            "enum": ["promoted", "rolled_back", "failed", "interrupted", "not_baked", "planned"]
        },
        "detail": S,
        "baseline": {"enum": ["hosts", "before_switch"]},
        "baseline_hosts": arr(S),
        "metrics": arr(METRIC),
        "elapsed_s": NUM,
        "samples": {"type": "integer"},
    },
)
WATCH = obj(
    ["environment", "duration_s", "interval_s", "interrupted", "hosts"],
    {
        "environment": S,
        "duration_s": NUM,
        "interval_s": NUM,
        "interrupted": BOOL,
        "hosts": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": NUM_NULL},
        },
    },
)
REPORT_HOSTS = {"hosts": arr(S)}
STATUS_HOST = obj(
    ["name", "reachable", "error", "sha", "healthy", "processes", "lock"],
    {
        "name": S,
        "reachable": BOOL,
        "error": S_NULL,
        "sha": S_NULL,
        "since": S_NULL,
        "since_by": S_NULL,
        "healthy": {"type": ["boolean", "null"]},
        "health": {"type": ["object", "null"]},
        "processes": arr(OBJ),
        "pm2_error": S_NULL,
        "lock": {"anyOf": [{"$ref": "#/$defs/lock_holder"}, {"type": "null"}]},
        "strategy": S,
        "release": S_NULL,
        "saved": {"anyOf": [{"$ref": "#/$defs/saved_list"}, {"type": "null"}]},
    },
)

# Per command: (its own properties, the ones it always has when it did not stop on an error).
# What a deploy's and a rollback's documents always carry.
RUN_REQUIRED = [
    "environment",
    "action",
    "outcome",
    "target_sha",
    "hosts",
    "interrupted",
    "warnings",
    "unreachable",
    "answered",
]
COMMANDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "env validate": ({"file": S, "schema": S}, ["file", "schema"]),
    "env check": (
        {"schema": S, **REPORT_HOSTS},
        ["environment", "schema", "hosts", "unreachable", "answered"],
    ),
    "checklist": (
        {"scope": {"enum": ["server", "local"]}, "ref": S, "env_file": S, **REPORT_HOSTS},
        ["environment", "scope"],
    ),
    "smoke": ({"target": OBJ, "metrics": OBJ}, ["target", "metrics"]),
    "deploy": ({**RUN, "canary": CANARY}, RUN_REQUIRED),
    "rollback": (RUN, RUN_REQUIRED),
    "migrate-to-releases": (
        RUN,
        ["environment", "action", "outcome", "hosts", "warnings", "unreachable", "answered"],
    ),
    "unlock": (
        {
            "locks": arr(
                obj(
                    ["host", "holder", "broken", "error"],
                    {
                        "host": S,
                        "holder": {"anyOf": [{"$ref": "#/$defs/lock_holder"}, {"type": "null"}]},
                        "broken": BOOL,
                        "error": S_NULL,
                    },
                )
            ),
            "declined": BOOL,
        },
        ["environment", "locks", "declined", "unreachable", "answered"],
    ),
    "status": (
        {"hosts": arr(STATUS_HOST)},
        ["environment", "hosts", "duration_s", "unreachable", "answered"],
    ),
    "logs": (
        {
            "hosts": arr(
                obj(
                    ["name", "reachable", "error", "lines"],
                    {"name": S, "reachable": BOOL, "error": S_NULL, "lines": arr(S)},
                )
            )
        },
        ["environment", "hosts", "unreachable", "answered"],
    ),
    "history": (
        {
            "records": arr(
                obj(
                    [
                        "id",
                        "time",
                        "action",
                        "user",
                        "host",
                        "from_sha",
                        "to_sha",
                        "outcome",
                        "duration_s",
                        "ref",
                    ],
                    {
                        "id": S,
                        "time": S,
                        "action": S,
                        "user": S,
                        "host": S,
                        "server": S,
                        "from_sha": S_NULL,
                        "to_sha": S_NULL,
                        "outcome": S,
                        "duration_s": NUM_NULL,
                        "ref": S_NULL,
                        "detail": S_NULL,
                    },
                )
            )
        },
        ["environment", "records", "unreachable", "answered"],
    ),
    "drain": (
        {"host": S, "via": {"enum": ["reload", "restart", "signal"]}, "url": S, "metrics": OBJ},
        ["host", "via", "url", "metrics"],
    ),
    "watch": ({"watch": WATCH}, ["environment", "watch", "duration_s", "unreachable", "answered"]),
    "init": ({"path": S, "from_host": S_NULL, "discovered": OBJ}, ["path"]),
    "sandbox up": (
        {"dir": S, "ops_yaml": S, "hosts": arr(S), "up_seconds": NUM_NULL},
        ["dir", "ops_yaml", "hosts"],
    ),
    "sandbox status": (
        {"dir": S, "hosts": arr(OBJ), "auth_url": S, "auth_up": BOOL, "origin": S},
        ["dir", "hosts", "auth_url", "auth_up"],
    ),
    "sandbox down": ({"dir": S, "stopped": arr(OBJ), "purged": BOOL}, ["dir", "stopped", "purged"]),
    "sandbox change": (
        {
            "sha": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
            "kind": S,
            "release": {"type": "integer"},
            "message": S,
        },
        ["sha", "kind", "release", "message"],
    ),
}


def envelope() -> dict[str, Any]:
    """The schema every document meets, whatever its command."""
    return _schema("any command", COMMON, {"command": S}, [])


def schema_for(command: str) -> dict[str, Any]:
    """The schema of one command's documents (KeyError when there is no such command)."""
    props, required = COMMANDS[command]
    return _schema(command, {**COMMON, **props}, {"command": {"const": command}}, required)


def _schema(
    name: str, props: dict[str, Any], override: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "title": f"cookcam-ops {name} --json (schema_version {SCHEMA_VERSION})",
        "type": "object",
        "required": ["schema_version", "command", "ok", "checks"],
        "properties": {**props, **override},
        "additionalProperties": False,
        "if": {"required": ["error"]},
        "then": {"properties": {"ok": {"const": False}}},
        "else": {"required": required},
        "$defs": DEFS,
    }
