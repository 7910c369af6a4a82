"""The seed's pre-deploy checklist. This module holds the local half: items that need no server."""

from __future__ import annotations

from pathlib import Path

from cookcam_ops.config import LoadedConfig
from cookcam_ops.envfile.dotenv_parser import ParsedEnv
from cookcam_ops.envfile.schema import EnvSchema, VarRule
from cookcam_ops.envfile.validate import SENTRY_DSN_RE, judge, validate_parsed
from cookcam_ops.report import Check, Report, Status

JWT_VARS = ("JWT_SECRET", "JWT_REFRESH_SECRET")
WEBHOOK_VAR = "STRIPE_WEBHOOK_SECRET"
DSN_VAR = "SENTRY_DSN"


def _combine(
    name: str, rules: dict[str, VarRule], values: dict[str, str], var_names: tuple[str, ...]
) -> Check:
    """One checklist item from several variables' verdicts (the schema's rules, one way)."""
    missing = [v for v in var_names if v not in rules]
    if missing:
        return Check(name, Status.FAIL, f"the env schema has no rule for {', '.join(missing)}")
    verdicts = [judge(rules[v], values.get(v)) for v in var_names]
    bad = [f"{v.name} {v.detail}" for v in verdicts if v.status is Status.FAIL]
    if bad:
        return Check(name, Status.FAIL, "; ".join(bad))
    return Check(name, Status.PASS, ", ".join(f"{v} ok" for v in var_names))


def _sentry_project(env_name: str, expected: str | None, values: dict[str, str]) -> Check:
    name = "sentry-dsn-project"
    dsn = values.get(DSN_VAR)
    match = SENTRY_DSN_RE.match(dsn or "")
    if not match:
        return Check(name, Status.FAIL, f"{DSN_VAR} is not set or is not a Sentry DSN")
    project = match.group("project")
    if expected is None:
        return Check(
            name,
            Status.WARN,
            f"{DSN_VAR} points to project {project}; set "
            f"environments.{env_name}.sentry_project_id in ops.yaml to check it",
        )
    if project != expected:
        return Check(
            name,
            Status.FAIL,
            f"{DSN_VAR} points to project {project}, but ops.yaml says {expected} for {env_name}",
        )
    return Check(name, Status.PASS, f"{DSN_VAR} points to project {project}")


def env_items(
    parsed: ParsedEnv, schema: EnvSchema, env_name: str, sentry_project_id: str | None
) -> list[Check]:
    """The checklist items judged from a .env file (shared by the local and server halves)."""
    rules = {r.name: r for r in schema.for_environment(env_name)}
    values = parsed.values
    verdicts = validate_parsed(parsed, schema, env_name)
    failed = [c.name for c in verdicts if c.status is Status.FAIL]
    warned = [c.name for c in verdicts if c.status is Status.WARN]
    if failed:
        schema_item = Check("env-schema", Status.FAIL, f"failing: {', '.join(failed)}")
    elif warned:
        schema_item = Check("env-schema", Status.WARN, f"warnings: {', '.join(warned)}")
    else:
        schema_item = Check("env-schema", Status.PASS, f"{len(rules)} variables valid")
    unset = [r.name for r in rules.values() if r.required and not values.get(r.name)]
    all_set = (
        Check("env-all-set", Status.FAIL, f"not set or empty: {', '.join(unset)}")
        if unset
        else Check("env-all-set", Status.PASS, "every required variable is set")
    )
    return [
        all_set,
        _combine("jwt-secrets-length", rules, values, JWT_VARS),
        _combine("stripe-webhook-secret", rules, values, (WEBHOOK_VAR,)),
        _sentry_project(env_name, sentry_project_id, values),
        schema_item,
    ]


def local_checklist(
    loaded: LoadedConfig, env_name: str, env_file: Path, schema: EnvSchema
) -> Report:
    """The checklist's local half: the seed's items that need only the .env file."""
    from cookcam_ops.envfile.dotenv_parser import read_dotenv_file

    env = loaded.environment(env_name)
    parsed = read_dotenv_file(env_file)
    checks = env_items(parsed, schema, env_name, env.sentry_project_id)
    return Report(
        title=f"checklist {env_name} (local)",
        checks=checks,
        extra={"environment": env_name, "env_file": str(env_file), "scope": "local"},
    )
