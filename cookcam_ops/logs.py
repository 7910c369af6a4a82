"""`logs`: the app's recent PM2 logs from every host (one round trip per host, in parallel)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cookcam_ops.errors import UsageError
from cookcam_ops.remote import composite
from cookcam_ops.remote.fanout import Connector, Target, run_on_hosts
from cookcam_ops.remote.protocol import Transport, q

MAX_LINES = 10_000
LOGS_TIMEOUT_S = 60.0
# Terminal escapes and control characters a remote log line must not smuggle to a terminal.
_CONTROL_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|"
                         r"\x1b.|[\x00-\x08\x0b-\x1f\x7f]")
_PM2_NOISE_RE = re.compile(r"^\[TAILING\]")


@dataclass(frozen=True)
class HostLogs:
    """One host's log lines, or why they could not be read."""

    label: str
    lines: list[str]
    error: str | None = None
    unreachable: bool = False


def clean_line(line: str) -> str:
    """A remote line without terminal escapes or control characters."""
    return _CONTROL_RE.sub("", line)


def logs_command(app_name: str, lines: int) -> str:
    """pm2 logs, printed once (no streaming), without PM2's prefixes."""
    return composite.if_pm2_daemon(
        f"pm2 logs {q(app_name)} --lines {int(lines)} --nostream --raw 2>&1",
        "echo 'the PM2 daemon is not running' >&2; exit 3")


def parse_logs(stdout: str) -> list[str]:
    """pm2's output, minus its own headers, each line cleaned."""
    cleaned = (clean_line(line) for line in stdout.splitlines())
    return [line for line in cleaned if line.strip() and not _PM2_NOISE_RE.match(line.strip())]


def fetch_logs(targets: list[Target], connector: Connector, lines: int) -> list[HostLogs]:
    """Every host's recent log lines, in config order."""
    if not 1 <= lines <= MAX_LINES:
        raise UsageError(f"--lines must be from 1 to {MAX_LINES}, not {lines}")

    def work(transport: Transport, t: Target) -> HostLogs:
        if not t.toolchain.ok:
            return HostLogs(t.label, [], t.toolchain.explanation())
        result = transport.run(logs_command(t.app.name, lines), timeout=LOGS_TIMEOUT_S)
        if not result.ok:
            return HostLogs(t.label, parse_logs(result.stdout),
                            f"pm2 logs failed (exit {result.exit_code}): "
                            f"{clean_line(result.tail(2))}")
        return HostLogs(t.label, parse_logs(result.stdout))

    return [o.value if o.value is not None else HostLogs(o.target.label, [], o.error, True)
            for o in run_on_hosts(targets, connector, work)]
