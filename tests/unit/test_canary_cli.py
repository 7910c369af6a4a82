"""deploy --canary and watch at the CLI (the service faked), their renderings, and `watch`'s
judgement of every host against the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cookcam_ops import ui
from cookcam_ops.canary.bake import CanaryReport, Verdict
from cookcam_ops.canary.hostside import Pm2Look, Worker
from cookcam_ops.canary.metrics import Figure, judge_all
from cookcam_ops.canary.settings import CanaryConfig, Metric
from cookcam_ops.canary.tally import HostSample, HostTally
from cookcam_ops.canary.view import bake_view
from cookcam_ops.cli.main import app
from cookcam_ops.config import load_config
from cookcam_ops.deploy.result import HostResult, Outcome, RunResult
from cookcam_ops.history import parse_history
from cookcam_ops.render.canary import WatchProgress, plain_line, render_canary, sample_table
from cookcam_ops.watch import judge_hosts

OPS = {
    "environments": {
        "prod": {"hosts": ["deploy@127.0.0.1:1"], "canary": {"bake_s": 120}},
        "one": {"hosts": ["deploy@127.0.0.1:2"]},
    }
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "ops.yaml"
    path.write_text(yaml.safe_dump(OPS))
    return path


def rows(canary: float, baseline: float) -> list[Any]:
    return judge_all(
        CanaryConfig(), {m: Figure(canary) for m in Metric}, {m: Figure(baseline) for m in Metric}
    )


def fake_result(req: Any) -> RunResult:
    report = CanaryReport(
        ["host1"],
        60,
        Verdict.ROLLED_BACK,
        "pm2-restarts: canary 1, baseline 0 (rule <= 0)",
        ["host2"],
        rows(1.0, 0.0),
        31.0,
        7,
    )
    hosts = [
        HostResult("host1", "a" * 40, "b" * 40, Outcome.ROLLED_BACK),
        HostResult("host2", "a" * 40, "b" * 40, Outcome.SKIPPED),
    ]
    return RunResult(
        "deploy",
        "prod",
        Outcome.ROLLED_BACK,
        "b" * 40,
        hosts,
        checks=report.checks(),
        canary=report,
    )


@pytest.mark.parametrize(
    ("args", "canary", "hosts", "bake"),
    [
        ([], False, None, None),
        (["--canary"], True, None, None),
        (["--bake", "0"], True, None, 0.0),
        (["--canary-hosts", "2", "--bake", "90"], True, 2, 90.0),
    ],
)
def test_the_canary_flags_reach_the_service(
    runner: CliRunner,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    canary: bool,
    hosts: int | None,
    bake: float | None,
) -> None:
    seen: list[Any] = []

    def fake(loaded: object, req: Any, **kw: object) -> RunResult:
        seen.append(req)
        return fake_result(req)

    monkeypatch.setattr("cookcam_ops.deploy.service.deploy_environment", fake)
    done = runner.invoke(app, ["--config", str(config), "deploy", "prod", "--yes", *args])
    assert done.exit_code == 1, done.output
    assert (seen[0].canary, seen[0].canary_hosts, seen[0].bake_s) == (canary, hosts, bake)
    assert "canary rolled_back" in done.output and "pm2-restarts" in done.output


@pytest.mark.parametrize("args", [["--bake", "-1"], ["--bake", "3601"], ["--canary-hosts", "0"]])
def test_bad_canary_flags_exit_2(runner: CliRunner, config: Path, args: list[str]) -> None:
    done = runner.invoke(app, ["--config", str(config), "deploy", "prod", "--yes", *args])
    assert done.exit_code == 2


def test_json_and_junit_carry_the_verdict(
    runner: CliRunner, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import xml.etree.ElementTree as ET

    monkeypatch.setattr(
        "cookcam_ops.deploy.service.deploy_environment", lambda loaded, req, **kw: fake_result(req)
    )
    junit = tmp_path / "out.xml"
    done = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "deploy",
            "prod",
            "--yes",
            "--canary",
            "--json",
            "--junit",
            str(junit),
        ],
    )
    doc = json.loads(done.stdout)
    assert doc["canary"]["verdict"] == "rolled_back"
    assert doc["canary"]["metrics"][0] == {
        "name": "socket-auth-success",
        "canary": 1.0,
        "baseline": 0.0,
        "rule": ">= 99%",
        "status": "fail",
        "unit": "%",
    }
    failures = [
        c.get("name")
        for c in ET.parse(junit).getroot().iter("testcase")
        if c.find("failure") is not None
    ]
    assert "canary:pm2-restarts" in failures


def test_watch_help_and_a_missing_environment(runner: CliRunner, config: Path) -> None:
    done = runner.invoke(app, ["watch", "--help"])
    assert done.exit_code == 0 and "--duration" in done.output and "--junit" in done.output
    done = runner.invoke(app, ["--config", str(config), "watch", "nope"])
    assert done.exit_code == 2 and "unknown environment 'nope'" in done.output


def test_the_verdict_table_fits_an_80_column_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    buffer = io.StringIO()
    monkeypatch.setattr(ui, "out", lambda: Console(file=buffer, width=80, highlight=False))
    render_canary(fake_result(None).canary)  # type: ignore[arg-type]
    out = buffer.getvalue()
    assert "canary host1: baked 31s of 60s, 7 samples" in out
    assert "pm2-restarts" in out and "canary rolled_back  host1 against host2" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_plain_lines_name_what_fails_with_both_figures() -> None:
    view = bake_view("canary bake", 25, 60, rows(1.0, 0.0))
    text = plain_line(view).plain
    assert text.startswith(
        "canary bake: 25s of 60s: socket-auth-success fail (canary 1%, baseline 0%; rule >= 99%)"
    )
    ok = plain_line(bake_view("canary bake", 5, 60, rows(0.0, 0.0)[5:7])).plain
    assert ok == "canary bake: 5s of 60s: every metric within its rule"
    assert sample_table(view).title is not None


def test_watch_progress_prints_a_line_per_round_off_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ui.reset()
    with WatchProgress(live=False) as progress:
        progress.phase("sampling 2 host(s)")
        progress.sampled(bake_view("watch prod", 5, 10, rows(0.0, 0.0)[5:6]))
    err = capsys.readouterr().err
    assert "sampling 2 host(s)" in err and "watch prod: 5s of 10s" in err
    ui.reset()


def tally_of(restarts: int) -> HostTally:
    tally = HostTally()
    for k, n in enumerate((0, restarts)):
        workers = (Worker("0", 1, "online", n, 1 << 20, None),)
        tally.add(
            HostSample(float(k * 5), (True, 0.01), (5, 0), ((True, 0.02),) * 5, Pm2Look(workers))
        )
    return tally


def test_watch_judges_each_host_against_the_others(config: Path) -> None:
    loaded = load_config(config)
    judged = judge_hosts(loaded, "prod", {"web1": tally_of(0), "web2": tally_of(3)})
    status = {
        label: {r.metric: r.status.value for r in host_rows} for label, host_rows in judged.items()
    }
    assert status["web2"][Metric.PM2_RESTARTS] == "fail"
    assert status["web1"][Metric.PM2_RESTARTS] == "pass"
    assert status["web1"][Metric.SOCKET_AUTH_P95] == "pass"  # relative: against web2
    alone = judge_hosts(loaded, "one", {"web1": tally_of(0)})["web1"]
    assert {r.metric: r.status.value for r in alone}[Metric.SOCKET_AUTH_P95] == "skip"


def test_history_keeps_a_canary_verdict() -> None:
    line = (
        '{"id":"r","time":"2026-01-01T00:00:00Z","action":"canary","user":"u","host":"h",'
        '"from_sha":null,"to_sha":null,"outcome":"rolled_back","duration_s":30,"ref":null,'
        '"detail":"pm2-restarts: canary 1, baseline 0 (rule <= 0)"}'
    )
    (record,), bad = parse_history(line)
    assert bad == 0 and record.detail is not None and record.detail.startswith("pm2-restarts")
    assert not record.succeeded  # a verdict never counts as a release served


def test_a_canary_put_back_is_announced_with_its_metrics() -> None:
    from cookcam_ops.notify import run_event

    result = fake_result(None)
    event = run_event(result, {}, "ann")
    assert event is not None and event.name == "failure"
    assert "failed (canary bake: pm2-restarts: canary 1, baseline 0 (rule <= 0))" in event.text
    assert "rolled back by itself" in event.text


def test_watch_progress_draws_a_live_table_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ui.reset()
    with WatchProgress(live=True) as progress:
        progress.sampled(bake_view("watch prod", 5, 10, rows(0.0, 0.0)))
        progress.phase("sampling 2 host(s)")
    err = capsys.readouterr().err
    assert "watch prod: 5s of 10s, 5s left" in err and "socket-auth-success" in err
    ui.reset()
