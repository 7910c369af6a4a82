"""The files a sandbox writes: ops.yaml (loads with load_config), the hosts' .env, smoke.env."""

from __future__ import annotations

import stat
from pathlib import Path

from cookcam_ops.config import load_config
from cookcam_ops.envfile.schema import load_schema
from cookcam_ops.envfile.validate import validate_env_file
from cookcam_ops.resources import default_playbook
from cookcam_ops.sandbox import files
from cookcam_ops.sandbox.layout import HostState, Layout, write_private


def host(root: Path, n: int) -> HostState:
    d = root / "hosts" / f"host{n}"
    return HostState(
        name=f"host{n}",
        ssh_port=2200 + n,
        app_port=3000 + n,
        app_path=str(d / "app"),
        pm2_home=str(d / "pm2"),
        sshd_config=str(d / "sshd_config"),
        sshd_pid_file=str(d / "sshd.pid"),
        sshd_log=str(d / "sshd.log"),
        setup_log=str(d / "setup.log"),
    )


def write_ops_yaml(tmp_path: Path, count: int = 2) -> Path:
    layout = Layout(tmp_path)
    hosts = tuple(host(tmp_path, n) for n in range(1, count + 1))
    doc = files.ops_yaml_doc(layout, "deploy", hosts, "4512345")
    layout.ops_yaml.write_text(files.ops_yaml_text(doc))
    return layout.ops_yaml


def test_ops_yaml_loads_with_every_host_as_a_mapping(tmp_path: Path) -> None:
    loaded = load_config(write_ops_yaml(tmp_path, 3))
    env = loaded.environment("sandbox")
    assert [(h.name, h.user, h.hostname, h.ssh_port, h.port) for h in env.hosts] == [
        (f"host{n}", "deploy", "127.0.0.1", 2200 + n, 3000 + n) for n in (1, 2, 3)
    ]
    assert env.hosts[0].base_url == "http://127.0.0.1:3001"
    assert env.hosts[1].app_path == str(tmp_path / "hosts/host2/app")
    assert env.ssh.identity_file == str(tmp_path / "keys/id_ed25519")
    assert env.ssh.known_hosts == str(tmp_path / "keys/known_hosts")
    assert env.sentry_project_id == "4512345" and env.batch_size == 1
    app = loaded.config.app
    assert (
        app.name,
        app.path,
        app.remote,
        app.branch,
        app.env_file,
        app.health_path,
        app.port,
    ) == (
        "cookcam-api",
        str(tmp_path / "hosts/host1/app"),
        "origin",
        "main",
        ".env",
        "/health",
        3001,
    )
    smoke = loaded.config.smoke
    assert loaded.resolve(smoke.env_file or "") == tmp_path / "smoke.env"
    assert smoke.duplicate_probe is not None
    assert smoke.duplicate_probe.method == "POST"
    assert smoke.duplicate_probe.path == "/api/v1/recipes"
    assert smoke.duplicate_probe.json_body == {"title": "cookcam-ops smoke"}


def test_generated_env_is_valid_for_production(tmp_path: Path) -> None:
    values = files.app_env(3001, "http://127.0.0.1:4000", "anon", "4512345")
    path = tmp_path / ".env"
    path.write_text(files.env_text(values))
    report = validate_env_file(path, load_schema(default_playbook("env.schema.yaml")), None)
    assert report.ok, [(c.name, c.detail) for c in report.checks if c.status.value == "fail"]
    assert values["SENTRY_DSN"].endswith("@sentry.invalid/4512345")
    assert values["STRIPE_SECRET_KEY"].startswith("sk_test_")
    assert values["PORT"] == "3001" and values["NODE_ENV"] == "production"


def test_secrets_are_random_and_never_in_ops_yaml(tmp_path: Path) -> None:
    a, b = files.new_secrets(), files.new_secrets()
    assert a.smoke_password != b.smoke_password and a.anon_key != b.anon_key
    assert a.smoke_password not in repr(a)
    env = files.app_env(3001, "http://127.0.0.1:4000", a.anon_key, "1")
    text = write_ops_yaml(tmp_path).read_text()
    for value in [*env.values(), a.smoke_password, a.stub_jwt_secret]:
        if len(value) > 8:
            assert value not in text


def test_smoke_env_and_stub_config_agree() -> None:
    sec = files.new_secrets()
    smoke = files.smoke_env("http://127.0.0.1:4000", sec)
    stub = files.stub_config(sec)
    assert smoke["COOKCAM_SMOKE_EMAIL"] == stub["email"]
    assert smoke["COOKCAM_SMOKE_PASSWORD"] == stub["password"]
    assert smoke["SUPABASE_ANON_KEY"] == stub["anon_key"]
    assert set(stub) == {"anon_key", "jwt_secret", "email", "password", "user_id", "delay_ms"}


def test_write_private_is_mode_600_even_over_a_wider_file(tmp_path: Path) -> None:
    path = tmp_path / "smoke.env"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "A=1\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "A=1\n"
