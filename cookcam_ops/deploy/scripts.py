"""The remote side: how each step's command is wrapped, and the built-ins' host-side scripts.

Every command runs under coreutils `timeout` in its own process group, with its pid recorded in
`<ops>/step.pid`, so a run that lost its connection can find and stop (or wait for) what it left
running. The built-ins' node programs (hostside/test_build.js, hostside/health_loop.js) print
one JSON line and nothing secret (names, codes, counts).
"""

from __future__ import annotations

from dataclasses import dataclass

from cookcam_ops.pm2.apply import Apply, ApplyPlan
from cookcam_ops.pm2.daemonlog import log_size_command
from cookcam_ops.remote.protocol import node_program, q, sh_program

KILL_GRACE_S = 5
LOCAL_SLACK_S = 30.0  # the local timeout is the remote one plus this, as a last resort

RELOAD_RETRIES = 3


def wrap(
    command: str, *, cwd: str, ops_path: str, run_id: str, timeout: float, before: str = ""
) -> str:
    """command as sent: in cwd, under `timeout` (own process group), its pid in step.pid.

    before: shell run first in cwd (the free-space check), which may stop the step.
    """
    pid_file = f"{ops_path}/step.pid"
    return (
        f"mkdir -p {q(ops_path)} && cd {q(cwd)} && {before + '; ' if before else ''}"
        f"printf '%s %s\\n' \"$$\" {q(run_id)} > {q(pid_file)} && "
        f"exec timeout -k {KILL_GRACE_S} {max(1, round(timeout))} sh -c {q(command)}"
    )


def reap(ops_path: str, run_id: str, wait_s: float) -> str:
    """Stop what this run left running on the host (after a lost connection).

    Waits up to wait_s for it to end by itself first (0 for steps that are safe to kill, the
    step's timeout for those at or after the switch, which must finish what they started).
    """
    rounds = max(0, round(wait_s * 2))
    return f"{sh_program('reap.sh')} {q(f'{ops_path}/step.pid', run_id, rounds)}"


def test_build(
    build_path: str, timeout: float, health_path: str, expect: str, cwd: str | None = None
) -> str:
    """Start the build aside on a spare port and check it.

    In the app directory (in-place: the build reads the app's .env), or in cwd (releases: the
    release's own .env).
    """
    deadline_ms = max(1000, round((timeout - 12) * 1000))
    into = f"cd {q(cwd)} && " if cwd else ""
    return (
        f"{into}{node_program('test_build.js')} "
        f"{q(build_path + '/dist/index.js', deadline_ms, health_path, expect)}"
    )


@dataclass(frozen=True)
class ReloadSpec:
    """What the reload built-in does on one host."""

    app_name: str
    exec_mode: str | None  # what PM2 runs now: fork_mode means `pm2 restart`
    ops_path: str
    directory: str  # where PM2 should run the app from (a handover starts it there)
    current: str | None = None  # releases: also print where `current` resolves
    overlap: bool = False  # cluster mode: every worker replaced at once (hostside/overlap.js)
    apply: ApplyPlan | None = None  # ecosystem settings the target changes (pm2/apply.py)
    timeout: float = 120.0


def _reload_run(spec: ReloadSpec) -> str:
    from cookcam_ops.deploy.handover import handover
    from cookcam_ops.deploy.handover import overlap as overlap_command

    how = spec.apply.how if spec.apply is not None else Apply.NONE
    if how in (Apply.HANDOVER, Apply.RESTART):
        run = handover(spec.app_name, spec.directory, spec.timeout, replace=how is Apply.RESTART)
        return f'out=$({run}); echo "$out"; case "$out" in *\'"ok":true\'*) ;; *) false;; esac'
    verb = "restart" if spec.exec_mode == "fork_mode" else "reload"
    run = (
        f"( {overlap_command(spec.app_name, 60.0)} )"
        if spec.overlap and verb == "reload"
        else f"pm2 {verb} {q(spec.app_name)} --update-env"
    )
    if how is Apply.SCALE and spec.apply is not None and spec.apply.wanted is not None:
        run += f" && pm2 scale {q(spec.app_name)} {spec.apply.wanted.instances}"
    return run


def reload(spec: ReloadSpec) -> str:
    """Replace the app's workers with the new code, applying what the ecosystem file changed,
    printing where PM2's log ended (`@@pm2log=BYTES`) and the host time it started.

    `pm2 reload` (cluster) or `pm2 restart` (fork), then `pm2 scale` when only the worker count
    changed; a handover when other settings changed (handover.py); retried while PM2 is busy
    restarting a crashed worker (hostside/reload.sh).
    """
    log = f"{spec.ops_path}/pm2-reload.log"
    return (
        f"{log_size_command()}; {sh_program('reload.sh')} "
        f"{q(log, RELOAD_RETRIES, spec.current or '', _reload_run(spec))}"
    )


def health(url: str, retries: int, delay: float, sha: str | None, need: int = 2) -> str:
    """Poll the health URL from the host itself."""
    return (
        f"{node_program('health_loop.js')} "
        f"{q(url, int(retries), round(delay * 1000), sha or '', int(need))}"
    )


def append_line(path: str, *lines: str) -> str:
    """Append lines, each with a single small write (atomic for O_APPEND writes this size)."""
    parent = path.rsplit("/", 1)[0]
    return f"mkdir -p {q(parent)} && printf '%s\\n' {q(*lines)} >> {q(path)}"
