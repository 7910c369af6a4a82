"""app.branch and app paths validated, duplicate keys refused, one release per fleet, smoke
credentials checked before a deploy changes anything."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from cookcam_ops.common import Secret
from cookcam_ops.config import SmokeConfig, load_config
from cookcam_ops.errors import ConfigError
from cookcam_ops.report import Status
from cookcam_ops.smoke.credentials import TokenCredentials, verify_credentials
from cookcam_ops.status import HostStatus, judge_fleet

BASE = "environments:\n  production:\n    hosts: [deploy@web1.example]\n"


def load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ops.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    return str(e.value).replace(str(path), "ops.yaml")


@pytest.mark.parametrize(
    ("app", "said"),
    [
        (
            "  branch: 'a b'\n",
            "ops.yaml:2: ops.yaml: app.branch: not a valid git branch name: it contains ' '",
        ),
        ("  branch: main..x\n", "app.branch: not a valid git branch name: it contains '..'"),
        ("  branch: -x\n", "app.branch: not a valid git branch name: it starts with '-'"),
        (
            "  path: /srv/api/\n",
            "ops.yaml:2: ops.yaml: app.path: must be an absolute path of plain parts",
        ),
        ("  path: /srv/../api\n", "the part '..' is not"),
        ("  path: srv/api\n", "app.path: must be an absolute path on the host"),
        ("  path: /srv/$HOME\n", "the part '$HOME' is not"),
        ("  env_file: ../.env\n", "app.env_file: must be a file name of plain parts"),
    ],
)
def test_app_settings_are_validated(tmp_path: Path, app: str, said: str) -> None:
    assert said in load(tmp_path, "app:\n" + app + BASE)


def test_a_host_app_path_is_validated_too(tmp_path: Path) -> None:
    said = load(
        tmp_path,
        "environments:\n  production:\n    hosts:\n"
        "      - {ssh: deploy@web1.example, app_path: /srv/./api}\n",
    )
    assert "app_path: must be an absolute path of plain parts" in said


def test_duplicate_keys_are_refused_naming_both_lines(tmp_path: Path) -> None:
    said = load(tmp_path, "app:\n  name: api\n  port: 3000\n  name: other\n" + BASE)
    assert said == (
        "ops.yaml:4: ops.yaml: the key 'name' is repeated (lines 2 and 4); YAML "
        "keeps only one; remove one of them"
    )


def status(name: str, sha: str | None) -> HostStatus:
    return HostStatus(name=name, reachable=sha is not None, sha=sha)


def test_status_flags_a_fleet_serving_two_commits() -> None:
    two = judge_fleet(
        [status("web1", "a" * 40), status("web2", "b" * 40), status("web3", "a" * 40)]
    )
    assert two.status is Status.FAIL
    assert two.detail.startswith(
        "the hosts serve 2 different commits: aaaaaaaaaa on web1, web3; bbbbbbbbbb on web2"
    )
    one = judge_fleet([status("web1", "a" * 40), status("web2", None)])
    assert one.status is Status.PASS and one.detail == "1 host(s) serve aaaaaaaaaa (1 did not say)"


def jwt(exp: int) -> str:
    def part(doc: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part({'sub': 'u', 'exp': exp})}.c2ln"


def test_an_expired_smoke_token_is_refused_before_the_deploy() -> None:
    old = TokenCredentials(Secret(jwt(int(time.time()) - 5)), "COOKCAM_SMOKE_TOKEN in env")
    with pytest.raises(ConfigError, match="the token from COOKCAM_SMOKE_TOKEN in env expires"):
        verify_credentials(old, 5.0)
    fresh = TokenCredentials(Secret(jwt(int(time.time()) + 3600)), "X")
    assert "valid for 60 more minutes" in verify_credentials(fresh, 5.0)
    opaque = TokenCredentials(Secret("not-a-jwt"), "X")
    assert "not a JWT" in verify_credentials(opaque, 5.0)


def test_the_deploy_gate_fails_on_an_expired_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cookcam_ops.deploy.gates import smoke_preflight

    path = tmp_path / "ops.yaml"
    path.write_text(BASE)
    monkeypatch.setenv(SmokeConfig().token_env, jwt(int(time.time()) - 60))
    checks = smoke_preflight(load_config(path), "production", ["web1.example"])
    assert [(c.name, c.status) for c in checks] == [
        ("smoke-config", Status.PASS),
        ("smoke-credentials", Status.FAIL),
    ]
    assert "expires at" in checks[1].detail
