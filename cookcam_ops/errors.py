"""The one error hierarchy: every error a user can cause carries its exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every cookcam-ops command (the README's CLI contract)."""

    OK = 0
    CHECKS_FAILED = 1  # checks failed, or a deploy failed and was rolled back healthy
    USAGE = 2  # bad flag, config, schema, playbook, missing file, refused input
    UNREACHABLE = 3  # a host could not be reached or authenticated (host keys too)
    ROLLBACK_FAILED = 4  # a deploy failed and its rollback failed too
    LOCKED = 5  # another operation holds the deploy lock
    INTERRUPTED = 130


class OpsError(Exception):
    """A known failure: one line for the user, and the exit code it maps to.

    The message must never contain a secret value; callers name keys, files and hosts only.
    """

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(OpsError):
    """Refused input: a bad flag value, ref or name."""


class ConfigError(OpsError):
    """ops.yaml, a schema or a playbook is missing, unreadable or invalid."""


class HostError(OpsError):
    """A host could not be reached or authenticated, or its host key is unknown or changed."""

    exit_code = ExitCode.UNREACHABLE


class ChecksFailed(OpsError):
    """Checks failed (used when a command has no report to carry the failure)."""

    exit_code = ExitCode.CHECKS_FAILED


class RollbackFailed(OpsError):
    """A deploy failed and its rollback failed too: a human is needed now."""

    exit_code = ExitCode.ROLLBACK_FAILED


class LockHeld(OpsError):
    """Another operation holds the deploy lock."""

    exit_code = ExitCode.LOCKED


class SandboxError(OpsError):
    """The sandbox could not be brought up, changed or inspected."""


class MissingToolError(OpsError):
    """A program the command needs (sshd, node, npm, git) is not installed."""
