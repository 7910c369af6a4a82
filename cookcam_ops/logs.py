"""`logs`: the app's recent PM2 logs from every host (one round trip per host, in parallel)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cookcam_ops.errors import ExitCode, Unreachable, UsageError
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import Connector, Target, run_on_hosts
from cookcam_ops.remote.protocol import Transport, q
from cookcam_ops.report import Check, Status, reachability

MAX_LINES = 10_000
LOGS_TIMEOUT_S = 60.0
# Terminal escapes and control characters a remote log line must not smuggle to a terminal.
_CONTROL_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|"
    r"\x1b.|[\x00-\x08\x0b-\x1f\x7f]"
)
_PM2_NOISE_RE = re.compile(r"^\[TAILING\]")


@dataclass(frozen=True)
class HostLogs:
    """One host's log lines, or why they could not be read (reachable: whether it answered)."""

    label: str
    lines: list[str]
    error: str | None = None
    reachable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.label,
            "reachable": self.reachable,
            "error": self.error,
            "lines": self.lines,
        }


@dataclass(frozen=True)
class LogsReport:
    """Every host's recent lines: exit 3 when a host could not be reached, 1 when a host's
    PM2 logs could not be read, else 0."""

    environment: str
    hosts: list[HostLogs]

    @property
    def checks(self) -> list[Check]:
        return [
            Check(
                "logs",
                Status.PASS if h.error is None else Status.FAIL,
                h.error or f"{len(h.lines)} lines",
                h.label,
            )
            for h in self.hosts
        ]

    @property
    def ok(self) -> bool:
        return all(h.error is None for h in self.hosts)

    @property
    def exit_code(self) -> ExitCode:
        if any(not h.reachable for h in self.hosts):
            return ExitCode.UNREACHABLE
        return ExitCode.OK if self.ok else ExitCode.CHECKS_FAILED

    def to_dict(self) -> dict[str, Any]:
        lost = [
            Unreachable(h.label, h.error or "unreachable") for h in self.hosts if not h.reachable
        ]
        return {
            "ok": self.ok,
            "environment": self.environment,
            "hosts": [h.to_dict() for h in self.hosts],
            "checks": [c.to_dict() for c in self.checks],
            **reachability(lost, [h.label for h in self.hosts if h.reachable]),
        }


def clean_line(line: str) -> str:
    """A remote line without terminal escapes or control characters."""
    return _CONTROL_RE.sub("", line)


def logs_command(app_name: str, lines: int, err_only: bool = False) -> str:
    """pm2 logs, printed once (no streaming), without PM2's prefixes (--err: stderr only)."""
    return composite.if_pm2_daemon(
        f"pm2 logs {q(app_name)} --lines {int(lines)} --nostream --raw"
        f"{' --err' if err_only else ''} 2>&1",
        "echo 'the PM2 daemon is not running' >&2; exit 3",
    )


def parse_logs(stdout: str, grep: re.Pattern[str] | None = None) -> list[str]:
    """pm2's output, minus its own headers, each line cleaned (and matching grep, if given)."""
    cleaned = (clean_line(line) for line in stdout.splitlines())
    return [
        line
        for line in cleaned
        if line.strip()
        and not _PM2_NOISE_RE.match(line.strip())
        and (grep is None or grep.search(line))
    ]


def fetch_logs(
    environment: str,
    targets: list[Target],
    connector: Connector,
    lines: int,
    *,
    grep: re.Pattern[str] | None = None,
    err_only: bool = False,
) -> LogsReport:
    """Every host's recent log lines, in config order."""
    if not 1 <= lines <= MAX_LINES:
        raise UsageError(f"--lines must be from 1 to {MAX_LINES}, not {lines}")

    def work(transport: Transport, t: Target) -> HostLogs:
        if not t.toolchain.ok:
            return HostLogs(t.label, [], t.toolchain.explanation())
        result = transport.run(logs_command(t.app.name, lines, err_only), timeout=LOGS_TIMEOUT_S)
        if not result.ok:
            return HostLogs(
                t.label,
                parse_logs(result.stdout, grep),
                f"pm2 logs failed (exit {result.exit_code}): {clean_line(result.tail(2))}",
            )
        return HostLogs(t.label, parse_logs(result.stdout, grep))

    return LogsReport(
        environment,
        [
            o.value if o.value is not None else HostLogs(o.target.label, [], o.error, False)
            for o in run_on_hosts(targets, connector, work)
        ],
    )
