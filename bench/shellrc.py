"""A diagnostic, not a figure of the issue: the same figures with the login shell's rc skipped.

On this machine root's ~/.bashrc runs `pyenv init` for every non-interactive ssh command (a
stock Debian ~/.bashrc returns at once for those), so every SSH session pays ~0.1 s of the
hosts' CPU. To show how much of a gap that is, the suite's own sandbox sshds get `SHLVL=1`
in their SetEnv line (bash sources ~/.bashrc for ssh commands only when it is a top-level
shell), are told to reload (SIGHUP to the pids the sandbox recorded, checked to be those
sshds), and the original config is put back the same way afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from bench.proc import BenchError
from bench.sandbox import Sandbox
from cookcam_ops.sandbox.layout import Layout, read_state
from cookcam_ops.sandbox.procs import owned_alive, read_pid_file

MARK = "SetEnv "
RELOAD_WAIT_S = 1.0


def _sshds(sb: Sandbox) -> list[tuple[Path, int]]:
    state = read_state(Layout(sb.dir.resolve()))
    if state is None:
        raise BenchError(f"{sb.dir}: no sandbox state")
    out = []
    for h in state.hosts:
        pid = read_pid_file(Path(h.sshd_pid_file)) or h.sshd_pid
        if pid is None or not owned_alive(pid, h.sshd_config):
            raise BenchError(f"{h.name}: its sshd is not running")
        out.append((Path(h.sshd_config), pid))
    return out


def _rewrite(config: Path, skip_rc: bool) -> None:
    lines = config.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith(MARK):
            rest = line[len(MARK) :].removeprefix("SHLVL=1 ")
            lines[i] = MARK + ("SHLVL=1 " if skip_rc else "") + rest
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _apply(sshds: list[tuple[Path, int]], skip_rc: bool) -> None:
    for config, pid in sshds:
        _rewrite(config, skip_rc)
        if owned_alive(pid, str(config)):
            os.kill(pid, signal.SIGHUP)  # sshd re-executes itself with the new config
    time.sleep(RELOAD_WAIT_S)


@contextlib.contextmanager
def rc_skipped(sb: Sandbox) -> Iterator[None]:
    """The sandbox's ssh sessions skip ~/.bashrc inside the block; restored on the way out."""
    sshds = _sshds(sb)
    _apply(sshds, skip_rc=True)
    try:
        yield
    finally:
        _apply(sshds, skip_rc=False)
