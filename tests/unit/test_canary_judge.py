"""Canary judgement (pure): rules in ops.yaml, figures from samples, verdicts, certainty, and the
host-side sample script run here against temp files (no host, no PM2 daemon)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from cookcam_ops.canary import hostside
from cookcam_ops.canary.hostside import Pm2Look, Pm2Sample, Worker, parse_logs
from cookcam_ops.canary.metrics import (
    Figure,
    MetricStatus,
    certain,
    failed_lines,
    fmt,
    judge,
    judge_all,
    rule_text,
    worst,
)
from cookcam_ops.canary.settings import DEFAULT_RULES, CanaryConfig, Metric, Rule
from cookcam_ops.canary.tally import HostSample, HostTally
from cookcam_ops.config import load_config
from cookcam_ops.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


def test_the_example_spells_out_the_defaults() -> None:
    canary = load_config(ROOT / "ops.yaml.example").environment("production").canary
    assert canary.rules == DEFAULT_RULES
    assert canary == CanaryConfig(rules=DEFAULT_RULES)


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"pm2-restarts": {"max": 0, "ratio": 2}}, "canary.rules.pm2-restarts: give one of"),
        ({"pm2-restarts": {}}, "canary.rules.pm2-restarts: give one of"),
        ({"restarts": {"max": 1}}, "canary.rules.restarts"),
        ({"http-5xx": {"max": 1, "colour": "red"}}, "canary.rules.http-5xx.colour: unknown key"),
        (
            {"memory-growth-mb": {"ratio": 0}},
            "canary.rules.memory-growth-mb.ratio: Input should be greater",
        ),
    ],
)
def test_a_bad_rule_is_one_line_with_its_key_path(
    tmp_path: Path, rules: dict[str, object], expected: str
) -> None:
    doc = {"environments": {"prod": {"hosts": ["a@b"], "canary": {"rules": rules}}}}
    (tmp_path / "ops.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "ops.yaml")
    assert f"environments.prod.{expected}" in str(info.value)


def test_a_rule_given_replaces_its_default_only() -> None:
    settings = CanaryConfig(rules={Metric.PM2_RESTARTS: Rule(max=2)})
    assert settings.rule(Metric.PM2_RESTARTS) == Rule(max=2)
    assert settings.rule(Metric.SOCKET_AUTH_SUCCESS) == Rule(min=99)
    assert not CanaryConfig(probe_requests=0).rule(Metric.HTTP_5XX).enabled


@pytest.mark.parametrize(
    ("metric", "rule", "text"),
    [
        (Metric.SOCKET_AUTH_SUCCESS, Rule(min=99), ">= 99%"),
        (Metric.PM2_RESTARTS, Rule(max=0), "<= 0"),
        (Metric.SOCKET_AUTH_P95, Rule(ratio=2, margin=250), "<= baseline x 2 + 250 ms"),
        (Metric.MEMORY_GROWTH, Rule(ratio=1, margin=64), "<= baseline + 64 MB"),
        (Metric.SOCKET_AUTH_SUCCESS, Rule(margin=1), ">= baseline - 1%"),
        (Metric.HTTP_5XX, Rule(max=0, enabled=False), "off"),
    ],
)
def test_rules_read_as_people_write_them(metric: Metric, rule: Rule, text: str) -> None:
    assert rule_text(metric, rule) == text


@pytest.mark.parametrize(
    ("metric", "rule", "canary", "baseline", "status"),
    [
        (Metric.SOCKET_AUTH_SUCCESS, Rule(min=99), 99.0, None, MetricStatus.PASS),
        (Metric.SOCKET_AUTH_SUCCESS, Rule(min=99), 98.9, 100.0, MetricStatus.FAIL),
        (Metric.SOCKET_AUTH_SUCCESS, Rule(margin=1), 99.5, 100.0, MetricStatus.PASS),
        (Metric.SOCKET_AUTH_SUCCESS, Rule(margin=1), 98.5, 100.0, MetricStatus.FAIL),
        (Metric.SOCKET_AUTH_P95, Rule(ratio=2, margin=250), 449.0, 100.0, MetricStatus.PASS),
        (Metric.SOCKET_AUTH_P95, Rule(ratio=2, margin=250), 451.0, 100.0, MetricStatus.FAIL),
        (Metric.SOCKET_AUTH_P95, Rule(ratio=2), 10.0, None, MetricStatus.SKIP),  # no baseline
        (Metric.PM2_RESTARTS, Rule(max=0), None, 0.0, MetricStatus.FAIL),  # never measured
        (Metric.PM2_RESTARTS, Rule(max=0, enabled=False), 5.0, 0.0, MetricStatus.SKIP),
    ],
)
def test_judge_both_directions(
    metric: Metric, rule: Rule, canary: float | None, baseline: float | None, status: MetricStatus
) -> None:
    assert judge(metric, rule, canary, baseline) is status


def test_a_group_is_as_good_as_its_worst_host() -> None:
    assert worst(Metric.SOCKET_AUTH_SUCCESS, [Figure(100.0), Figure(90.0), Figure(None)]) == Figure(
        90.0
    )
    assert worst(Metric.PM2_RESTARTS, [Figure(0.0), Figure(3.0)]) == Figure(3.0)
    assert worst(Metric.PM2_RESTARTS, [Figure(None)]) == Figure(None)


def test_failures_no_later_sample_can_undo_are_certain() -> None:
    auth = Rule(min=99)
    # 130 handshakes planned over the bake: 1 failure is allowed, 2 are not
    assert not certain(Metric.SOCKET_AUTH_SUCCESS, auth, Figure(90.0, bad=1, total=10), 130)
    assert certain(Metric.SOCKET_AUTH_SUCCESS, auth, Figure(80.0, bad=2, total=10), 130)
    assert certain(Metric.HTTP_5XX, Rule(max=0), Figure(1.0, bad=1, total=100), 1000)
    assert certain(Metric.PM2_RESTARTS, Rule(max=0), Figure(1.0), 0)
    assert not certain(Metric.PM2_RESTARTS, Rule(margin=1), Figure(9.0), 0)  # relative
    assert not certain(Metric.SOCKET_AUTH_P95, Rule(max=10), Figure(50.0), 0)  # a level


def test_mid_bake_a_failure_that_may_recover_is_failing_and_nothing_yet_is_pending() -> None:
    settings = CanaryConfig()
    canary = {
        Metric.SOCKET_AUTH_SUCCESS: Figure(90.0, bad=1, total=10),
        Metric.PM2_RESTARTS: Figure(1.0),
    }
    rows = {r.metric: r for r in judge_all(settings, canary, {}, {Metric.SOCKET_AUTH_SUCCESS: 130})}
    assert rows[Metric.SOCKET_AUTH_SUCCESS].status is MetricStatus.FAILING
    assert rows[Metric.PM2_RESTARTS].status is MetricStatus.FAIL
    assert rows[Metric.MEMORY_GROWTH].status is MetricStatus.PENDING
    final = judge_all(settings, canary, {Metric.PM2_RESTARTS: Figure(0.0)})
    assert failed_lines(final).startswith("socket-auth-success: canary 90%, baseline -")
    assert "pm2-restarts: canary 1, baseline 0 (rule <= 0)" in failed_lines(final)


def test_figures_read_as_people_read_them() -> None:
    assert fmt(Metric.SOCKET_AUTH_SUCCESS, 99.25) == "99.2%"
    assert fmt(Metric.SOCKET_AUTH_SUCCESS, 100.0) == "100%"
    assert fmt(Metric.SOCKET_AUTH_P95, 143.4) == "143 ms"
    assert fmt(Metric.MEMORY_GROWTH, 12.5) == "12.5 MB"
    assert fmt(Metric.ERROR_LOG_RATE, 3.0) == "3/min"
    assert fmt(Metric.PM2_RESTARTS, None) == "-"


def worker(pm_id: str, pid: int, restarts: int, memory_mb: float, status: str = "online") -> Worker:
    return Worker(pm_id, pid, status, restarts, int(memory_mb * MB), f"/l/err-{pm_id}.log")


def look(*workers: Worker, lines: int = 0, error: str | None = None) -> Pm2Look:
    return Pm2Look(workers, {"/l/err-0.log": (100, lines)}, error)


def test_a_tally_counts_restarts_memory_and_error_lines_between_looks() -> None:
    tally = HostTally()
    tally.add(
        HostSample(
            0.0,
            (True, 0.01),
            (10, 0),
            ((True, 0.1),) * 10,
            look(worker("0", 10, 3, 50), worker("1", 11, 3, 50)),
        )
    )
    tally.add(
        HostSample(
            30.0,
            (True, 0.02),
            (10, 1),
            ((True, 0.1),) * 9 + ((False, 10.0),),
            look(worker("0", 12, 4, 40, "launching"), worker("1", 11, 3, 80), lines=5),
        )
    )
    tally.add(HostSample(60.0, (False, 5.0), (10, 0), (), None, "host1: connection lost"))
    f = tally.figures()
    assert f[Metric.PM2_RESTARTS].value == 1
    assert f[Metric.WORKERS_NOT_ONLINE].value == 1
    assert f[Metric.MEMORY_GROWTH].value == pytest.approx(30.0)  # the same pid only
    assert f[Metric.ERROR_LOG_RATE].value == pytest.approx(10.0)  # 5 lines in 30 s
    assert f[Metric.SOCKET_AUTH_SUCCESS] == Figure(95.0, bad=1, total=20)
    assert f[Metric.HEALTH_SUCCESS].value == pytest.approx(200 / 3)
    assert f[Metric.HTTP_5XX] == Figure(100 / 30, bad=1, total=30)
    assert tally.problems == ["host1: connection lost"]


def test_a_worker_gone_or_pm2_down_counts_as_not_online() -> None:
    tally = HostTally()
    tally.add(HostSample(0.0, pm2=look(worker("0", 1, 0, 1), worker("1", 2, 0, 1))))
    tally.add(HostSample(5.0, pm2=look(worker("0", 1, 0, 1))))
    assert tally.figures()[Metric.WORKERS_NOT_ONLINE].value == 1
    tally.add(HostSample(10.0, pm2=look(error="the PM2 daemon is not running")))
    assert tally.figures()[Metric.WORKERS_NOT_ONLINE].value == 2


def test_no_look_means_no_pm2_figures() -> None:
    tally = HostTally()
    tally.add(HostSample(0.0, (True, 0.01), pm2=None, problem="unreachable"))
    figures = tally.figures()
    for metric in (
        Metric.PM2_RESTARTS,
        Metric.WORKERS_NOT_ONLINE,
        Metric.MEMORY_GROWTH,
        Metric.ERROR_LOG_RATE,
    ):
        assert figures[metric].value is None


JLIST = (
    '{"now":1,"processes":[{"name":"cookcam-api","pm_id":0,"pid":41,"status":"online",'
    '"restart_time":2,"memory":1048576,"pm_err_log_path":"/h/.pm2/logs/e-0.log"},'
    '{"name":"other","pm_id":1,"pid":42,"status":"online"},'
    '{"name":"cookcam-api","pm_id":2,"pid":null,"status":"errored",'
    '"pm_err_log_path":"relative.log"}]}'
)


def test_a_look_keeps_the_app_workers_and_safe_log_paths() -> None:
    out = (
        "\n@@cookcam-ops begin pm2@@\n" + JLIST + "\n@@cookcam-ops end pm2 0@@\n"
        "\n@@cookcam-ops begin logs@@\n120 3 /h/.pm2/logs/e-0.log\nbad line\n"
        "@@cookcam-ops end logs 0@@\n"
    )
    result = Pm2Sample("cookcam-api").process(out)
    assert [w.pm_id for w in result.workers] == ["0", "2"]
    assert result.workers[0] == Worker("0", 41, "online", 2, 1048576, "/h/.pm2/logs/e-0.log")
    assert result.workers[1].err_log is None and result.workers[1].pid is None
    assert result.logs == {"/h/.pm2/logs/e-0.log": (120, 3)}
    down = Pm2Sample("cookcam-api").process(
        '\n@@cookcam-ops begin pm2@@\n{"error":"the PM2 daemon is not running"}\n'
        "@@cookcam-ops end pm2 0@@\n"
    )
    assert down.error == "the PM2 daemon is not running" and down.workers == ()


def test_the_command_goes_through_the_whitelisted_filter_and_quotes_paths() -> None:
    command = Pm2Sample("cookcam-api", {"/l/it's.log": 10}).command()
    assert "pm2 jlist" in command and "pm2_env.env" not in command
    assert "'\"'\"'" in command  # the quote in the path is quoted for the shell
    assert "pm2 jlist" not in Pm2Sample("x", {"/l/a": -1}, jlist=False).command()


def test_the_sample_script_counts_new_error_lines_on_a_real_shell(tmp_path: Path) -> None:
    """The whole command, run here by sh: no PM2 daemon answers, the logs are counted."""
    log = tmp_path / "err.log"
    log.write_text("one\ntwo\n")
    rotated = tmp_path / "rotated.log"
    rotated.write_text("x\n")
    offsets = {
        str(log): 4,
        str(rotated): 100,
        str(tmp_path / "gone.log"): 0,
        str(tmp_path / "new.log"): hostside.SIZE_ONLY,
    }
    (tmp_path / "new.log").write_text("a\nb\nc\n")
    sample = Pm2Sample("cookcam-api", offsets)
    done = subprocess.run(
        ["sh", "-c", sample.command()],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PM2_HOME": str(tmp_path / "pm2")},
    )
    result = sample.process(done.stdout)
    assert result.error == "the PM2 daemon is not running"
    assert result.logs == {
        str(log): (8, 1),
        str(rotated): (2, 1),
        str(tmp_path / "gone.log"): (0, 0),
        str(tmp_path / "new.log"): (6, 0),
    }


def test_parse_logs_ignores_what_it_cannot_read() -> None:
    assert parse_logs("5 1 /a b.log\nx y z\n7 -1 /b\n") == {"/a b.log": (5, 1)}
