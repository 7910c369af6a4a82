"""Figure 2, deploy overhead: `cookcam-ops deploy` of a release to one host, against the same
remote commands run by one plain `ssh host 'cmd1 && cmd2 && ...'` and by ansible-playbook.

Every sample deploys a fresh `sandbox change release` (a version bump: real build, test build,
reload), so each side does the real work; the sides take turns within each round.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.commands import OURS_ONLY, deploy_commands
from bench.context import Context
from bench.figures import Figure, Goal
from bench.proc import BenchError, Done
from bench.remote import ansible, plain_ssh, session_cost
from bench.tools import ensure_ansible

NOTES_SSH = (
    "ours: one `deploy --yes` process (start-up, SSH connect, facts with git fetch, "
    "lock, checklist, build aside, test build, switch, pm2 reload + PM2 list check, health, "
    f"smoke, record); theirs: the same remote commands minus {', '.join(OURS_ONLY)} "
    "(taken from `deploy --dry-run --json` and our built-ins' scripts) chained with && "
    "in one ssh session; each sample deploys a fresh release change"
)
NOTES_ANSIBLE = (
    "theirs: ansible-core running the same commands as one `shell` task each, "
    "gather_facts off, pipelining on, ControlPersist (fresh per run)"
)


@dataclass
class Breakdown:
    """Where our deploys' time went, from their JSON (seconds per sample)."""

    process: list[float] = field(default_factory=list)  # start-up and exit around the run
    before_steps: list[float] = field(default_factory=list)  # connect, lock, facts, checklist
    steps: dict[str, list[float]] = field(default_factory=dict)

    def add(self, wall: float, doc: dict[str, Any]) -> None:
        steps = doc["hosts"][0]["steps"]
        self.process.append(wall - float(doc["duration_s"]))
        self.before_steps.append(float(doc["duration_s"]) - sum(s["duration_s"] for s in steps))
        for s in steps:
            self.steps.setdefault(s["name"], []).append(float(s["duration_s"]))

    def text(self) -> str:
        med = statistics.median
        parts = [
            f"process start/exit {med(self.process):.2f} s",
            f"connect+lock+facts+checklist {med(self.before_steps):.2f} s",
        ]
        parts += [f"{name} {med(v):.2f} s" for name, v in self.steps.items() if med(v) >= 0.05]
        return ", ".join(parts)


def deploy_ours(
    ctx: Context, config_name: str, environment: str, breakdown: Breakdown | None = None
) -> Done:
    """Push a release and deploy it with cookcam-ops (the deploy must succeed)."""
    sb = ctx.sandbox
    sb.change()
    done, doc = ctx.ops_json(sb.dir / config_name, "deploy", environment, "--yes")
    if doc.get("outcome") != "deployed":
        raise BenchError(f"deploy {environment}: outcome {doc.get('outcome')!r} (see {ctx.log})")
    if breakdown is not None:
        breakdown.add(done.seconds, doc)
    return done


def _profile(breakdown: Breakdown) -> str:
    return (
        f"profile (the step times of these runs: {breakdown.text()}; process start/exit "
        "includes the unlock, which comes after the run's own duration): every command of "
        "ours goes to one session per host (the probe's SSH channel becomes the host-side "
        "agent, cookcam_ops/hostside/agent.js); the lock, the facts with the git fetch and "
        "the checklist's server half are one request to it, the audit record and the unlock "
        "another (tests/e2e/test_sessions.py counts them on the hosts), and the small steps "
        "(prepare, link-modules, switch: under 0.05 s each) one each. "
    )


def _sessions(session_s: float) -> str:
    return (
        f"A session costs {session_s * 1000:.0f} ms on this machine (measured: `true` on "
        "an open connection), mostly the login shell: root's ~/.bashrc runs `pyenv init`; "
        "ours pays it once per host, as the plain side does. "
    )


CLOSING = (
    "What remains is what only ours does, each a check the plain side goes without: "
    "the checklist's server half (in connect+lock+facts+checklist: node and npm "
    "versions, git, both ecosystem files and the package's engines read by node, PM2's "
    "list and saved list, the kill signal, a health GET: a dozen short Node or CLI starts "
    "on the host), the smoke gate (sign-in and Socket.IO handshakes from this machine), "
    "and inside `reload` the check that every worker is new and stays up: two looks at "
    "PM2's list a second apart (a fixed 1 s wait, to catch a crash loop; each look asks "
    "the daemon over its RPC socket, hostside/pm2_list.js, no pm2 CLI), then `pm2 save` "
    "and a look at the saved list (with `pm2 reload` itself, the only pm2 CLI starts "
    "left, about 0.3 s of Node each here). The plain side trusts `pm2 reload`'s exit code. "
    "Going further means a shorter settle wait, a host-side `pm2 save` over RPC, or "
    "dropping checks; this version does none of these"
)


def solo_config(ctx: Context) -> Path:
    """An ops.yaml with environment `solo`: the sandbox's first host."""
    sb = ctx.sandbox
    return sb.write_config("bench-solo.yaml", {"solo": {"hosts": sb.hosts_doc(1)}})


def ours_and_plain(
    ctx: Context, config: Path, breakdown: Breakdown | None = None
) -> tuple[float, float]:
    """One release deployed by ours, the next by one plain ssh session: their seconds."""
    ours = deploy_ours(ctx, config.name, "solo", breakdown).seconds
    ctx.sandbox.change()
    commands = deploy_commands(config, "solo", ctx.log)
    return ours, plain_ssh(ctx.sandbox, ctx.sandbox.hosts[0], commands, ctx.log).seconds


def measure(ctx: Context) -> list[Figure]:
    """Pairs of (ours, plain ssh) and (ours, ansible), one round at a time."""
    sb = ctx.sandbox
    host = sb.hosts[0]
    config = solo_config(ctx)
    binary = ensure_ansible(ctx.log)
    vs_ssh = Figure(
        "deploy-vs-ssh",
        "Deploy overhead: release to 1 host vs plain ssh",
        "cookcam-ops deploy",
        "one `ssh host 'cmd && …'`",
        "s",
        Goal("<=", 1.3),
        notes=NOTES_SSH,
    )
    vs_ansible = Figure(
        "deploy-vs-ansible",
        "Deploy overhead: release to 1 host vs Ansible",
        "cookcam-ops deploy",
        "ansible-playbook, same commands",
        "s",
        Goal("<=", 0.6),
        notes=NOTES_ANSIBLE,
    )
    breakdown = Breakdown()
    for i in range(ctx.pairs):
        ours, plain = ours_and_plain(ctx, config, breakdown)
        sb.change()
        theirs = ansible(
            binary,
            sb,
            host,
            deploy_commands(config, "solo", ctx.log),
            ctx.workdir / f"ansible-{i}",
            ctx.log,
        ).seconds
        vs_ssh.add(ours, plain)
        vs_ansible.add(ours, theirs)
        ctx.say(f"deploy round {i + 1}: ours {ours:.1f}s, ssh {plain:.1f}s, ansible {theirs:.1f}s")
    sessions = _sessions(session_cost(sb, host, ctx.workdir, ctx.log))
    vs_ssh.analysis = _profile(breakdown) + "The plain side opens one. " + sessions + CLOSING
    vs_ansible.analysis = (
        _profile(breakdown) + sessions + "Ansible pays a session and a "
        "Python module run per task (pipelining and ControlPersist on), so "
        "ours, at one session per host, lands near it only by the checks "
        "Ansible's side does not do. " + CLOSING
    )
    return [vs_ssh, vs_ansible]
