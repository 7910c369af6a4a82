"""Node off the SSH PATH, end to end on the seed-shaped sandbox (node, npm and pm2 from nvm).

Every command finds the toolchain by itself (the PM2 daemon's node, nvm), or from `ssh.path`;
where nothing can be found, checklist, deploy, status and logs all give the same explanation,
exit 1 (never 3: the host was reached) and change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.helpers import change, history, locks, ops_copy, run_cli, served

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e
EXPLANATION = "not on the PATH of a non-interactive ssh command"


def nvm_bin(sb: Sandbox, host: str) -> Path:
    (found,) = (Path(sb.host(host).home) / ".nvm" / "versions" / "node").glob("v*/bin")
    return found


def test_node_is_not_on_the_ssh_path_of_a_seed_shaped_host(sandbox: Sandbox) -> None:
    plain = sandbox.client.run(
        sandbox.host("host1").ssh_port, "command -v node npm pm2; echo rc=$?"
    )
    assert plain.stdout.strip() == "rc=1", plain.stdout


def test_checklist_names_where_the_toolchain_was_found(sandbox: Sandbox, tmp_path: Path) -> None:
    done = run_cli(sandbox.dir / "ops.yaml", "checklist", "sandbox", "--json")
    assert done.code == 0, done.stdout[-3000:]
    found = [c for c in done.doc["checks"] if c["name"] == "toolchain"]
    assert len(found) == 2 and {c["status"] for c in found} == {"pass"}
    for c in found:
        assert str(nvm_bin(sandbox, c["host"])) in c["detail"] and "PM2 daemon" in c["detail"]

    def setting(doc: dict[str, object]) -> None:
        env = doc["environments"]["sandbox"]  # type: ignore[index]
        env["ssh"]["path"] = [str(nvm_bin(sandbox, "host1"))]

    configured = run_cli(ops_copy(sandbox, tmp_path, setting), "checklist", "sandbox", "--json")
    assert configured.code == 0, configured.stdout[-3000:]
    details = [c["detail"] for c in configured.doc["checks"] if c["name"] == "toolchain"]
    assert details and all(d.startswith("ssh.path: ") for d in details)


@contextmanager
def toolchain_hidden(sb: Sandbox, host: str) -> Iterator[None]:
    """Nothing left to discover on host: nvm moved away, the PM2 daemon's pid file too (the
    daemon and the app keep running)."""
    home = Path(sb.host(host).home)
    moves = [
        (home / ".nvm", home / ".nvm-hidden"),
        (home / ".pm2" / "pm2.pid", home / ".pm2" / "pm2.pid-hidden"),
    ]
    for src, dest in moves:
        src.rename(dest)
    try:
        yield
    finally:
        for src, dest in moves:
            dest.rename(src)


def test_no_toolchain_anywhere_is_explained_and_changes_nothing(sandbox: Sandbox) -> None:
    config = sandbox.dir / "ops.yaml"
    before = served(sandbox)
    records = {h.name: len(history(sandbox, h.name)) for h in sandbox.state.hosts}
    change(sandbox, "release")
    with toolchain_hidden(sandbox, "host1"):
        checklist = run_cli(config, "checklist", "sandbox", "--json")
        deploy = run_cli(config, "deploy", "sandbox", "--yes", "--json")
        status = run_cli(config, "status", "sandbox", "--json")
        logs = run_cli(config, "logs", "sandbox", "--host", "host1")
    for done in (checklist, deploy, status, logs):
        assert done.code == 1, done.stderr[-2000:]
    assert EXPLANATION in logs.stderr and "ssh.path" in logs.stderr
    for done in (checklist, deploy, status):
        failed = [c for c in done.doc["checks"] if c["status"] == "fail"]
        assert failed and all(c["host"] == "host1" for c in failed), json.dumps(failed)
        assert any(
            EXPLANATION in c["detail"] and "nvm loads only in interactive shells" in c["detail"]
            for c in failed
        )
    health = [c for c in status.doc["checks"] if c["name"] == "health" and c["host"] == "host1"]
    assert [c["status"] for c in health] == ["skip"]  # unknown, never "unhealthy"
    assert served(sandbox) == before and locks(sandbox) == []
    assert {h.name: len(history(sandbox, h.name)) for h in sandbox.state.hosts} == records
