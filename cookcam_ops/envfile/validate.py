"""Judging a .env file against the env schema: one check per variable, plus file findings.

Details name variables, line numbers and rules, never a secret's value (nor any part of it).
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

from cookcam_ops.envfile.dotenv_parser import ParsedEnv, read_dotenv_file, shown_name
from cookcam_ops.envfile.schema import EnvSchema, VarRule
from cookcam_ops.errors import ConfigError
from cookcam_ops.limits import SCHEMA_PATTERN_BUDGET_S, clip_value
from cookcam_ops.report import Check, Report, Status

SENTRY_DSN_RE = re.compile(
    r"^https?://(?P<key>[^@/:\s]+)(?::[^@/\s]*)?@(?P<host>[^/\s]+)"
    r"/(?:[^/\s]+/)*(?P<project>\d+)/?$"
)
PLACEHOLDER_RE = re.compile(
    r"^(changeme|change_me|xxx+|todo|placeholder|your[-_ ].*|<.*>)$", re.IGNORECASE
)
MAX_FINDINGS_IN_DETAIL = 5
MAX_NAMES_IN_DETAIL = 20


def _show(rule: VarRule, value: str) -> str:
    """A value quoted for a detail (a short prefix when long), or a neutral word when the
    variable is secret."""
    return "the value" if rule.secret or rule.type == "url" else clip_value(value)


def _judge_type(rule: VarRule, value: str) -> str | None:
    """The reason the value does not have the rule's type, or None."""
    if rule.type in ("integer", "port"):
        if not re.fullmatch(r"[+-]?\d{1,30}", value.strip()):
            return f"{_show(rule, value)} is not a whole number (of at most 30 digits)"
        n = int(value)
        if rule.type == "port" and not 1 <= n <= 65535:
            return f"{_show(rule, value)} is not a port (1-65535)"
    elif rule.type == "number":
        try:
            if not math.isfinite(float(value)):
                raise ValueError
        except ValueError:
            return f"{_show(rule, value)} is not a number"
    elif rule.type == "url":
        parts = urlsplit(value)
        if parts.scheme not in rule.schemes or not parts.netloc:
            return f"{_show(rule, value)} is not a URL ({' or '.join(rule.schemes)})"
    elif rule.type == "enum" and value not in rule.values:
        return f"{_show(rule, value)} is not one of {', '.join(rule.values)}"
    elif rule.type == "sentry_dsn" and not SENTRY_DSN_RE.match(value):
        return "is not a Sentry DSN (expected https://KEY@HOST/PROJECT_ID)"
    return None


def pattern_matches(rule: VarRule, pattern: str, value: str, deadline: float) -> bool:
    """re.search semantics, bounded in time (the `regex` module's timeout): a pattern that
    backtracks catastrophically is a ConfigError naming it, not a hang."""
    import regex

    try:
        return (
            regex.search(pattern, value, timeout=max(0.01, deadline - time.monotonic())) is not None
        )
    except TimeoutError:
        raise ConfigError(
            f"env schema: variables.{rule.name}.pattern {clip_value(pattern, 40)} "
            f"did not finish within {SCHEMA_PATTERN_BUDGET_S:g}s on the value: it "
            "backtracks catastrophically (nested repetition such as (a+)+)",
            hint="rewrite the pattern without nested or overlapping repetition",
        ) from None


def _judge_bounds(rule: VarRule, value: str, deadline: float) -> str | None:
    if rule.min_length is not None and len(value) < rule.min_length:
        return f"must be at least {rule.min_length} characters"
    if rule.pattern is not None and not pattern_matches(rule, rule.pattern, value, deadline):
        return (
            f"is not {rule.pattern_hint}"
            if rule.pattern_hint
            else f"does not match {clip_value(rule.pattern, 60)}"
        )
    if rule.type in {"number", "integer"}:
        n = float(value)
        if rule.min is not None and n < rule.min:
            return f"{_show(rule, value)} is below the minimum {rule.min:g}"
        if rule.max is not None and n > rule.max:
            return f"{_show(rule, value)} is above the maximum {rule.max:g}"
    if rule.equals is not None and value != rule.equals:
        return f"{_show(rule, value)} must be '{rule.equals}' here"
    return None


def judge(rule: VarRule, value: str | None, deadline: float | None = None) -> Check:
    """One variable's check: pass, warn or fail, with a reason that never shows a secret.

    deadline (time.monotonic()) bounds the schema patterns of a whole file together."""
    if value is None:
        if rule.default is not None:
            return Check(
                rule.name, Status.PASS, f"not set; the API uses the default {rule.default}"
            )
        if not rule.required:
            return Check(rule.name, Status.PASS, "not set (optional)")
        return Check(rule.name, Status.FAIL, "required but not set")
    if value == "":
        return Check(
            rule.name,
            Status.FAIL,
            "is empty; the API's Joi schema rejects empty strings: give it a value or "
            "remove the line",
        )
    if deadline is None:
        deadline = time.monotonic() + SCHEMA_PATTERN_BUDGET_S
    reason = _judge_type(rule, value) or _judge_bounds(rule, value, deadline)
    if reason:
        return Check(rule.name, Status.FAIL, reason)
    if rule.secret and PLACEHOLDER_RE.match(value.strip()):
        return Check(rule.name, Status.WARN, "looks like a placeholder, not a real secret")
    if value != value.strip():
        return Check(rule.name, Status.WARN, "has leading or trailing whitespace inside quotes")
    return Check(rule.name, Status.PASS, _pass_detail(rule, value))


def _pass_detail(rule: VarRule, value: str) -> str:
    if rule.secret:
        return "set"
    if rule.type == "url":  # never echo credentials a URL may carry
        parts = urlsplit(value)
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:  # a port out of range: the scheme and host say enough
            port = ""
        return f"{parts.scheme}://{parts.hostname}{port}"[:80]
    return clip_value(value)


def file_checks(parsed: ParsedEnv, schema: EnvSchema) -> list[Check]:
    """File-level findings (syntax, BOM, CRLF, duplicates, portability) and unknown variables."""
    by_kind: dict[str, list[tuple[str, str]]] = {}
    for finding in parsed.findings:
        by_kind.setdefault(finding.kind, []).append((finding.severity, finding.message))
    checks = []
    for kind, items in by_kind.items():
        status = Status.FAIL if any(sev == "fail" for sev, _ in items) else Status.WARN
        messages = [msg for _, msg in items]
        detail = "; ".join(messages[:MAX_FINDINGS_IN_DETAIL])
        if len(messages) > MAX_FINDINGS_IN_DETAIL:
            detail += f"; and {len(messages) - MAX_FINDINGS_IN_DETAIL} more"
        checks.append(Check(f"file.{kind}", status, detail))
    unknown = [shown_name(k) for k in parsed.values if k not in schema.variables]
    if unknown:
        more = len(unknown) - MAX_NAMES_IN_DETAIL
        checks.append(
            Check(
                "file.unknown-variables",
                Status.WARN,
                f"not in the schema: {', '.join(unknown[:MAX_NAMES_IN_DETAIL])}"
                + (f"; and {more} more" if more > 0 else ""),
            )
        )
    return checks


def validate_parsed(parsed: ParsedEnv, schema: EnvSchema, environment: str | None) -> list[Check]:
    """Every schema variable judged as the API would read it, then file-level findings."""
    deadline = time.monotonic() + SCHEMA_PATTERN_BUDGET_S
    checks = [
        judge(rule, parsed.values.get(rule.name), deadline)
        for rule in schema.for_environment(environment)
    ]
    return checks + file_checks(parsed, schema)


def validate_env_file(path: Path, schema: EnvSchema, environment: str | None) -> Report:
    """`env validate`: the file as Node's dotenv reads it, judged against the schema."""
    parsed = read_dotenv_file(path)
    checks = validate_parsed(parsed, schema, environment)
    return Report(
        title=f"env validate {path}",
        checks=checks,
        extra={"file": str(path), "schema": str(schema.path), "environment": environment},
    )
