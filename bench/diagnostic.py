"""Diagnostic rows (no goal): deploy-vs-ssh and fan-out again with the login shell's rc skipped.

See bench/shellrc.py for why and how. They show what part of a missed goal is this machine's
~/.bashrc rather than cookcam-ops; the figures of the issue are the rows above them.
"""

from __future__ import annotations

from bench.context import Context
from bench.deploy import ours_and_plain, solo_config
from bench.fanout import fleet_and_solo, light_config
from bench.figures import Figure
from bench.remote import session_cost
from bench.shellrc import rc_skipped

NOTE = (
    "diagnostic, not a figure of the issue: the row above re-run with the sandbox's sshds "
    "setting SHLVL=1, so bash skips root's ~/.bashrc (`pyenv init`) for ssh commands, "
    "as a stock ~/.bashrc would return at once; one SSH session then costs {ms:.0f} ms "
    "instead of {before:.0f} ms"
)


def measure(ctx: Context) -> list[Figure]:
    """Both diagnostics, inside one rc-skipped window."""
    sb = ctx.sandbox
    deploy = Figure(
        "diag-deploy-vs-ssh",
        "Diagnostic: deploy vs plain ssh, ~/.bashrc skipped",
        "cookcam-ops deploy",
        "one `ssh host 'cmd && …'`",
        "s",
        None,
    )
    fan = Figure(
        "diag-fanout",
        "Diagnostic: fan-out 8 vs 1 host, ~/.bashrc skipped",
        "8 hosts, batch 8",
        "1 host",
        "s",
        None,
    )
    solo, light = solo_config(ctx), light_config(ctx, min(8, len(sb.hosts)))
    before = session_cost(sb, sb.hosts[0], ctx.workdir, ctx.log)
    with rc_skipped(sb):
        after = session_cost(sb, sb.hosts[0], ctx.workdir, ctx.log)
        for i in range(ctx.pairs):
            deploy.add(*ours_and_plain(ctx, solo))
            fleet, one = fleet_and_solo(ctx, light)
            fan.add(fleet.seconds, one.seconds)
            ctx.say(
                f"diagnostic round {i + 1}: deploy {deploy.ours[-1]:.1f}s vs ssh "
                f"{deploy.theirs[-1]:.1f}s; 8 hosts {fleet.seconds:.1f}s vs 1 host "
                f"{one.seconds:.1f}s"
            )
    deploy.notes = fan.notes = NOTE.format(ms=after * 1000, before=before * 1000)
    return [deploy, fan]
