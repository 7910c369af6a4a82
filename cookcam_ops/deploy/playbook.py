"""Playbooks as data: the steps of a deploy or a rollback, loaded from YAML into typed models.

A step is either `builtin: NAME` (lock, checklist, test_build, reload, health, smoke, record,
prune) or `run:` a shell template whose `{placeholders}` are filled with q()-quoted values at
plan time (render(), the one place they are quoted); a placeholder that would not be one safe
shell word there (in quotes, after a backslash, joined to a quote...) is refused at load.
A bad playbook is one ConfigError line naming the file, the line and the step.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cookcam_ops.config import Strategy
from cookcam_ops.deploy.shellwords import placeholder_problems
from cookcam_ops.errors import ConfigError
from cookcam_ops.remote.protocol import q
from cookcam_ops.yamlfile import YamlDoc, format_key_path, load_yaml

if TYPE_CHECKING:
    from cookcam_ops.config import LoadedConfig

Builtin = Literal["lock", "checklist", "test_build", "reload", "health", "smoke", "record", "prune"]


class StepKind(StrEnum):
    """What a step does: each builtin (`Builtin`, the playbook's schema), `run:` a command, or
    one of the PLAN_ONLY kinds. The engine runs a kind through the registry in its run context
    (steps.STEP_KINDS)."""

    LOCK = "lock"
    CHECKLIST = "checklist"
    TEST_BUILD = "test_build"
    RELOAD = "reload"
    HEALTH = "health"
    SMOKE = "smoke"
    RECORD = "record"
    PRUNE = "prune"
    RUN = "run"
    HANDOVER = "handover"  # its command moves the PM2 app (deploy/handover.py): judged by its JSON
    CWD_CHECK = "cwd_check"  # its command lists the app's workers' cwds: all in the release?
    PM2_SAVE = "pm2_save"  # its command saves PM2's list (persist.settle_script): judged so


# Kinds only plans built in code use (migrate-to-releases' steps), not offered to playbooks:
# each takes its exact command from the plan, so a dry run shows what runs.
PLAN_ONLY = frozenset({StepKind.HANDOVER, StepKind.CWD_CHECK, StepKind.PM2_SAVE})


Condition = Literal["always", "needs_build", "lockfile_changed", "lockfile_unchanged"]
PREFLIGHT = frozenset({"lock", "checklist"})
PLACEHOLDERS = frozenset(
    {
        "app_path",
        "ops_path",
        "build_path",
        "prev_path",
        "incoming_path",
        "branch",
        "remote",
        "app_name",
        "to_sha",
        "from_sha",
        "ref",
        "port",
        "repo_path",
        "shared_path",
        "releases_path",
        "current_path",
        "env_file",
        "release_path",
        "release_name",
        "from_release_path",
        "keep_releases",
        "to_tree",
        "app_subdir",
    }
)
# `{name}` not preceded by `$`, so shell parameter expansions like ${HOME} stay shell syntax.
PLACEHOLDER_RE = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")
STEP_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DEFAULT_EXPECT = "Environment validation successful"
HINT = "see the comment at the top of playbooks/deploy.yaml for the format"


class Step(BaseModel):
    """One step: a built-in by name, or a shell template run on the host in the app directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    builtin: Builtin | None = None
    run: str | None = None
    timeout: float = Field(default=120.0, gt=0, le=7200)
    when: Condition = "always"
    switch: bool = False
    retries: int = Field(default=0, ge=0, le=100)
    delay: float = Field(default=1.0, ge=0, le=300)
    expect: str | None = None
    connections: int | None = Field(default=None, ge=1, le=2000)
    overlap: bool = False
    min_free_mb: int | None = Field(default=None, ge=1, le=10_000_000)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not STEP_NAME_RE.match(v):
            raise ValueError("a step name is lowercase letters, digits, '-' or '_' (at most 40)")
        return v

    @field_validator("run")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.strip():
            raise ValueError("run must not be empty")
        unknown = sorted({m for m in PLACEHOLDER_RE.findall(v) if m not in PLACEHOLDERS})
        if unknown:
            raise ValueError(
                f"unknown placeholder {{{unknown[0]}}} (known: {', '.join(sorted(PLACEHOLDERS))})"
            )
        return v

    @model_validator(mode="after")
    def _kind(self) -> Step:
        if (self.builtin is None) == (self.run is None):
            raise ValueError("a step needs exactly one of `builtin:` or `run:`")
        if self.switch and self.run is None:
            raise ValueError("`switch: true` belongs on a `run:` step")
        if self.switch and self.when != "always":
            raise ValueError("the switch step cannot be conditional (`when:`)")
        if self.expect is not None and self.builtin != "test_build":
            raise ValueError("`expect:` only applies to `builtin: test_build`")
        if self.connections is not None and self.builtin != "smoke":
            raise ValueError("`connections:` only applies to `builtin: smoke`")
        if self.overlap and self.builtin != "reload":
            raise ValueError("`overlap:` only applies to `builtin: reload`")
        if self.min_free_mb is not None and self.run is None:
            raise ValueError("`min_free_mb:` only applies to `run:` steps")
        return self

    @property
    def kind(self) -> StepKind:
        return StepKind(self.builtin or "run")

    @property
    def preflight(self) -> bool:
        return self.builtin in PREFLIGHT


class Playbook(BaseModel):
    """A deploy or rollback playbook."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    facts_timeout: float = Field(default=120.0, gt=0, le=3600)
    steps: list[Step] = Field(min_length=1)

    @property
    def switch_index(self) -> int:
        return next(i for i, s in enumerate(self.steps) if s.switch)


def render(template: str, values: dict[str, str]) -> str:
    """Fill a run template: every placeholder becomes its value, shell-quoted."""
    return PLACEHOLDER_RE.sub(lambda m: q(values[m.group(1)]), template)


def _step_label(doc: YamlDoc, index: int) -> str:
    steps = doc.data.get("steps") if isinstance(doc.data, dict) else None
    name = None
    if isinstance(steps, list) and index < len(steps) and isinstance(steps[index], dict):
        name = steps[index].get("name")
    return f"step {name!r}" if isinstance(name, str) else f"step {index + 1}"


def _error(doc: YamlDoc, key_path: tuple[str | int, ...], message: str) -> ConfigError:
    line = doc.line_of(key_path)
    where = f"{doc.path}:{line}" if line else str(doc.path)
    if len(key_path) >= 2 and key_path[0] == "steps" and isinstance(key_path[1], int):
        rest = format_key_path(key_path[2:])
        label = _step_label(doc, key_path[1]) + (f" ({rest})" if rest else "")
    else:
        label = format_key_path(key_path) or "playbook"
    return ConfigError(f"{where}: playbook: {label}: {message}", hint=HINT)


def _pydantic_error(doc: YamlDoc, error: ValidationError) -> ConfigError:
    first = error.errors(include_input=False, include_url=False)[0]
    key_path = tuple(p for p in first["loc"] if isinstance(p, (str, int)))
    msg = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "missing":
        msg = "required key is missing"
    return _error(doc, key_path, msg)


def _check_order(doc: YamlDoc, book: Playbook) -> None:
    """Cross-step rules: unique names, lock first, preflight before work, one switch."""
    seen: set[str] = set()
    for i, step in enumerate(book.steps):
        if step.name in seen:
            raise _error(doc, ("steps", i, "name"), f"the name {step.name!r} is used twice")
        seen.add(step.name)
        if i > 0 and step.preflight and not book.steps[i - 1].preflight:
            raise _error(
                doc,
                ("steps", i),
                f"`builtin: {step.builtin}` must come before every other kind of step",
            )
    if book.steps[0].builtin != "lock":
        raise _error(doc, ("steps", 0), "the first step must be `builtin: lock`")
    switches = [i for i, s in enumerate(book.steps) if s.switch]
    if len(switches) != 1:
        where = ("steps", switches[1]) if switches else ("steps",)
        raise _error(
            doc,
            where,
            f"a playbook needs exactly one step with `switch: true` (found {len(switches)})",
        )
    for i, step in enumerate(book.steps[switches[0] + 1 :], start=switches[0] + 1):
        if step.when != "always":
            raise _error(doc, ("steps", i, "when"), "steps after the switch cannot be conditional")


def _check_placeholders(doc: YamlDoc, book: Playbook) -> None:
    """Every placeholder stands where its quoted value is one safe shell word (shellwords)."""
    for i, step in enumerate(book.steps):
        problems = placeholder_problems(step.run, PLACEHOLDER_RE) if step.run else []
        if problems:
            offset, why = problems[0]
            line = doc.text_line(("steps", i, "run"), offset)
            where = f"{doc.path}:{line}" if line else str(doc.path)
            raise ConfigError(f"{where}: playbook: {_step_label(doc, i)} (run): {why}", hint=HINT)


def load_playbook(path: Path) -> Playbook:
    """Load and validate a playbook file."""
    doc = load_yaml(path, "playbook")
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{path}: playbook must be a mapping with `steps:`", hint=HINT)
    try:
        book = Playbook.model_validate(doc.data)
    except ValidationError as e:
        raise _pydantic_error(doc, e) from None
    _check_order(doc, book)
    _check_placeholders(doc, book)
    return book


def playbook_path(loaded: LoadedConfig, action: str, strategy: str = Strategy.IN_PLACE) -> Path:
    """The playbook ops.yaml names for action (deploy or rollback), else the built-in one.

    strategy: releases reads `deploy_releases` / `rollback_releases` and defaults to
    playbooks/deploy-releases.yaml and rollback-releases.yaml.
    """
    from cookcam_ops.resources import default_playbook

    key = action if strategy == Strategy.IN_PLACE else f"{action}_releases"
    configured = getattr(loaded.config.playbooks, key)
    suffix = "" if strategy == Strategy.IN_PLACE else "-releases"
    return loaded.resolve(configured) if configured else default_playbook(f"{action}{suffix}.yaml")
