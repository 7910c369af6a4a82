"""ops.yaml: what cookcam-ops deploys, where, and how it reaches the hosts.

Defaults live here, on the models. Relative paths are resolved against the directory that holds
ops.yaml. ops.yaml holds no secrets: only the names of the variables that do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from cookcam_ops.canary.settings import CanaryConfig
from cookcam_ops.configpath import CONFIG_ENV, DEFAULT_CONFIG, config_path  # noqa: F401
from cookcam_ops.deploy.refs import ref_problem
from cookcam_ops.errors import ConfigError
from cookcam_ops.limits import clip_value
from cookcam_ops.yamlfile import load_model

CONFIG_HINT = "see ops.yaml.example for every key"

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HOST_RE = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9_][A-Za-z0-9_.-]*)@)?"
    r"(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?$"
)

Port = Annotated[int, Field(ge=1, le=65535)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PATH_PART_RE = re.compile(r"^(?!\.\.?$)[A-Za-z0-9._@+,%=:-]{1,255}$")


def _plain_parts(value: str, what: str) -> str:
    parts = value.split("/")
    bad = next((p for p in parts if not PATH_PART_RE.match(p)), None)
    if len(value) > 1024 or bad is not None:
        shown = (
            "an empty part ('//' or a '/' at the end)"
            if bad == ""
            else f"the part {bad[:40]!r}"
            if bad
            else "over 1024 characters"
        )
        raise ValueError(
            f"must be {what} of plain parts (letters, digits and . _ @ + , % = : -; "
            f"not '.' or '..'): {shown} is not"
        )
    return value


def check_app_path(value: str) -> str:
    """An app path: absolute and plain (no '.', '..', '//', trailing '/', spaces or quotes), so
    `<path>.ops` and every command built from it mean exactly that directory."""
    if not value.startswith("/") or value == "/":
        raise ValueError("must be an absolute path on the host (and not /)")
    return "/" + _plain_parts(value[1:], "an absolute path")


def _check_name(value: str, what: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(f"{what} must be letters, digits, '.', '_' or '-' (at most 63)")
    return value


class AppConfig(Model):
    """The app as PM2 and git know it on every host."""

    name: str = "cookcam-api"
    path: str = "/var/www/cookcam/backend/api"
    remote: str = "origin"
    branch: str = "main"
    env_file: str = ".env"
    health_path: str = "/health"
    port: Port = 3000
    # The app's own graceful-shutdown deadline: after this long it gives up draining and exits
    # (the reference API's gracefulShutdown: 8000 ms). PM2's kill_timeout must be above it.
    drain_deadline_ms: int = Field(default=8000, ge=0, le=3_600_000)

    @model_validator(mode="before")
    @classmethod
    def _ignore_repo(cls, data: object) -> object:
        """`repo` (the remote's URL, which an older `init` wrote) is accepted and ignored: hosts
        fetch from `remote` as their checkout names it, so a file that sets it still loads."""
        if isinstance(data, dict) and "repo" in data:
            return {k: v for k, v in data.items() if k != "repo"}
        return data

    @field_validator("name", "remote")
    @classmethod
    def _names(cls, v: str) -> str:
        return _check_name(v, "a name")

    @field_validator("path")
    @classmethod
    def _abs_path(cls, v: str) -> str:
        return check_app_path(v)

    @field_validator("branch")
    @classmethod
    def _branch(cls, v: str) -> str:
        problem = ref_problem(v)
        if problem:
            raise ValueError(f"not a valid git branch name: {problem}")
        return v

    @field_validator("env_file")
    @classmethod
    def _env_file(cls, v: str) -> str:
        return check_app_path(v) if v.startswith("/") else _plain_parts(v, "a file name")

    @field_validator("health_path")
    @classmethod
    def _http_path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must start with '/'")
        return v


def _split_path(v: object) -> object:
    return v.split(":") if isinstance(v, str) else v


def _check_dirs(dirs: list[str]) -> list[str]:
    for d in dirs:
        if not d.startswith("/") or any(c in d for c in ":\n\x00"):
            raise ValueError("each entry must be an absolute directory on the host, without ':'")
    return dirs


# Directories prepended to PATH for every remote command (a list, or one PATH-style string).
ToolPath = Annotated[list[str], BeforeValidator(_split_path), AfterValidator(_check_dirs)]


class SSHConfig(Model):
    """How to reach an environment's hosts: strict host keys against known_hosts."""

    identity_file: str | None = None
    known_hosts: str | None = None
    connect_timeout: float = Field(default=10.0, gt=0, le=300)
    # Directories prepended to PATH for every remote command: where node, npm and pm2 live
    # when a non-interactive ssh command does not find them (nvm, volta, asdf installs).
    path: ToolPath = Field(default_factory=list)


class HostConfig(Model):
    """One host: `user@host[:port]`, with optional per-host overrides."""

    ssh: str
    name: str | None = None
    app_path: str | None = None
    port: Port | None = None
    base_url: str | None = None
    path: ToolPath | None = None  # overrides the environment's ssh.path for this host

    @field_validator("ssh")
    @classmethod
    def _ssh_target(cls, v: str) -> str:
        m = HOST_RE.match(v)
        if not m or (m.group("port") and not 1 <= int(m.group("port")) <= 65535):
            raise ValueError("must be user@host or user@host:port")
        return v

    @field_validator("name")
    @classmethod
    def _host_name(cls, v: str | None) -> str | None:
        return None if v is None else _check_name(v, "a host name")

    @field_validator("app_path")
    @classmethod
    def _app_path(cls, v: str | None) -> str | None:
        return None if v is None else check_app_path(v)

    @property
    def user(self) -> str | None:
        m = HOST_RE.match(self.ssh)
        assert m
        return m.group("user")

    @property
    def hostname(self) -> str:
        m = HOST_RE.match(self.ssh)
        assert m
        return m.group("host").strip("[]")

    @property
    def given_port(self) -> int | None:
        """The port written in `ssh`, if any (else ~/.ssh/config's Port, else 22, applies)."""
        m = HOST_RE.match(self.ssh)
        assert m
        return int(m.group("port")) if m.group("port") else None

    @property
    def ssh_port(self) -> int:
        return self.given_port or 22

    @property
    def label(self) -> str:
        """The name reports use: the configured name, else host[:port]."""
        if self.name:
            return self.name
        return self.hostname if self.ssh_port == 22 else f"{self.hostname}:{self.ssh_port}"


class Strategy(StrEnum):
    """How a host serves the app (ops.yaml's `strategy`; cookcam_ops.layout implements each)."""

    IN_PLACE = "in-place"
    RELEASES = "releases"


NotifyEvent = Literal["deploy", "rollback", "failure", "unlock"]
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


def _every_event() -> list[NotifyEvent]:
    return ["deploy", "rollback", "failure", "unlock"]


def _var_name(v: str) -> str:
    if not ENV_VAR_RE.match(v):
        raise ValueError("must be an environment variable name, not a value")
    return v


class NotifyConfig(Model):
    """A webhook told what happened: the NAME of the variable holding its URL (a secret)."""

    url_env: str
    format: Literal["slack", "json"] = "json"
    events: list[NotifyEvent] = Field(default_factory=_every_event, min_length=1)

    @field_validator("url_env")
    @classmethod
    def _url_var(cls, v: str) -> str:
        return _var_name(v)


class SentryConfig(Model):
    """Where releases and deploys are recorded: a Sentry (sentry.io or self-hosted) project."""

    url: str = "https://sentry.io"
    org: str
    project: str
    auth_token_env: str = "SENTRY_AUTH_TOKEN"
    environment: str | None = None  # Sentry's environment name [default: the ops environment]

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", v):
            raise ValueError("must be an http(s) URL such as https://sentry.io")
        return v.rstrip("/")

    @field_validator("org", "project")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG_RE.match(v):
            raise ValueError("must be a Sentry slug (lowercase letters, digits, '-', '_')")
        return v

    @field_validator("auth_token_env")
    @classmethod
    def _token_var(cls, v: str) -> str:
        return _var_name(v)


def _host_from_str(v: object) -> object:
    return {"ssh": v} if isinstance(v, str) else v


class EnvironmentConfig(Model):
    """One deploy target: its hosts and how to reach and check them."""

    hosts: list[Annotated[HostConfig, Field()]] = Field(min_length=1)
    ssh: SSHConfig = SSHConfig()
    base_url: str | None = None
    sentry_project_id: str | None = None
    batch_size: int = Field(default=1, ge=1)
    strategy: Strategy = Strategy.IN_PLACE
    keep_releases: int = Field(default=5, ge=2)
    canary: CanaryConfig = CanaryConfig()  # deploy --canary and watch
    notify: list[NotifyConfig] = Field(default_factory=list)
    sentry: SentryConfig | None = None

    @field_validator("hosts", mode="before")
    @classmethod
    def _hosts(cls, v: object) -> object:
        return [_host_from_str(h) for h in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _unique_names(self) -> EnvironmentConfig:
        labels = [h.label for h in self.hosts]
        dupes = sorted({n for n in labels if labels.count(n) > 1})
        if dupes:
            raise ValueError(f"host names must be unique (repeated: {', '.join(dupes)})")
        return self


class ProbeConfig(Model):
    """A request that must fail with the duplicate-entry envelope when sent twice."""

    method: Literal["POST", "PUT", "PATCH"] = "POST"
    path: str
    json_body: dict[str, object] = Field(alias="json")


class SmokeConfig(Model):
    """Where smoke tests find credentials: names of variables, never their values."""

    token_env: str = "COOKCAM_SMOKE_TOKEN"
    email_env: str = "COOKCAM_SMOKE_EMAIL"
    password_env: str = "COOKCAM_SMOKE_PASSWORD"
    supabase_url_env: str = "SUPABASE_URL"
    anon_key_env: str = "SUPABASE_ANON_KEY"
    env_file: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    connections: int = Field(default=100, ge=1, le=2000)
    duplicate_probe: ProbeConfig | None = None

    @field_validator("token_env", "email_env", "password_env", "supabase_url_env", "anon_key_env")
    @classmethod
    def _var_names(cls, v: str) -> str:
        return _var_name(v)


class PlaybooksConfig(Model):
    deploy: str | None = None
    rollback: str | None = None
    deploy_releases: str | None = None
    rollback_releases: str | None = None


class OpsConfig(Model):
    """The whole of ops.yaml."""

    app: AppConfig = AppConfig()
    env_schema: str | None = None
    playbooks: PlaybooksConfig = PlaybooksConfig()
    environments: dict[str, EnvironmentConfig] = Field(min_length=1)
    smoke: SmokeConfig = SmokeConfig()

    @field_validator("environments")
    @classmethod
    def _env_names(cls, v: dict[str, EnvironmentConfig]) -> dict[str, EnvironmentConfig]:
        for name in v:
            _check_name(name, "an environment name")
        return v


@dataclass(frozen=True)
class LoadedConfig:
    """ops.yaml as loaded, with the directory its relative paths are resolved against."""

    config: OpsConfig
    path: Path

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, value: str) -> Path:
        """A path from ops.yaml: `~` expanded, relative to ops.yaml's directory."""
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else self.base_dir / p

    def environment(self, name: str) -> EnvironmentConfig:
        try:
            return self.config.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.config.environments))
            raise ConfigError(
                f"unknown environment {clip_value(name)} in {self.path}",
                hint=f"known environments: {known}",
            ) from None

    def schema_path(self) -> Path:
        from cookcam_ops.resources import default_playbook

        if self.config.env_schema:
            return self.resolve(self.config.env_schema)
        return default_playbook("env.schema.yaml")


def load_config(path: Path) -> LoadedConfig:
    """Load and validate ops.yaml."""
    if not path.exists():
        raise ConfigError(
            f"{path}: ops.yaml not found",
            hint=f"pass --config PATH, set {CONFIG_ENV}, or write one with "
            "`cookcam-ops init` (add --from-host USER@HOST to fill it in from "
            "a running server)",
        )
    config, _ = load_model(path, OpsConfig, "ops.yaml", hint=CONFIG_HINT)
    return LoadedConfig(config=config, path=path.resolve())
