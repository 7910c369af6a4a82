"""The one error hierarchy: every error a user can cause carries its exit code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Exit codes of every cookcam-ops command (the README's CLI contract)."""

    OK = 0
    CHECKS_FAILED = 1  # checks failed, or a deploy failed and was rolled back healthy
    USAGE = 2  # bad flag, config, schema, playbook, missing file, refused input
    UNREACHABLE = 3  # a host could not be reached or authenticated (host keys too)
    ROLLBACK_FAILED = 4  # a deploy failed and its rollback failed too
    LOCKED = 5  # another operation holds the deploy lock
    INTERRUPTED = 130
    INTERNAL = 70  # a bug in cookcam-ops (the traceback with --debug)


class OpsError(Exception):
    """A known failure: one line for the user, and the exit code it maps to.

    The message must never contain a secret value; callers name keys, files and hosts only.
    `kind` names the failure in JSON documents (`error.kind`); `details` are extra fields a
    document carries (what the run knew when it stopped), never secrets.
    """

    exit_code: ExitCode = ExitCode.USAGE
    kind: str = "usage"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message

    def details(self) -> dict[str, Any]:
        """Fields the JSON document of this failure adds beside `error` (none by default)."""
        return {}


class UsageError(OpsError):
    """Refused input: a bad flag value, ref or name."""


class ConfigError(OpsError):
    """ops.yaml, a schema or a playbook is missing, unreadable or invalid."""

    kind = "config"


@dataclass(frozen=True)
class Unreachable:
    """A host that could not be used, and why (the JSON's `unreachable` entries)."""

    host: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"host": self.host, "reason": self.reason}


class HostError(OpsError):
    """A host could not be reached or authenticated, or its host key is unknown or changed.

    `hosts` names every host that failed so (when known) and `answered` those that did not,
    so a document says which hosts answered and which did not, and why.
    """

    exit_code = ExitCode.UNREACHABLE
    kind = "unreachable"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        host: str | None = None,
        hosts: tuple[Unreachable, ...] = (),
        answered: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint)
        self.hosts = hosts or ((Unreachable(host, message),) if host else ())
        self.answered = answered

    def details(self) -> dict[str, Any]:
        return {"unreachable": [h.to_dict() for h in self.hosts], "answered": list(self.answered)}


class ChecksFailed(OpsError):
    """Checks failed (used when a command has no report to carry the failure)."""

    exit_code = ExitCode.CHECKS_FAILED
    kind = "checks_failed"


class LockHeld(OpsError):
    """Another operation holds the deploy lock; `holder` is what its info file says."""

    exit_code = ExitCode.LOCKED
    kind = "locked"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        host: str | None = None,
        holder: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.host = host
        self.holder = holder

    def details(self) -> dict[str, Any]:
        return {"lock": {"host": self.host, "holder": self.holder}}


class Interrupted(OpsError):
    """Ctrl-C (or SIGTERM) stopped a command before it changed anything."""

    exit_code = ExitCode.INTERRUPTED
    kind = "interrupted"


class SandboxError(OpsError):
    """The sandbox could not be brought up, changed or inspected."""

    kind = "sandbox"


class MissingToolError(OpsError):
    """A program the command needs (sshd, node, npm, git) is not installed."""

    kind = "missing_tool"
