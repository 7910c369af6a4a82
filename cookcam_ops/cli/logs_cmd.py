"""`cookcam-ops logs` and `cookcam-ops history`: recent PM2 logs, and the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cookcam_ops.cli.common import EnvArg, JsonOpt, conclude, load
from cookcam_ops.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from cookcam_ops.follow import FollowOptions
    from cookcam_ops.remote.fanout import Connector, Target


HostOpt = Annotated[
    str | None,
    typer.Option("--host", metavar="NAME", help="Only this host (its name from ops.yaml)."),
]


def logs(
    ctx: typer.Context,
    environment: EnvArg,
    lines: Annotated[
        int | None,
        typer.Option(
            "--lines",
            "-n",
            min=1,
            max=10_000,
            show_default=False,
            help="Lines per host [default: 50; with -f 10, or up to 10000 with --since].",
        ),
    ] = None,
    host: HostOpt = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep printing new lines from every host until Ctrl-C."
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DURATION",
            help="With -f: only lines written in the last DURATION (90s, 10m, 2h, 1d); needs the "
            "times PM2 writes with `time: true`.",
        ),
    ] = None,
    grep: Annotated[
        str | None,
        typer.Option(
            "--grep", metavar="REGEX", help="Only lines matching this regular expression."
        ),
    ] = None,
    err: Annotated[bool, typer.Option("--err", help="Only the app's stderr.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Print the app's PM2 logs from each host, each line prefixed by the host's name.

    With -f, follow every host at once until Ctrl-C (exit 130; a host that stops answering is
    said and the others go on). Exit 0 read from every host, 1 when a reachable host's logs
    could not be read (pm2 not found there, its daemon not running), 3 when a host could not
    be reached: the other hosts are still printed.
    """
    from cookcam_ops.follow import FollowOptions, compile_grep, parse_since
    from cookcam_ops.remote.fanout import select_hosts, ssh_connector, targets_for

    pattern = compile_grep(grep) if grep is not None else None
    since_s = parse_since(since) if since is not None else None
    if as_json and follow:
        raise UsageError(
            "logs --follow prints lines as they come; it has no JSON document",
            hint="use logs --json without -f for one document of recent lines",
        )
    if since_s is not None and not follow:
        raise UsageError("--since needs --follow (-f)", hint="or use --lines N")
    loaded = load(ctx)
    env = loaded.environment(environment)
    targets = targets_for(loaded, env, select_hosts(environment, env, host))
    connector = ssh_connector(loaded, env)
    if follow:
        _follow(environment, targets, connector, FollowOptions(lines or 10, since_s, pattern, err))
    from cookcam_ops.logs import fetch_logs
    from cookcam_ops.render.history import render_logs

    report = fetch_logs(environment, targets, connector, lines or 50, grep=pattern, err_only=err)
    conclude(
        ctx,
        as_json=as_json,
        doc=report.to_dict,
        code=report.exit_code,
        render=lambda: render_logs(report.hosts),
    )


def _follow(
    environment: str, targets: list[Target], connector: Connector, opts: FollowOptions
) -> NoReturn:
    from cookcam_ops.follow import follow_logs
    from cookcam_ops.render.history import render_followed, render_logs

    report, interrupted = follow_logs(environment, targets, connector, opts, render_followed)
    render_logs(report.hosts)
    raise typer.Exit(int(ExitCode.INTERRUPTED) if interrupted else int(report.exit_code))


def history(
    ctx: typer.Context,
    environment: EnvArg,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=2000, help="Show at most this many records.")
    ] = 20,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show every deploy and rollback, newest first: who, when, from -> to, outcome, duration.

    Read from the audit log each host keeps beside the app, merged across hosts.
    Exit 3 when a host could not be reached (the others are still shown), 1 when a host's
    log could not be read.
    """
    from cookcam_ops.history import read_history
    from cookcam_ops.remote.fanout import select_hosts, ssh_connector, targets_for
    from cookcam_ops.render.history import render_history

    loaded = load(ctx)
    env = loaded.environment(environment)
    targets = targets_for(loaded, env, select_hosts(environment, env, host))
    report = read_history(environment, targets, ssh_connector(loaded, env), limit)
    conclude(
        ctx,
        as_json=as_json,
        doc=report.to_dict,
        code=report.exit_code,
        render=lambda: render_history(report),
    )
