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
from bench.deploy import deploy_ours
from bench.figures import Figure, Goal
from bench.proc import BenchError
from bench.remote import session_cost

LIGHT_PLAYBOOK = {
    "description": "benchmark: orchestration only (no build, no reload)",
    "facts_timeout": 120,
    "steps": [
        {"name": "lock", "builtin": "lock"},
        {"name": "switch", "switch": True, "timeout": 60,
         "run": "git checkout --quiet --force -B {branch} {to_sha}"},
        {"name": "record", "builtin": "record", "timeout": 30},
    ],
}


def _light_config(ctx: Context, hosts: int) -> Path:
    playbook = ctx.workdir / "light-deploy.yaml"
    playbook.write_text(yaml.safe_dump(LIGHT_PLAYBOOK, sort_keys=False), encoding="utf-8")
    sb = ctx.sandbox
    return sb.write_config("bench-fanout.yaml", {
        "solo": {"hosts": sb.hosts_doc(1)},
        "fleet": {"hosts": sb.hosts_doc(hosts), "batch_size": hosts},
    }, deploy_playbook=playbook)


def measure(ctx: Context) -> list[Figure]:
    """Pairs of (8 hosts, 1 host)."""
    hosts = len(ctx.sandbox.hosts)
    if hosts < 8:
        raise BenchError(f"fan-out needs an 8-host sandbox (this one has {hosts})")
    config = _light_config(ctx, 8)
    figure = Figure("fanout", "Fan-out: light deploy to 8 hosts at once vs 1 host",
                    "8 hosts, batch 8", "1 host", "s", Goal("<=", 1.5),
                    notes="same light playbook (lock, git checkout switch, record) on both "
                          "sides, whole `deploy --yes` process timed; PM2 keeps 2 idle "
                          "workers per host (no option changes that; the light playbook "
                          "never reloads them)")
    cpu: dict[str, list[float]] = {"fleet": [], "solo": []}
    for i in range(ctx.pairs):
        fleet = deploy_ours(ctx, config.name, "fleet")
        solo = deploy_ours(ctx, config.name, "solo")
        figure.add(fleet.seconds, solo.seconds)
        cpu["fleet"].append(fleet.cpu_s)
        cpu["solo"].append(solo.cpu_s)
        ctx.say(f"fan-out round {i + 1}: 8 hosts {fleet.seconds:.1f}s, "
                f"1 host {solo.seconds:.1f}s")
    session_s = session_cost(ctx.sandbox, ctx.sandbox.hosts[0], ctx.workdir, ctx.log)
    figure.analysis = _analysis(statistics.median(cpu["fleet"]), statistics.median(cpu["solo"]),
                                session_s)
    return [figure]


def _analysis(cpu_fleet: float, cpu_solo: float, session_s: float) -> str:
    return (f"our deploy process used {cpu_fleet:.2f} s of CPU for 8 hosts and {cpu_solo:.2f} s "
            "for 1 (median; its SSH connections run in threads, one per host), so our side of "
            "the orchestration is not what grows. A per-command trace shows every phase "
            "(lock, facts, switch, record, unlock: 5 SSH sessions per host, each a barrier "
            "across the batch) taking 2-4x longer with 8 hosts: the hosts share this machine's "
            f"2 cores, and each session starts a login shell ({session_s * 1000:.0f} ms here, "
            "root's ~/.bashrc runs `pyenv init`) and the facts run git fetch and rev-parse, "
            "8 at a time. On 8 real hosts that work is spread over 8 machines; here it is "
            "not, and no change on our side removes it short of fewer sessions per host "
            "(the engine in cookcam_ops/deploy, not changed here)")
