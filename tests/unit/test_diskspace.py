"""Full disks in steps: the free-space check before a step, ENOSPC in its output after."""

from __future__ import annotations

import threading
from dataclasses import replace

from cookcam_ops.deploy import diskspace
from cookcam_ops.deploy.observer import NullObserver
from cookcam_ops.deploy.result import StepStatus
from cookcam_ops.deploy.session import HostSession
from cookcam_ops.deploy.steps import RunContext, run_step
from cookcam_ops.remote.protocol import RunResult
from tests.unit.deploy_fakes import APP, ROLLBACK, plan
from tests.unit.local_host import LocalHost

NPM_HIDING_ENOSPC = (
    "npm WARN tar TAR_ENTRY_ERROR ENOSPC: no space left on device, write\n"
    "added 312 packages in 9s\n"
)


class Host(LocalHost):
    """Answers step commands from a script; df for the disk report."""

    def __init__(self, answer: RunResult) -> None:
        super().__init__("web1")
        self.answer = answer

    def run(
        self, command: str, *, timeout: float | None = None, on_line: object = None
    ) -> RunResult:
        self.log.append((self.label, command))
        if command.startswith("set -- $(df -Pk"):
            return RunResult(command, 0, "812 /srv\n", "", 0.0)
        return self.answer


def run_npm_ci(answer: RunResult, min_free_mb: int | None = None) -> tuple[str, str, Host]:
    hp = plan("web1", lockfile_differs=True)
    ps = next(s for s in hp.steps if s.name == "npm-ci")
    ps = replace(ps, min_free_mb=min_free_mb)
    host = Host(answer)
    session = HostSession(hp.target, lambda h: host)
    session.connect()
    ctx = RunContext(
        run_id="r",
        action="deploy",
        user="u",
        ref=None,
        app=APP,
        observer=NullObserver(),
        rollback_playbook=ROLLBACK,
        cancel=threading.Event(),
    )
    res = run_step(session, hp, ps, ctx, 0.0)
    return res.status, res.detail, host


def test_npm_ci_exiting_0_after_enospc_fails_and_says_the_disk_is_full() -> None:
    status, detail, _ = run_npm_ci(RunResult("npm ci", 0, "", NPM_HIDING_ENOSPC, 9.0))
    assert status == StepStatus.FAILED
    assert detail.startswith(
        "no space left on the disk holding /srv/web1/api and "
        "/srv/web1/api.ops (0.8 MB free on the disk mounted at /srv)"
    )
    assert "ENOSPC" in detail


def test_a_step_without_enospc_passes() -> None:
    status, _, _ = run_npm_ci(RunResult("npm ci", 0, "added 312 packages\n", "", 9.0))
    assert status == StepStatus.OK


def test_min_free_mb_is_checked_on_the_host_before_the_step() -> None:
    out = LocalHost().run(diskspace.precheck(("/", "/tmp"), 10**9) + "; echo ran")
    assert out.exit_code == diskspace.NOSPACE_EXIT and "ran" not in out.stdout
    status, detail, host = run_npm_ci(out, min_free_mb=10**9)
    assert status == StepStatus.FAILED
    assert detail.startswith("not enough disk space to start: ")
    assert "min_free_mb: 1000000000" in detail
    assert any("df -Pk /srv/web1/api /srv/web1/api.ops" in cmd for _, cmd in host.log)
    roomy = LocalHost().run(diskspace.precheck(("/",), 1) + "; echo ran")
    assert roomy.ok and "ran" in roomy.stdout
