"""Figure 3, fan-out: one deploy to 8 sandbox hosts at once (batch 8) against one to 1 host.

The playbook is light (lock, a git checkout as the switch, record: no npm, no build, no PM2
reload), so what is timed is orchestration: connecting, facts with git fetch, locking,
running steps and recording on every host, and not the 2 cores building 8 apps. Each sample
deploys a fresh release change; the sides take turns.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import yaml

from bench.context import Context
from bench.deploy import Breakdown, deploy_ours
from bench.figures import Figure, Goal
from bench.proc import BenchError, Done
from bench.remote import session_cost

LIGHT_PLAYBOOK = {
    "description": "benchmark: orchestration only (no build, no reload)",
    "facts_timeout": 120,
    "steps": [
        {"name": "lock", "builtin": "lock"},
        {
            "name": "switch",
            "switch": True,
            "timeout": 60,
            "run": "git checkout --quiet --force -B {branch} {to_sha}",
        },
        {"name": "record", "builtin": "record", "timeout": 30},
    ],
}


def light_config(ctx: Context, hosts: int) -> Path:
    """An ops.yaml with the light playbook: `fleet` (hosts, one batch) and `solo` (host1)."""
    playbook = ctx.workdir / "light-deploy.yaml"
    playbook.write_text(yaml.safe_dump(LIGHT_PLAYBOOK, sort_keys=False), encoding="utf-8")
    sb = ctx.sandbox
    return sb.write_config(
        "bench-fanout.yaml",
        {
            "solo": {"hosts": sb.hosts_doc(1)},
            "fleet": {"hosts": sb.hosts_doc(hosts), "batch_size": hosts},
        },
        deploy_playbook=playbook,
    )


def fleet_and_solo(
    ctx: Context, config: Path, profiles: dict[str, Breakdown] | None = None
) -> tuple[Done, Done]:
    """One release deployed to the 8 hosts, the next to host1 alone (their step times added
    to profiles, when given)."""
    return (
        deploy_ours(ctx, config.name, "fleet", profiles["fleet"] if profiles else None),
        deploy_ours(ctx, config.name, "solo", profiles["solo"] if profiles else None),
    )


def measure(ctx: Context) -> list[Figure]:
    """Pairs of (8 hosts, 1 host)."""
    hosts = len(ctx.sandbox.hosts)
    if hosts < 8:
        raise BenchError(f"fan-out needs an 8-host sandbox (this one has {hosts})")
    config = light_config(ctx, 8)
    figure = Figure(
        "fanout",
        "Fan-out: light deploy to 8 hosts at once vs 1 host",
        "8 hosts, batch 8",
        "1 host",
        "s",
        Goal("<=", 2.0),
        notes="same light playbook (lock, git checkout switch, record) on both "
        "sides, whole `deploy --yes` process timed; PM2 keeps 2 idle "
        "workers per host (no option changes that; the light playbook "
        "never reloads them)",
    )
    cpu: dict[str, list[float]] = {"fleet": [], "solo": []}
    profiles = {"fleet": Breakdown(), "solo": Breakdown()}
    for i in range(ctx.pairs):
        fleet, solo = fleet_and_solo(ctx, config, profiles)
        figure.add(fleet.seconds, solo.seconds)
        cpu["fleet"].append(fleet.cpu_s)
        cpu["solo"].append(solo.cpu_s)
        ctx.say(f"fan-out round {i + 1}: 8 hosts {fleet.seconds:.1f}s, 1 host {solo.seconds:.1f}s")
    session_s = session_cost(ctx.sandbox, ctx.sandbox.hosts[0], ctx.workdir, ctx.log)
    figure.analysis = _analysis(
        statistics.median(cpu["fleet"]), statistics.median(cpu["solo"]), session_s, profiles
    )
    return [figure]


def _analysis(
    cpu_fleet: float, cpu_solo: float, session_s: float, profiles: dict[str, Breakdown]
) -> str:
    return (
        f"profile (the first host's times, 8 hosts: {profiles['fleet'].text()}; 1 host: "
        f"{profiles['solo'].text()}; process start/exit includes the unlock): our deploy "
        f"process used {cpu_fleet:.2f} s of CPU for 8 hosts and {cpu_solo:.2f} s for 1 "
        "(median; one thread and SSH connection per host), so our side of the "
        "orchestration is not what grows. Each host gets one SSH session for the run (the "
        "probe's channel becomes the host-side agent) and three requests on it: the lock "
        "with the facts, the switch, the record with the unlock; the login shell "
        f"({session_s * 1000:.0f} ms here: root's ~/.bashrc runs `pyenv init`) is paid once "
        "per host. What grows is connect+lock+facts: the 8 hosts share this machine's 2 "
        "cores, and on every host at once run the login shell, the agent's Node start, and "
        "the facts' git fetch and PM2's list (two "
        "short Node starts: hostside/pm2_list.js asking the daemon over RPC, then the "
        "whitelisting filter); the lock leader goes first and alone (the race-free order of "
        "issue 14), then the 7 others together, so that phase is two barriers, each as slow "
        "as its slowest host. On 8 real hosts that work runs on 8 machines"
    )
