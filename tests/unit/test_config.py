"""ops.yaml loading: the example loads, and bad files get one line with file:line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookcam_ops.config import load_config
from cookcam_ops.configpath import config_path
from cookcam_ops.errors import ConfigError, ExitCode

ROOT = Path(__file__).resolve().parents[2]


def test_example_loads_with_every_documented_key() -> None:
    loaded = load_config(ROOT / "ops.yaml.example")
    prod = loaded.environment("production")
    assert prod.hosts[0].user == "root"
    assert prod.hosts[0].hostname == "64.23.236.43"
    assert prod.hosts[0].ssh_port == 22
    assert prod.sentry_project_id == "4505000000000000"
    assert loaded.config.smoke.duplicate_probe is not None
    assert loaded.config.smoke.duplicate_probe.json_body == {"title": "cookcam-ops smoke"}
    assert loaded.schema_path().name == "env.schema.yaml"
    assert loaded.schema_path().exists()


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ops.yaml"
    p.write_text(text)
    return p


def test_host_mapping_overrides(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
environments:
  prod:
    hosts:
      - deploy@web1.example.com:2222
      - {ssh: "deploy@10.0.0.2", name: web2, port: 3001, app_path: /srv/api}
""",
    )
    env = load_config(p).environment("prod")
    assert env.hosts[0].ssh_port == 2222
    assert env.hosts[0].label == "web1.example.com:2222"
    assert env.hosts[1].label == "web2"
    assert env.hosts[1].port == 3001


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "environments:\n  prod:\n    hosts:\n      - 'root@bad host'\n",
            ":4: ops.yaml: environments.prod.hosts[0].ssh: must be user@host or user@host:port",
        ),
        (
            "environments:\n  prod:\n    hosts: [a@b]\n    batch_size: 0\n",
            ":4: ops.yaml: environments.prod.batch_size: "
            "Input should be greater than or equal to 1",
        ),
        (
            "environments:\n  prod:\n    hosts: [a@b]\n    colour: blue\n",
            ":4: ops.yaml: environments.prod.colour: unknown key",
        ),
        (
            "app:\n  port: 99999\nenvironments:\n  prod:\n    hosts: [a@b]\n",
            ":2: ops.yaml: app.port: Input should be less than or equal to 65535",
        ),
        (
            "environments:\n  prod:\n    ssh: {}\n",
            ":2: ops.yaml: environments.prod.hosts: required key is missing",
        ),
        ("environments: [\n", "ops.yaml is not valid YAML"),
        (
            "smoke:\n  token_env: 'eyJ secret'\nenvironments:\n  p:\n    hosts: [a@b]\n",
            ":2: ops.yaml: smoke.token_env: must be an environment variable name, not a value",
        ),
    ],
)
def test_bad_config_one_line(tmp_path: Path, text: str, expected: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert info.value.exit_code == ExitCode.USAGE


def test_validation_error_does_not_echo_input(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "smoke:\n  token_env: 'ghp-SECRETVALUE x'\nenvironments:\n  p:\n    hosts: [a@b]\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert "SECRETVALUE" not in str(info.value)


def test_missing_config_says_how(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="COOKCAM_OPS_CONFIG"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_environment_lists_known() -> None:
    loaded = load_config(ROOT / "ops.yaml.example")
    with pytest.raises(ConfigError, match="known environments: production, staging"):
        loaded.environment("prod")


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOKCAM_OPS_CONFIG", "/x/from-env.yaml")
    assert config_path(Path("/y/explicit.yaml")) == Path("/y/explicit.yaml")
    assert config_path(None) == Path("/x/from-env.yaml")
    monkeypatch.delenv("COOKCAM_OPS_CONFIG")
    assert config_path(None) == Path("ops.yaml")


def test_app_repo_from_an_older_init_is_accepted_and_ignored(tmp_path: Path) -> None:
    loaded = load_config(
        write(
            tmp_path,
            "app:\n  repo: git@github.com:cookcam/cookcam.git\n  remote: upstream\n"
            "environments:\n  production:\n    hosts: [root@203.0.113.7]\n",
        )
    )
    assert loaded.config.app.remote == "upstream"
    assert "repo" not in loaded.config.app.model_dump()
