"""Env validation: one check per schema variable, with reasons that never show a secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cookcam_ops.envfile.schema import load_schema
from cookcam_ops.envfile.validate import validate_env_file
from cookcam_ops.errors import ConfigError
from cookcam_ops.report import Report, Status
from cookcam_ops.resources import default_playbook

SCHEMA = load_schema(default_playbook("env.schema.yaml"))


def run(path: Path, environment: str | None = None) -> Report:
    return validate_env_file(path, SCHEMA, environment)


def status(report: Report, name: str) -> tuple[Status, str]:
    check = next(c for c in report.checks if c.name == name)
    return check.status, check.detail


def test_valid_file_has_one_check_per_variable(write_env: Callable[..., Path]) -> None:
    report = run(write_env(), "production")
    assert report.ok
    assert [c.name for c in report.checks] == SCHEMA.names()
    assert status(report, "PORT") == (Status.PASS, "'3000'")
    assert status(report, "LOG_LEVEL")[1] == "not set (optional)"


@pytest.mark.parametrize(
    ("overrides", "name", "reason"),
    [
        ({"OPENAI_API_KEY": None}, "OPENAI_API_KEY", "required but not set"),
        ({"OPENAI_API_KEY": ""}, "OPENAI_API_KEY", "is empty"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET", "at least 32 characters"),
        ({"JWT_REFRESH_SECRET": "x" * 31}, "JWT_REFRESH_SECRET", "at least 32 characters"),
        ({"STRIPE_SECRET_KEY": "pk_live_abc"}, "STRIPE_SECRET_KEY", "sk_test_… or sk_live_…"),
        ({"STRIPE_WEBHOOK_SECRET": "abc"}, "STRIPE_WEBHOOK_SECRET", "whsec_"),
        ({"SENTRY_DSN": "https://sentry.io/123"}, "SENTRY_DSN", "not a Sentry DSN"),
        ({"PORT": "70000"}, "PORT", "not a port"),
        ({"PORT": "http"}, "PORT", "not a whole number"),
        (
            {"NODE_ENV": "staging"},
            "NODE_ENV",
            "'staging' is not one of development, test, production",
        ),
        ({"SUPABASE_URL": "ftp://x"}, "SUPABASE_URL", "not a URL"),
        ({"SENTRY_TRACES_SAMPLE_RATE": "1.5"}, "SENTRY_TRACES_SAMPLE_RATE", "above the maximum 1"),
        ({"SENTRY_TRACES_SAMPLE_RATE": "lots"}, "SENTRY_TRACES_SAMPLE_RATE", "not a number"),
    ],
)
def test_each_rule_fails_with_a_reason(
    write_env: Callable[..., Path], overrides: dict[str, str], name: str, reason: str
) -> None:
    report = run(write_env(**overrides))
    st, detail = status(report, name)
    assert st is Status.FAIL
    assert reason in detail
    assert not report.ok


def test_production_rules_apply_only_with_environment(write_env: Callable[..., Path]) -> None:
    path = write_env(NODE_ENV="development", STRIPE_SECRET_KEY="sk_test_abc123")
    assert run(path).ok
    report = run(path, "production")
    assert status(report, "NODE_ENV") == (Status.FAIL, "'development' must be 'production' here")
    assert (
        status(report, "STRIPE_SECRET_KEY")[1]
        == "is not a live Stripe key (sk_live_…) in production"
    )


def test_port_default_is_not_required(write_env: Callable[..., Path]) -> None:
    report = run(write_env(PORT=None))
    assert status(report, "PORT") == (Status.PASS, "not set; the API uses the default 3000")


def test_values_judged_as_node_reads_them(write_env: Callable[..., Path]) -> None:
    # Node's dotenv cuts an unquoted value at '#': the API sees a 3-character secret.
    path = write_env(JWT_SECRET="abc#" + "d" * 40)
    report = run(path)
    assert status(report, "JWT_SECRET")[0] is Status.FAIL
    quoted = write_env(JWT_SECRET='"abc#' + "d" * 40 + '"')
    assert status(run(quoted), "JWT_SECRET")[0] is Status.PASS


def test_unknown_variables_warn(write_env: Callable[..., Path]) -> None:
    report = run(write_env(EXTRA_THING="1"))
    assert report.ok
    assert status(report, "file.unknown-variables") == (
        Status.WARN,
        "not in the schema: EXTRA_THING",
    )


def test_placeholder_secret_warns(write_env: Callable[..., Path]) -> None:
    st, detail = status(run(write_env(OPENAI_API_KEY="changeme")), "OPENAI_API_KEY")
    assert (st, detail) == (Status.WARN, "looks like a placeholder, not a real secret")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.env file not found"):
        run(tmp_path / "absent.env")


def test_bad_schema_names_file_line_and_key(tmp_path: Path) -> None:
    p = tmp_path / "schema.yaml"
    p.write_text("variables:\n  PORT:\n    type: prot\n")
    with pytest.raises(ConfigError) as info:
        load_schema(p)
    assert f"{p}:3: env schema: variables.PORT.type: Input should be" in str(info.value)
