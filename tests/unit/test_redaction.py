"""No secret value reaches any output: a sentinel planted in every secret, every format grepped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from typer.testing import CliRunner

from cookcam_ops.cli.main import app
from cookcam_ops.envfile.schema import load_schema
from cookcam_ops.resources import default_playbook
from tests.conftest import SENTINEL

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

ROOT = Path(__file__).resolve().parents[2]
SECRETS = sorted(load_schema(default_playbook("env.schema.yaml")).secret_names())

# Valid and invalid shapes of each secret, all carrying the sentinel.
VARIANTS: dict[str, list[str]] = {
    "JWT_SECRET": [SENTINEL * 5, SENTINEL, f"{SENTINEL}#{SENTINEL * 5}"],
    "JWT_REFRESH_SECRET": [SENTINEL * 5, "x" + SENTINEL],
    "STRIPE_SECRET_KEY": [
        f"sk_live_{SENTINEL.replace('-', '')}",
        f"pk_{SENTINEL}",
        f"sk_test_{SENTINEL.replace('-', '')}",
    ],
    "STRIPE_WEBHOOK_SECRET": [f"whsec_{SENTINEL.replace('-', '')}", SENTINEL],
    "SENTRY_DSN": [
        f"https://{SENTINEL}@o1.ingest.sentry.io/4505000000000000",
        f"https://{SENTINEL}@o1.ingest.sentry.io/1",
        f"http//{SENTINEL}",
    ],
}


def cases() -> list[dict[str, str]]:
    out = [{name: v for name, vs in VARIANTS.items() for v in vs[:1]}]
    for name, values in VARIANTS.items():
        out.extend({name: v} for v in values[1:])
    out.append({name: SENTINEL for name in SECRETS})
    out.append({name: f"'{SENTINEL}" for name in SECRETS})  # unterminated quotes
    return out


def test_every_schema_secret_is_covered() -> None:
    assert {"SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "OPENAI_API_KEY"} <= set(SECRETS)


@pytest.mark.parametrize("overrides", cases())
@pytest.mark.parametrize("fmt", ["table", "json", "junit"])
def test_sentinel_never_printed(
    runner: CliRunner,
    write_env: Callable[..., Path],
    tmp_path: Path,
    overrides: dict[str, str],
    fmt: str,
) -> None:
    base = {name: f"{SENTINEL}-{name}" for name in SECRETS if name not in VARIANTS}
    env = write_env(**{**base, **overrides})
    with env.open("a") as f:
        f.write(
            f"{SENTINEL} not an assignment\nDUPLICATE_X={SENTINEL}\nDUPLICATE_X={SENTINEL}\n"
            f"INTERP=${{{SENTINEL}}}\n"
        )
    junit = tmp_path / "junit.xml"
    extra = {"json": ["--json"], "junit": ["--junit", str(junit)], "table": []}[fmt]
    for args in (
        ["env", "validate", str(env), "--environment", "production"],
        [
            "--config",
            str(ROOT / "ops.yaml.example"),
            "checklist",
            "production",
            "--local",
            "--env-file",
            str(env),
        ],
    ):
        result = runner.invoke(app, args + extra)
        assert result.exit_code in (0, 1), result.stderr
        assert SENTINEL not in result.stdout
        assert SENTINEL not in result.stderr
        if fmt == "junit":
            assert SENTINEL not in junit.read_text()


class _Secrets:
    """What assert_no_secrets needs of a sandbox."""

    def __init__(self, *values: str) -> None:
        self.values = list(values)

    def secret_values(self) -> list[str]:
        return self.values


def test_the_e2e_leak_check_fails_when_it_has_no_secret_to_look_for() -> None:
    from tests.e2e.helpers import assert_no_secrets

    def check(sb: _Secrets, *texts: str) -> None:
        assert_no_secrets(cast("Sandbox", sb), *texts)

    check(_Secrets(SENTINEL), "clean output", "more")
    with pytest.raises(AssertionError, match="output number \\[1\\] of 2") as leaked:
        check(_Secrets(SENTINEL), "clean", f"x{SENTINEL}x")
    assert SENTINEL not in str(leaked.value)
    with pytest.raises(AssertionError, match="no secret values to look for"):
        check(_Secrets(), "anything")
