"""Shared test helpers: a valid .env for the CookCam API, and a CLI runner at a fixed width."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest_plugins = ["tests.ordering"]  # --order reverse|random (see tests/ordering.py)

SENTINEL = "S3NT1N3L-9f2c"

VALID_ENV: dict[str, str] = {
    "NODE_ENV": "production",
    "PORT": "3000",
    "SUPABASE_URL": "https://abcdefgh.supabase.co",
    "SUPABASE_ANON_KEY": "anon-key-value-0123456789",
    "SUPABASE_SERVICE_ROLE_KEY": "service-role-value-0123456789",
    "OPENAI_API_KEY": "sk-proj-0123456789abcdef",
    "JWT_SECRET": "j" * 40,
    "JWT_REFRESH_SECRET": "r" * 40,
    "STRIPE_SECRET_KEY": "sk_live_0123456789abcdef",
    "STRIPE_WEBHOOK_SECRET": "whsec_0123456789abcdef",
    "SENTRY_DSN": "https://0123456789abcdef@o123.ingest.sentry.io/4505000000000000",
}


def env_text(values: dict[str, str | None]) -> str:
    """A .env body; a None value drops the key."""
    return "".join(f"{k}={v}\n" for k, v in values.items() if v is not None)


@pytest.fixture
def write_env(tmp_path: Path) -> Callable[..., Path]:
    """Write a .env from VALID_ENV with overrides (None removes a key) or raw text."""

    def _write(raw: str | None = None, name: str = ".env", **overrides: str | None) -> Path:
        path = tmp_path / name
        body = raw if raw is not None else env_text({**VALID_ENV, **overrides})
        path.write_text(body, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def runner(tmp_path: Path) -> CliRunner:
    """The CLI at a fixed width, no ops.yaml from the environment, run logs in a temp dir."""
    return CliRunner(
        env={
            "COLUMNS": "120",
            "NO_COLOR": "1",
            "COOKCAM_OPS_CONFIG": None,
            "XDG_STATE_HOME": str(tmp_path / "state"),
        }
    )
