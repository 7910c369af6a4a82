"""The env schema (playbooks/env.schema.yaml): typed rules for each variable the API reads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cookcam_ops.errors import ConfigError
from cookcam_ops.yamlfile import load_model

VarType = Literal["string", "integer", "number", "port", "url", "enum", "sentry_dsn"]
SCHEMA_HINT = "see the comments at the top of playbooks/env.schema.yaml"
MAX_PATTERN = 1000  # characters of one pattern


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    required: bool | None = None
    secret: bool | None = None
    type: VarType | None = None
    default: str | int | float | None = None
    values: list[str] | None = None
    schemes: list[str] | None = None
    min_length: int | None = Field(default=None, ge=0)
    pattern: str | None = None
    pattern_hint: str | None = None
    min: float | None = None
    max: float | None = None
    equals: str | None = None

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        import regex

        if v is not None:
            if len(v) > MAX_PATTERN:
                raise ValueError(f"pattern is longer than {MAX_PATTERN} characters")
            try:
                regex.compile(v)
            except regex.error as e:
                raise ValueError(
                    f"pattern is not a valid regular expression ({e.args[0]})"
                ) from None
        return v

    @model_validator(mode="after")
    def _enum_values(self) -> _Rules:
        if self.type == "enum" and not self.values:
            raise ValueError("type enum needs a non-empty 'values' list")
        return self


class _SchemaFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    variables: dict[str, _Rules] = Field(min_length=1)
    environments: dict[str, dict[str, _Rules]] = {}

    @model_validator(mode="after")
    def _known_overrides(self) -> _SchemaFile:
        for env, rules in self.environments.items():
            unknown = sorted(set(rules) - set(self.variables))
            if unknown:
                raise ValueError(f"environments.{env} overrides unknown variable {unknown[0]}")
        return self


@dataclass(frozen=True)
class VarRule:
    """The effective rules for one variable (an environment's overrides applied)."""

    name: str
    required: bool
    secret: bool
    type: VarType
    description: str | None = None
    default: str | None = None
    values: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ("http", "https")
    min_length: int | None = None
    pattern: str | None = None
    pattern_hint: str | None = None
    min: float | None = None
    max: float | None = None
    equals: str | None = None


@dataclass(frozen=True)
class EnvSchema:
    """A loaded schema; `for_environment` gives the rules in force for one environment."""

    path: Path
    variables: dict[str, _Rules]
    environments: dict[str, dict[str, _Rules]]

    def names(self) -> list[str]:
        return list(self.variables)

    def secret_names(self) -> set[str]:
        return {n for n, r in self.variables.items() if r.secret}

    def for_environment(self, environment: str | None) -> list[VarRule]:
        overrides = self.environments.get(environment or "", {})
        return [_merge(name, rules, overrides.get(name)) for name, rules in self.variables.items()]


def _merge(name: str, base: _Rules, override: _Rules | None) -> VarRule:
    merged = base.model_dump(exclude_none=True)
    if override is not None:
        merged.update(override.model_dump(exclude_none=True))
    default = merged.get("default")
    return VarRule(
        name=name,
        required=merged.get("required", True) and default is None,
        secret=merged.get("secret", False),
        type=merged.get("type", "string"),
        description=merged.get("description"),
        default=None if default is None else str(default),
        values=tuple(merged.get("values", ())),
        schemes=tuple(merged.get("schemes", ("http", "https"))),
        min_length=merged.get("min_length"),
        pattern=merged.get("pattern"),
        pattern_hint=merged.get("pattern_hint"),
        min=merged.get("min"),
        max=merged.get("max"),
        equals=merged.get("equals"),
    )


def load_schema(path: Path) -> EnvSchema:
    """Load and validate an env schema file."""
    model, _ = load_model(path, _SchemaFile, "env schema", hint=SCHEMA_HINT)
    for name in model.variables:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
            raise ConfigError(
                f"{path}: env schema: variables.{name}: not a valid variable name", hint=SCHEMA_HINT
            )
    return EnvSchema(
        path=path,
        variables=dict(model.variables),
        environments={k: dict(v) for k, v in model.environments.items()},
    )
