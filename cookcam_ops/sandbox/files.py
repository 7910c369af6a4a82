"""The files a sandbox writes for its users (pure): ops.yaml, the hosts' .env, smoke.env.

Secrets are generated here and go only into files of mode 600; ops.yaml and state.json name
files and variables, never values.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from cookcam_ops.sandbox.layout import HostState, Layout

APP_NAME = "cookcam-api"
ENV_NAME = "sandbox"
SMOKE_EMAIL = "smoke@cookcam.test"
DUPLICATE_PROBE = {
    "method": "POST",
    "path": "/api/v1/recipes",
    "json": {"title": "cookcam-ops smoke"},
}


@dataclass(frozen=True)
class Secrets:
    """The sandbox's generated credentials: kept in memory, written only to mode-600 files."""

    anon_key: str
    stub_jwt_secret: str
    smoke_password: str
    smoke_user_id: str

    def __repr__(self) -> str:
        return "Secrets(***)"


def new_secrets() -> Secrets:
    """Fresh random credentials for the auth stub and the smoke user."""
    return Secrets(
        anon_key=f"sandbox-anon-{secrets.token_urlsafe(24)}",
        stub_jwt_secret=secrets.token_urlsafe(48),
        smoke_password=secrets.token_urlsafe(18),
        smoke_user_id=str(uuid.uuid4()),
    )


def new_sentry_project_id() -> str:
    """A made-up Sentry project id for the sandbox's DSNs and ops.yaml."""
    return str(4_500_000 + secrets.randbelow(499_999))


def app_env(port: int, auth_url: str, anon_key: str, sentry_project_id: str) -> dict[str, str]:
    """A valid .env for one host: every variable the API requires, random secrets."""
    return {
        "NODE_ENV": "production",
        "PORT": str(port),
        "SUPABASE_URL": auth_url,
        "SUPABASE_ANON_KEY": anon_key,
        "SUPABASE_SERVICE_ROLE_KEY": f"sandbox-service-{secrets.token_urlsafe(24)}",
        "OPENAI_API_KEY": f"sk-sandbox-{secrets.token_hex(20)}",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "JWT_REFRESH_SECRET": secrets.token_urlsafe(48),
        "STRIPE_SECRET_KEY": f"sk_test_{secrets.token_hex(16)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
        "SENTRY_DSN": f"https://{secrets.token_hex(16)}@sentry.invalid/{sentry_project_id}",
        "SENTRY_ENVIRONMENT": "sandbox",
        "LOG_LEVEL": "info",
    }


def env_text(values: dict[str, str]) -> str:
    """A .env body (values are generated from URL-safe characters: no quoting needed)."""
    return "".join(f"{k}={v}\n" for k, v in values.items())


def smoke_env(auth_url: str, sec: Secrets) -> dict[str, str]:
    """smoke.env: how smoke tests sign in to the stub."""
    return {
        "COOKCAM_SMOKE_EMAIL": SMOKE_EMAIL,
        "COOKCAM_SMOKE_PASSWORD": sec.smoke_password,
        "SUPABASE_URL": auth_url,
        "SUPABASE_ANON_KEY": sec.anon_key,
    }


def stub_config(sec: Secrets) -> dict[str, Any]:
    """The auth stub's --config document."""
    return {
        "anon_key": sec.anon_key,
        "jwt_secret": sec.stub_jwt_secret,
        "email": SMOKE_EMAIL,
        "password": sec.smoke_password,
        "user_id": sec.smoke_user_id,
        "delay_ms": 0,
    }


def ops_yaml_doc(
    layout: Layout,
    user: str,
    hosts: tuple[HostState, ...],
    sentry_project_id: str,
    connect_timeout: float = 10.0,
    *,
    strategy: str = "in-place",
) -> dict[str, Any]:
    """ops.yaml for the sandbox: one environment, `sandbox`, with every host as a mapping."""
    first = hosts[0]
    return {
        "app": {
            "name": APP_NAME,
            "path": first.app_path,
            "remote": "origin",
            "branch": "main",
            "env_file": ".env",
            "health_path": "/health",
            "port": first.app_port,
        },
        "environments": {
            ENV_NAME: {
                "hosts": [
                    {
                        "ssh": f"{user}@127.0.0.1:{h.ssh_port}",
                        "name": h.name,
                        "app_path": h.app_path,
                        "port": h.app_port,
                        "base_url": h.base_url,
                    }
                    for h in hosts
                ],
                "ssh": {
                    "identity_file": str(layout.client_key),
                    "known_hosts": str(layout.known_hosts),
                    "connect_timeout": connect_timeout,
                },
                "sentry_project_id": sentry_project_id,
                "batch_size": 1,
                **({"strategy": strategy} if strategy != "in-place" else {}),
            }
        },
        "smoke": {"env_file": layout.smoke_env.name, "duplicate_probe": DUPLICATE_PROBE},
    }


def ops_yaml_text(doc: dict[str, Any]) -> str:
    """ops.yaml's text, with a header saying where it came from."""
    import yaml

    header = (
        "# Written by `cookcam-ops sandbox up`: the sandbox's hosts on loopback.\n"
        "# Secrets live in smoke.env and in each host's .env (mode 600), never here.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
