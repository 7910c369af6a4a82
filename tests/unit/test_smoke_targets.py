"""Smoke targets: which base URL each host gets, --host selection, --url parsing, plan_smoke."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cookcam_ops.config import LoadedConfig, OpsConfig
from cookcam_ops.errors import ConfigError, ExitCode, UsageError
from cookcam_ops.smoke import TokenCredentials, plan_smoke, resolve_targets, url_target

TOKEN_ENV = {"COOKCAM_SMOKE_TOKEN": "t0ken"}


def loaded(tmp_path: Path, environments: dict[str, Any], **extra: Any) -> LoadedConfig:
    config = OpsConfig.model_validate({"environments": environments, **extra})
    return LoadedConfig(config=config, path=tmp_path / "ops.yaml")


def test_base_url_precedence_with_several_hosts(tmp_path: Path) -> None:
    cfg = loaded(
        tmp_path,
        {
            "prod": {
                "base_url": "https://api.example.com",  # a load balancer: not used per host
                "hosts": [
                    {
                        "ssh": "root@web1.example.com",
                        "name": "web1",
                        "base_url": "https://web1.example.com/",
                    },
                    {"ssh": "deploy@10.0.0.12:2222", "port": 3001},
                    "root@[::1]",
                ],
            }
        },
        app={"port": 4000, "health_path": "/healthz"},
    )
    targets = resolve_targets(cfg, "prod")
    assert [(t.label, t.base_url) for t in targets] == [
        ("web1", "https://web1.example.com"),
        ("10.0.0.12:2222", "http://10.0.0.12:3001"),
        ("::1", "http://[::1]:4000"),
    ]
    assert all(t.check_host == t.label for t in targets)
    assert targets[0].health_url == "https://web1.example.com/healthz"
    assert {t.environment for t in targets} == {"prod"}


def test_single_host_uses_environment_base_url_and_no_host_column(tmp_path: Path) -> None:
    cfg = loaded(
        tmp_path, {"prod": {"base_url": "https://api.example.com/", "hosts": ["root@64.23.236.43"]}}
    )
    (target,) = resolve_targets(cfg, "prod")
    assert target.base_url == "https://api.example.com"
    assert target.check_host is None
    assert target.label == "64.23.236.43"


def test_single_host_without_base_url_is_http_host_app_port(tmp_path: Path) -> None:
    cfg = loaded(tmp_path, {"prod": {"hosts": ["root@web1.example.com"]}})
    assert resolve_targets(cfg, "prod")[0].base_url == "http://web1.example.com:3000"


def test_host_selects_one_by_label(tmp_path: Path) -> None:
    cfg = loaded(
        tmp_path,
        {"prod": {"hosts": [{"ssh": "root@a", "name": "web1"}, {"ssh": "root@b", "name": "web2"}]}},
    )
    (target,) = resolve_targets(cfg, "prod", host="web2")
    assert target.base_url == "http://b:3000"
    assert target.check_host == "web2"  # the environment has several hosts


def test_unknown_host_lists_labels(tmp_path: Path) -> None:
    cfg = loaded(
        tmp_path,
        {"prod": {"hosts": [{"ssh": "root@a", "name": "web1"}, {"ssh": "root@b", "name": "web2"}]}},
    )
    with pytest.raises(UsageError) as info:
        resolve_targets(cfg, "prod", host="web3")
    assert info.value.exit_code is ExitCode.USAGE
    assert "web3" in str(info.value) and "web1, web2" in str(info.value)


def test_unknown_environment_is_a_config_error(tmp_path: Path) -> None:
    cfg = loaded(tmp_path, {"prod": {"hosts": ["root@a"]}})
    with pytest.raises(ConfigError, match="unknown environment 'staging'"):
        resolve_targets(cfg, "staging")


@pytest.mark.parametrize(
    ("url", "label", "base"),
    [
        ("http://127.0.0.1:3000/", "127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("https://api.cookcam.ai", "api.cookcam.ai:443", "https://api.cookcam.ai"),
        ("http://localhost", "localhost:80", "http://localhost"),
        ("http://[::1]:3000", "[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_url_target_label_is_host_port(url: str, label: str, base: str) -> None:
    target = url_target(url)
    assert (target.label, target.base_url, target.check_host) == (label, base, label)
    assert target.environment is None


@pytest.mark.parametrize(
    "url", ["ftp://x", "127.0.0.1:3000", "http://", "http://h:99999", "http://h/?a=1"]
)
def test_url_target_refuses_bad_urls(url: str) -> None:
    with pytest.raises(UsageError, match="--url"):
        url_target(url)


def test_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(UsageError) as info:
        url_target("https://admin:hunter2-pw@api.example.com")
    assert "hunter2-pw" not in str(info.value)


def test_plan_needs_environment_xor_url(tmp_path: Path) -> None:
    cfg = loaded(tmp_path, {"prod": {"hosts": ["root@a"]}})
    for env, url in ((None, None), ("prod", "http://a:1")):
        with pytest.raises(UsageError, match="ENVIRONMENT or --url"):
            plan_smoke(
                cfg, env, url=url, host=None, timeout_s=None, connections=None, environ=TOKEN_ENV
            )
    with pytest.raises(UsageError, match="--host"):
        plan_smoke(
            None,
            None,
            url="http://a:1",
            host="web1",
            timeout_s=None,
            connections=None,
            environ=TOKEN_ENV,
        )
    with pytest.raises(UsageError, match=r"needs ops\.yaml"):
        plan_smoke(
            None, "prod", url=None, host=None, timeout_s=None, connections=None, environ=TOKEN_ENV
        )


def test_plan_with_url_and_no_config_uses_defaults(tmp_path: Path) -> None:
    plan = plan_smoke(
        None,
        None,
        url="http://127.0.0.1:3000",
        host=None,
        timeout_s=None,
        connections=None,
        environ=TOKEN_ENV,
    )
    assert isinstance(plan.creds, TokenCredentials)
    assert plan.options.timeout_s == 10.0 and plan.options.connections == 100
    assert plan.options.duplicate_probe is None
    assert plan.targets[0].health_url == "http://127.0.0.1:3000/health"


def test_plan_options_come_from_ops_yaml_with_overrides(tmp_path: Path) -> None:
    smoke = {
        "timeout_s": 3,
        "connections": 20,
        "duplicate_probe": {"path": "/api/v1/recipes", "json": {"title": "x"}},
    }
    cfg = loaded(tmp_path, {"prod": {"hosts": ["root@a"]}}, smoke=smoke)
    plan = plan_smoke(
        cfg, "prod", url=None, host=None, timeout_s=None, connections=None, environ=TOKEN_ENV
    )
    assert (plan.options.timeout_s, plan.options.connections) == (3, 20)
    assert plan.options.duplicate_probe is not None
    plan = plan_smoke(
        cfg, None, url="http://x:1", host=None, timeout_s=1.5, connections=7, environ=TOKEN_ENV
    )
    assert (plan.options.timeout_s, plan.options.connections) == (1.5, 7)
