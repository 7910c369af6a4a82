"""The flat shape (`sandbox up --layout flat`): the API at the top of its checkout, node on the
ssh PATH, the tool's state beside the app in APP.ops — deployed and rolled back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.conftest import sandbox_of
from tests.e2e.helpers import change, history, locks, run_cli, served

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def flat() -> Iterator[Sandbox]:
    yield from sandbox_of(2, "cc-flat-", shape="flat")


def test_deploy_and_rollback_on_flat_hosts(flat: Sandbox) -> None:
    for h in flat.state.hosts:
        assert (Path(h.app_path) / ".git").is_dir() and not h.home
    (old,) = set(served(flat).values())
    sha = change(flat, "release")
    done = run_cli(flat.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json")
    assert done.code == 0, done.stderr[-3000:]
    assert set(served(flat).values()) == {sha}
    for h in flat.state.hosts:
        assert (Path(h.app_path + ".ops") / "history.jsonl").is_file()
        assert history(flat, h.name)[-1]["to_sha"] == sha
    chain = [c for c in done.doc["checks"] if c["name"] == "checklist:toolchain"]
    assert chain and all("on the SSH PATH" in c["detail"] for c in chain)
    back = run_cli(flat.dir / "ops.yaml", "rollback", "sandbox", "--yes", "--json")
    assert back.code == 0, back.stderr[-3000:]
    assert set(served(flat).values()) == {old} and locks(flat) == []
