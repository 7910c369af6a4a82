"""Bounds on everything cookcam-ops reads, in one place (the README's "Limits" lists them).

Files are read only when they are regular files (a FIFO, a device or a directory is refused at
once, never opened for a blocking read) and only up to their cap, so a hostile or mistaken input
costs at most that much memory and the time to read it. Values shown back to people are clipped
to a short prefix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cookcam_ops.errors import ConfigError

KIB, MIB = 1024, 1024 * 1024

YAML_CAP = 1 * MIB  # ops.yaml, playbooks, the env schema
YAML_NODES_CAP = 20_000  # YAML nodes once aliases are expanded (the shipped files: < 1,000)
YAML_DEPTH_CAP = 100  # nesting of YAML mappings and lists
ENV_CAP = 1 * MIB  # a .env file (local or over SFTP), smoke.env
ENV_LINES_CAP = 10_000  # lines of a .env file (the API's has about 30)
KNOWN_HOSTS_CAP = 4 * MIB  # known_hosts (about 20,000 keys)
KEY_FILE_CAP = 64 * KIB  # an SSH identity file
OUTPUT_CAP = 4 * MIB  # one remote command's stdout (and again its stderr), head and tail kept
OUTPUT_TAIL = 256 * KIB  # of which the last part kept when a command prints more
HTTP_CAP = 1 * MIB  # one HTTP answer's body (health, probe, sign-in, polling handshake)
ERROR_LOG_READ_CAP = 4 * MIB  # of one PM2 error log per canary/watch look (beyond: not counted)
ERROR_LOGS_CAP = 64  # PM2 error logs counted per look
HISTORY_CAP = 1 * MIB  # the audit log's tail read per host
SCHEMA_PATTERN_BUDGET_S = 0.5  # all schema patterns of one .env together (regex timeout)
SHOWN_CHARS = 24  # of a value echoed back in a detail: a short prefix, then its length


def clip_value(value: str, keep: int = SHOWN_CHARS) -> str:
    """A value for a message: repr'd whole when short, else its first characters and length."""
    if len(value) <= keep:
        return repr(value)
    return f"{value[:keep]!r}… ({len(value)} characters)"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular(path: Path, what: str, cap: int) -> bytes:
    """The bytes of a regular file of at most cap bytes; ConfigError (exit 2) otherwise.

    Opened non-blocking and checked with fstat on the open descriptor, so a FIFO is refused
    without waiting for a writer and a file swapped after a check is still the one judged.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: {what} not found") from e
    except IsADirectoryError as e:
        raise ConfigError(f"{path}: {what} is a directory, not a file") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what} ({e.strerror})") from e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                f"{path}: {what} is {_kind(info.st_mode)}, not a regular file",
                hint="give the path of a file",
            )
        if info.st_size > cap:
            raise ConfigError(
                f"{path}: {what} is {_size(info.st_size)}, larger than the "
                f"{_size(cap)} cookcam-ops reads",
                hint="is it the right file?",
            )
        data = _read_upto(fd, cap + 1)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what} ({e.strerror})") from e
    finally:
        os.close(fd)
    if len(data) > cap:  # it grew while being read
        raise ConfigError(f"{path}: {what} is larger than the {_size(cap)} cookcam-ops reads")
    return data


def _read_upto(fd: int, limit: int) -> bytes:
    chunks, left = [], limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 * MIB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def check_regular(path: Path, what: str, cap: int) -> None:
    """Refuse a path that is not a regular file of at most cap bytes (for files a library
    opens itself, such as an SSH key)."""
    try:
        info = path.stat()
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: {what} not found") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what} ({e.strerror})") from e
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path}: {what} is {_kind(info.st_mode)}, not a regular file")
    if info.st_size > cap:
        raise ConfigError(
            f"{path}: {what} is {_size(info.st_size)}, larger than the "
            f"{_size(cap)} cookcam-ops reads"
        )


def _size(n: int) -> str:
    if n >= MIB:
        return f"{n / MIB:.1f} MiB"
    if n >= KIB:
        return f"{n / KIB:.0f} KiB"
    return f"{n} bytes"
