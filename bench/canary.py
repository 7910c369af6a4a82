"""Figure 8, canary bake: what the bake's sampling costs the canary's host and the baseline's
host in CPU, over the bake time (a fraction of one core).

Each pair, on the sandbox's first two hosts: both idle for BAKE_S seconds (their CPU read from
/proc before and after), then `deploy --canary --bake BAKE_S` of a fresh release, its bake's
CPU read at the line that opens the bake and at the verdict's. Ours is the bake window's CPU
less the idle rate over the same length; theirs is the bake's own length. A host's CPU is its
sshd (every SSH session, with what they ran: the pm2 CLI, the jlist filter, the log count) and
its PM2 daemon and workers (their answers to the health checks, probes and handshakes); the
auth stand-in the handshakes make the API ask is Supabase's, not the host's, and not counted.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench.context import Context
from bench.figures import Figure, Goal
from bench.hostcpu import hosts_cpu_s
from bench.proc import BenchError, ops_argv, ops_env
from cookcam_ops.sandbox.layout import HostState, Layout, read_state

BAKE_S = 20.0
ENVIRONMENT = "can"
NOTES = (
    "ours: the host's CPU seconds during a {bake:g} s bake of `deploy --canary` (sshd with "
    "every session and what it ran, PM2 daemon and workers; from /proc), less its idle "
    "rate measured just before over as long; theirs: the bake's length; a sample every "
    "{interval:g} s: one SSH round trip (pm2 jlist through the whitelisted filter, error "
    "logs), 1 health GET, {probes} probe GETs, {handshakes} authenticated handshakes; "
    "{note}"
)


def _hosts(ctx: Context) -> list[HostState]:
    state = read_state(Layout(ctx.sandbox.dir))
    if state is None or len(state.hosts) < 2:
        raise BenchError("the canary figure needs a sandbox of 2 hosts or more")
    return list(state.hosts[:2])


def _idle(hosts: list[HostState], seconds: float) -> dict[str, float]:
    """Each host's CPU seconds per second while nothing is asked of it."""
    before = hosts_cpu_s(hosts)
    time.sleep(seconds)
    after = hosts_cpu_s(hosts)
    return {h.name: (after[h.name] - before[h.name]) / seconds for h in hosts}


def _bake(ctx: Context, config: Path, hosts: list[HostState]) -> tuple[dict[str, float], float]:
    """(each host's CPU seconds during the bake, the bake's seconds) of one canary deploy."""
    ctx.sandbox.change()
    argv = ops_argv(
        "--config", str(config), "deploy", ENVIRONMENT, "--yes", "--canary", "--bake", f"{BAKE_S:g}"
    )
    marks: list[tuple[float, dict[str, float]]] = []
    lines: list[str] = []
    with subprocess.Popen(
        argv,
        env=ops_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(("baking ", "canary promoted", "canary rolled_back")):
                marks.append((time.monotonic(), hosts_cpu_s(hosts)))
        rc = proc.wait(timeout=600)
    with ctx.log.open("a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(argv)}\n[exit {rc}]\n{''.join(lines[-40:])}\n")
    if rc != 0 or len(marks) != 2 or not lines or "promoted" not in "".join(lines):
        raise BenchError(f"canary deploy: exit {rc}, not promoted (see {ctx.log})")
    (start, cpu0), (end, cpu1) = marks
    return {h.name: cpu1[h.name] - cpu0[h.name] for h in hosts}, end - start


def _breakdown(config: Path, host: HostState, rounds: int = 5) -> str:
    """Where one sample's CPU on host (the environment's first) goes: an SSH session alone,
    the PM2 look (its session included), and the HTTP and Socket.IO part, each repeated."""
    from cookcam_ops.canary.bake import signed_sampling
    from cookcam_ops.canary.sampler import HostSampler
    from cookcam_ops.config import load_config
    from cookcam_ops.deploy.session import HostSession
    from cookcam_ops.remote.fanout import ssh_connector, targets_for

    loaded = load_config(config)
    env = loaded.environment(ENVIRONMENT)
    session = HostSession(targets_for(loaded, env)[0], ssh_connector(loaded, env))
    session.connect()
    try:
        plan, sign_in = signed_sampling(loaded, ENVIRONMENT)
        token = sign_in()
        sampler = HostSampler(
            host.name,
            plan.targets[0].base_url,
            loaded.config.app.health_path,
            session,
            loaded.config.app.name,
            env.canary,
        )

        def ms(work: Callable[[], object]) -> float:
            before = hosts_cpu_s([host])[host.name]
            for _ in range(rounds):
                work()
            return (hosts_cpu_s([host])[host.name] - before) / rounds * 1000

        parts = {
            "an SSH session alone": ms(lambda: session.run("true", timeout=30)),
            "the PM2 look (its session, pm2 jlist, the filter, the log count)": ms(
                sampler.pm2_look
            ),
            "health, probes and handshakes": ms(
                lambda: (sampler.health(), sampler.probes(), sampler.handshakes(token))
            ),
        }
    finally:
        session.close()
    return "per sample on the host: " + ", ".join(f"{k} {v:.0f} ms" for k, v in parts.items())


def measure(ctx: Context) -> list[Figure]:
    """Pairs of (sampling CPU, bake seconds) for the canary's host and the baseline's."""
    from cookcam_ops.canary.settings import CanaryConfig

    sb = ctx.sandbox
    hosts = _hosts(ctx)
    config = sb.write_config("bench-canary.yaml", {ENVIRONMENT: {"hosts": sb.hosts_doc(2)}})
    settings = CanaryConfig()
    figures = {
        h.name: Figure(
            f"canary-bake-{role}",
            f"Canary bake: sampling CPU on the {role}'s host over the bake time",
            "sampling CPU",
            "bake time",
            "s",
            Goal("<=", 0.1),
        )
        for h, role in zip(hosts, ("canary", "baseline"), strict=True)
    }
    idle_rates = []
    for i in range(ctx.pairs):
        idle = _idle(hosts, BAKE_S)
        used, seconds = _bake(ctx, config, hosts)
        for h in hosts:
            figures[h.name].add(max(0.0, used[h.name] - idle[h.name] * seconds), seconds)
        idle_rates += list(idle.values())
        ctx.say(
            f"canary round {i + 1}: bake {seconds:.1f}s; "
            + ", ".join(
                f"{h.name} {used[h.name]:.2f}s CPU (idle {idle[h.name] * seconds:.2f}s)"
                for h in hosts
            )
        )
    note = (
        f"idle rate {statistics.median(idle_rates) * 100:.1f}% of a core (median); "
        f"{_breakdown(config, hosts[0])} (an SSH session here runs root's ~/.bashrc, "
        "`pyenv init`: see the diagnostic rows); the hosts share this machine's cores "
        "with the sampler itself"
    )
    for f in figures.values():
        f.notes = NOTES.format(
            bake=BAKE_S,
            interval=settings.interval_s,
            probes=settings.probe_requests,
            handshakes=settings.handshakes,
            note=note,
        )
    return list(figures.values())
