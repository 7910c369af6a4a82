"""status, logs and history through the CLI, with a fake connector instead of SSH."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cookcam_ops.cli.main import app
from cookcam_ops.config import EnvironmentConfig, HostConfig, LoadedConfig
from cookcam_ops.errors import HostError
from cookcam_ops.history import merge_key, parse_history, serving_since
from cookcam_ops.logs import clean_line, parse_logs
from cookcam_ops.remote import fanout
from tests.unit import pm2_fakes
from tests.unit.test_status_service import FakeTransport, healthy_output, sections

OPS_YAML = """\
app: {name: cookcam-api, path: /srv/api}
environments:
  production:
    hosts:
      - {ssh: deploy@web1, name: web1}
      - {ssh: deploy@web2, name: web2}
"""


def record(**over: object) -> str:
    doc: dict[str, object] = {
        "id": "r1",
        "time": "2026-01-01T10:00:00Z",
        "action": "deploy",
        "user": "ana",
        "host": "laptop",
        "from_sha": "a" * 40,
        "to_sha": "b" * 40,
        "outcome": "deployed",
        "duration_s": 30.2,
        "ref": "main",
    }
    doc.update(over)
    return json.dumps(doc)


@pytest.fixture
def ops(tmp_path: Path) -> Path:
    path = tmp_path / "ops.yaml"
    path.write_text(OPS_YAML, encoding="utf-8")
    return path


@pytest.fixture
def hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str | None]]:
    """Per-host canned stdout (None: the host is unreachable)."""
    outputs: dict[str, str | None] = {}

    def fake_connector(
        loaded: LoadedConfig, env: EnvironmentConfig, accept_new_host_keys: bool = False
    ) -> Callable[[HostConfig], object]:
        def connect(host: HostConfig) -> FakeTransport:
            out = outputs.get(host.label)
            if out is None:
                raise HostError(f"{host.label}: could not connect (connection refused)")
            return FakeTransport(host.label, out)

        return connect

    monkeypatch.setattr(fanout, "ssh_connector", fake_connector)
    yield outputs


def test_status_json_all_healthy(
    runner: CliRunner, ops: Path, hosts: dict[str, str | None]
) -> None:
    hosts.update(web1=healthy_output(), web2=healthy_output())
    result = runner.invoke(app, ["--config", str(ops), "status", "production", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert [h["name"] for h in doc["hosts"]] == ["web1", "web2"]
    assert all(h["healthy"] and len(h["processes"]) == 2 for h in doc["hosts"])


def test_status_unreachable_host_is_reported_exit_3(
    runner: CliRunner, ops: Path, hosts: dict[str, str | None]
) -> None:
    hosts.update(web1=healthy_output(), web2=None)
    result = runner.invoke(app, ["--config", str(ops), "status", "production"])
    assert result.exit_code == 3
    assert "web2" in result.stdout and "connection refused" in result.stdout
    assert "FAILED" in result.stdout
    doc = json.loads(
        runner.invoke(app, ["--config", str(ops), "status", "production", "--json"]).stdout
    )
    assert doc["unreachable"] == [
        {"host": "web2", "reason": "web2: could not connect (connection refused)"}
    ]
    assert doc["answered"] == ["web1"]
    assert [h["reachable"] for h in doc["hosts"]] == [True, False]


def test_logs_prefix_each_line_with_the_host(
    runner: CliRunner, ops: Path, hosts: dict[str, str | None]
) -> None:
    hosts.update(web1="[TAILING] Tailing last 2 lines\nhello \x1b[31mred\x1b[0m\n", web2="bye\n")
    result = runner.invoke(app, ["--config", str(ops), "logs", "production", "--lines", "2"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["[web1] hello red", "[web2] bye"]


def test_logs_unreachable_host_exits_3_after_the_others(
    runner: CliRunner, ops: Path, hosts: dict[str, str | None]
) -> None:
    hosts.update(web1="line\n", web2=None)
    result = runner.invoke(app, ["--config", str(ops), "logs", "production"])
    assert result.exit_code == 3
    assert "[web1] line" in result.stdout and "web2" in result.stderr


def test_logs_unknown_host_is_a_usage_error(
    runner: CliRunner, ops: Path, hosts: dict[str, str | None]
) -> None:
    result = runner.invoke(app, ["--config", str(ops), "logs", "production", "--host", "nope"])
    assert result.exit_code == 2
    assert "web1, web2" in result.stderr


def test_history_merges_hosts_newest_first(
    runner: CliRunner, ops: Path, hosts: dict[str, str | None]
) -> None:
    hosts.update(
        web1=record() + "\nnot json\n" + record(id="r3", time="2026-01-03T10:00:00Z"),
        web2=record(id="r2", time="2026-01-02T10:00:00Z", outcome="rolled_back"),
    )
    result = runner.invoke(app, ["--config", str(ops), "history", "production", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [r["id"] for r in doc["records"]] == ["r3", "r2", "r1"]
    assert [r["server"] for r in doc["records"]] == ["web1", "web2", "web1"]
    assert any(c["status"] == "warn" and "1 unreadable" in c["detail"] for c in doc["checks"])
    table = runner.invoke(app, ["--config", str(ops), "history", "production", "--limit", "1"])
    assert "r3" not in table.stdout  # ids are not shown; the newest row is
    assert "2026-01-03 10:00" in table.stdout and "2026-01-01" not in table.stdout


def test_serving_since_is_the_newest_success_that_put_the_sha_in_place() -> None:
    text = "\n".join(
        [
            record(id="1", to_sha="c" * 40, time="2026-01-01T00:00:00Z"),
            record(id="2", to_sha="c" * 40, time="2026-01-05T00:00:00Z", outcome="failed"),
            record(id="3", to_sha="c" * 40, time="2026-01-03T00:00:00Z"),
        ]
    )
    records, bad = parse_history(text, "web1")
    assert bad == 0
    since = serving_since(records, "c" * 40)
    assert since is not None and since.id == "3"
    assert serving_since(records, "d" * 40) is None
    assert merge_key(records[0]) == ("1", "web1", "2026-01-01T00:00:00Z")


def test_clean_line_drops_terminal_escapes() -> None:
    assert clean_line("\x1b]0;title\x07ok\x1b[2J\x08!") == "ok!"
    assert parse_logs("[TAILING] x\n\n  \nkept\n") == ["kept"]


def test_status_shows_a_saved_list_that_would_bring_back_another_release(
    runner: CliRunner, ops: Path, hosts: dict[str, str | None]
) -> None:
    old, new = (f"/srv/api/releases/2026010{i}000000-{c * 10}" for i, c in ((1, "a"), (2, "b")))

    def host(saved_cwd: str) -> str:
        return sections(
            sha=("0" * 40, 0),
            pm2=(pm2_fakes.jlist(cwd=new), 0),
            health=('{"status":200,"ms":3,"body":"{}"}', 0),
            **{"pm2-saved": (pm2_fakes.saved(cwd=saved_cwd), 0)},
        )

    hosts.update(web1=host(old), web2=host(new))
    result = runner.invoke(app, ["--config", str(ops), "status", "production", "--json"])
    assert result.exit_code == 0, result.stderr  # a warning: what runs now is fine
    doc = json.loads(result.stdout)
    saved = {h["name"]: h["saved"] for h in doc["hosts"]}
    assert saved["web2"]["matches"] is True and saved["web2"]["workers"] == 2
    assert saved["web1"]["matches"] is False
    assert saved["web1"]["detail"] == (
        "a reboot (`pm2 resurrect`) would bring back the code "
        "in 20260101000000-aaaaaaaaaa (runs "
        "20260102000000-bbbbbbbbbb)"
    )
    checks = {(c.get("host"), c["name"]): c["status"] for c in doc["checks"]}
    assert checks[("web1", "saved-list")] == "warn" and checks[("web2", "saved-list")] == "pass"
    human = runner.invoke(app, ["--config", str(ops), "status", "production"])
    assert human.exit_code == 0
    assert (
        "web1: saved-list: a reboot (`pm2 resurrect`) would bring back the code in "
        "20260101000000-aaaaaaaaaa" in " ".join(human.stdout.split())
    )
