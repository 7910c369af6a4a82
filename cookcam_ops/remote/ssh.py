"""SSH transport over Fabric/paramiko: strict host keys, errors translated at this boundary.

Fabric's Connection accepts unknown host keys by default (AutoAddPolicy) and does not read
known_hosts; here the known_hosts file from ops.yaml (else ~/.ssh/known_hosts) is loaded and an
unknown key is refused unless accept-new is asked for, as OpenSSH's StrictHostKeyChecking=yes.
~/.ssh/config and ssh-agent are honoured through Fabric and paramiko.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cookcam_ops.errors import ConfigError, HostError
from cookcam_ops.limits import (
    ENV_CAP,
    KEY_FILE_CAP,
    KNOWN_HOSTS_CAP,
    check_regular,
    read_regular,
)
from cookcam_ops.remote.capture import Lines, bounded_remote
from cookcam_ops.remote.protocol import TIMEOUT_EXIT, LineSink, RunResult

if TYPE_CHECKING:
    import paramiko

    from cookcam_ops.config import EnvironmentConfig, HostConfig

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
CHANNEL_TIMEOUT_S = 30.0
_known_hosts_lock = threading.Lock()


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _host_key_name(hostname: str, port: int) -> str:
    return hostname if port == 22 else f"[{hostname}]:{port}"


def _policy(known_hosts: Path, accept_new: bool, label: str) -> Any:
    import paramiko

    class StrictPolicy(paramiko.MissingHostKeyPolicy):
        """Refuse unknown keys (naming the fingerprint), or record them with accept-new."""

        def missing_host_key(
            self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
        ) -> None:
            kind = key.get_name()
            if not accept_new:
                raise HostError(
                    f"{label}: unknown host key {kind} {fingerprint(key)} ({hostname} is not in "
                    f"{known_hosts})",
                    hint="verify the fingerprint, then pass --accept-new-host-keys or add it",
                    host=label,
                )
            with _known_hosts_lock:
                known_hosts.parent.mkdir(parents=True, exist_ok=True)
                with known_hosts.open("a", encoding="utf-8") as f:
                    f.write(f"{hostname} {kind} {key.get_base64()}\n")
            client.get_host_keys().add(hostname, kind, key)

    return StrictPolicy()


class SSHTransport:
    """A Transport over one Fabric connection."""

    def __init__(self, label: str, connection: Any) -> None:
        self.label = label
        self._conn = connection
        self._sftp: Any = None

    def run(
        self, command: str, *, timeout: float | None = None, on_line: LineSink | None = None
    ) -> RunResult:
        from invoke.exceptions import CommandTimedOut

        start = time.monotonic()
        streams = (Lines("out", on_line), Lines("err", on_line)) if on_line else None
        mirror: dict[str, Any] = (
            {"hide": False, "out_stream": streams[0], "err_stream": streams[1]}
            if streams
            else {"hide": True}
        )
        try:
            result = self._conn.run(command, warn=True, in_stream=False, timeout=timeout, **mirror)
        except CommandTimedOut as e:
            return RunResult(
                command,
                TIMEOUT_EXIT,
                e.result.stdout,
                f"timed out after {timeout}s",
                time.monotonic() - start,
            )
        except (OSError, EOFError, _ssh_exception()) as e:
            raise connection_lost(self.label, type(e).__name__) from e
        finally:
            for stream in streams or ():
                stream.close()
        return RunResult(
            command, result.exited, result.stdout, result.stderr, time.monotonic() - start
        )

    def open_channel(self, command: str) -> Any:
        """A paramiko channel running command (the session agent's launcher, remote/agent.py)."""
        try:
            channel = self._conn.client.get_transport().open_session(timeout=CHANNEL_TIMEOUT_S)
            channel.exec_command(command)
        except (OSError, EOFError, AttributeError, _ssh_exception()) as e:
            raise connection_lost(self.label, type(e).__name__) from e
        return channel

    def _sftp_client(self) -> Any:
        if self._sftp is None:
            self._sftp = self._conn.sftp()
        return self._sftp

    def read_file(self, path: str, cap: int = ENV_CAP) -> bytes | None:
        """Read a remote regular file of at most cap bytes into memory over SFTP (never to
        local disk); None when it does not exist. Anything else is a ConfigError (exit 2)."""
        try:
            sftp = self._sftp_client()
            info = sftp.stat(path)
            if not stat.S_ISREG(info.st_mode or 0):
                raise read_refused(self.label, path, NOT_REGULAR, cap)
            if (info.st_size or 0) > cap:
                raise read_refused(self.label, path, TOO_LARGE, cap)
            with sftp.open(path, "rb") as f:
                data: bytes = f.read(cap + 1)
        except FileNotFoundError:
            return None
        except (OSError, EOFError, _ssh_exception()) as e:
            raise HostError(
                f"{self.label}: cannot read {path} ({type(e).__name__})", host=self.label
            ) from e
        if len(data) > cap:
            raise read_refused(self.label, path, GREW, cap)
        return data

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        """Write a remote file atomically: a temp file with the mode set, renamed into place."""
        tmp = f"{path}.cookcam-ops.{os.getpid()}.tmp"
        try:
            sftp = self._sftp_client()
            with sftp.open(tmp, "wb") as f:
                sftp.chmod(tmp, mode)
                f.write(data)
            sftp.posix_rename(tmp, path)
        except (OSError, EOFError, _ssh_exception()) as e:
            raise HostError(
                f"{self.label}: cannot write {path} ({type(e).__name__})", host=self.label
            ) from e

    def close(self) -> None:
        try:
            if self._sftp is not None:
                self._sftp.close()
            self._conn.close()
        except Exception:  # noqa: S110 - closing a dead connection must not mask the real error
            pass


NOT_REGULAR, TOO_LARGE, GREW = "not a regular file", "too large", "grew"


def read_refused(label: str, path: str, why: str, cap: int) -> ConfigError:
    """Why a remote file is not read (why: NOT_REGULAR, TOO_LARGE or GREW)."""
    if why == NOT_REGULAR:
        return ConfigError(f"{label}: {path} is not a regular file")
    if why == TOO_LARGE:
        return ConfigError(
            f"{label}: {path} is larger than the {cap // 1024} KiB cookcam-ops reads",
            hint="is it the right file?",
        )
    return ConfigError(f"{label}: {path} grew past {cap // 1024} KiB while read")


def connection_lost(label: str, why: str) -> HostError:
    """The error every command gives when its host's connection (or session) is gone."""
    return HostError(
        f"{label}: connection lost ({why})",
        hint="check the host and rerun; status shows where it stands",
        host=label,
    )


def _ssh_exception() -> type[Exception]:
    import paramiko

    return paramiko.SSHException


def connect(
    host: HostConfig,
    env: EnvironmentConfig,
    *,
    accept_new_host_keys: bool = False,
    base_dir: Path | None = None,
) -> SSHTransport:
    """Open an SSH connection to one host, with strict host-key checking by default."""
    import paramiko
    from fabric import Config, Connection

    known_hosts = _expand(env.ssh.known_hosts or DEFAULT_KNOWN_HOSTS, base_dir)
    connect_kwargs: dict[str, Any] = {
        "banner_timeout": env.ssh.connect_timeout,
        "auth_timeout": env.ssh.connect_timeout,
    }
    if env.ssh.identity_file:
        key_file = _expand(env.ssh.identity_file, base_dir)
        check_regular(key_file, "SSH identity file", KEY_FILE_CAP)
        connect_kwargs["key_filename"] = [str(key_file)]
    # user and port only when ops.yaml gives them, so ~/.ssh/config's User, Port and HostName
    # apply as they do for the ssh command
    conn = Connection(
        host.hostname,
        user=host.user,
        port=host.given_port,
        connect_timeout=int(max(1, env.ssh.connect_timeout)),
        connect_kwargs=connect_kwargs,
        config=Config(overrides={"runners": {"remote": bounded_remote()}}),
    )
    client = conn.client
    if known_hosts.exists():
        load_known_hosts(client.get_host_keys(), known_hosts)
    client.set_missing_host_key_policy(_policy(known_hosts, accept_new_host_keys, host.label))
    where = f"{host.label} ({host.ssh})"
    try:
        conn.open()
    except HostError:
        raise
    except paramiko.BadHostKeyException as e:
        name = _host_key_name(conn.host, conn.port)
        raise HostError(
            f"{where}: HOST KEY CHANGED: it offered {e.key.get_name()} {fingerprint(e.key)}, "
            f"{known_hosts} has {fingerprint(e.expected_key)}",
            hint=f"if the change is expected, remove the old key: ssh-keygen -R '{name}' "
            f"-f {known_hosts}",
            host=host.label,
        ) from e
    except paramiko.AuthenticationException as e:
        raise HostError(
            f"{where}: authentication failed as {host.user or 'the current user'}",
            hint="check ssh.identity_file in ops.yaml or your ssh-agent",
            host=host.label,
        ) from e
    except TimeoutError as e:
        raise HostError(
            f"{where}: could not connect (timed out after {env.ssh.connect_timeout:g}s)",
            hint="check the host and port",
            host=host.label,
        ) from e
    except (OSError, EOFError, paramiko.SSHException) as e:
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise HostError(
            f"{where}: could not connect ({reason})",
            hint="check the host, port and that sshd is running",
            host=host.label,
        ) from e
    return SSHTransport(host.label, conn)


def load_known_hosts(keys: paramiko.HostKeys, path: Path) -> None:
    """known_hosts into keys, as paramiko's HostKeys.load reads it, but bounded: a regular
    file of at most limits.KNOWN_HOSTS_CAP (an odd line is skipped, as ssh skips it)."""
    import paramiko
    from paramiko.hostkeys import HostKeyEntry

    text = read_regular(path, "known_hosts file", KNOWN_HOSTS_CAP).decode("utf-8", "replace")
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            entry = HostKeyEntry.from_line(line, number)
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
        if entry is not None and entry.key is not None:
            for name in entry.hostnames:
                keys.add(name, entry.key.get_name(), entry.key)


def _expand(value: str, base_dir: Path | None) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() or base_dir is None else base_dir / p
