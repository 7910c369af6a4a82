"""What the end-to-end tests of deploy, rollback and their reports share: the CLI run as a
subprocess (as a user or CI runs it), looks at what the sandbox's hosts serve, and steady load
on their /health while a deploy runs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from cookcam_ops.deploy.audit import rollback_target
from cookcam_ops.drain.load import LoadRun, LoadStats, load_target
from cookcam_ops.history import parse_history
from cookcam_ops.sandbox import hosts as sandbox_git
from cookcam_ops.sandbox.status import change_sandbox
from tests.documents import valid_document

if TYPE_CHECKING:
    from tests.e2e.conftest import Sandbox

ROOT = Path(__file__).resolve().parents[2]
FAST_HEALTH_PLAYBOOK_RETRIES = 3


@dataclass
class Cli:
    """A finished CLI run."""

    code: int
    stdout: str
    stderr: str

    @property
    def doc(self) -> dict[str, Any]:
        """The one JSON document on stdout, valid against its command's shipped schema."""
        return valid_document(self.stdout)


def cli_env(config: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    env.update(COOKCAM_OPS_CONFIG=str(config), NO_COLOR="1", COLUMNS="120", **(extra or {}))
    return env


def run_cli(
    config: Path, *args: str, timeout: float = 240, env: dict[str, str] | None = None
) -> Cli:
    done = subprocess.run(
        [sys.executable, "-m", "cookcam_ops", *args],
        cwd=ROOT,
        env=cli_env(config, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Cli(done.returncode, done.stdout, done.stderr)


@dataclass
class LiveCli:
    """A CLI run in the background whose stderr lines can be waited on."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, config: Path, *args: str) -> LiveCli:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cookcam_ops", *args],
            cwd=ROOT,
            env=cli_env(config),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        return cls(proc)

    def wait_line(self, prefix: str, timeout: float = 120) -> None:
        """Read stderr until a line starts with prefix (or fail at the deadline)."""
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        for line in self.proc.stderr:
            self.lines.append(line)
            if line.startswith(prefix):
                return
            assert time.monotonic() < deadline, f"no line {prefix!r} in time"
        raise AssertionError(f"exited without a line {prefix!r}:\n{''.join(self.lines[-20:])}")

    def finish(self, timeout: float = 180) -> Cli:
        """Wait for the run to end; past the timeout, kill it and fail with its last lines."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            tail = ("".join(self.lines) + err)[-3000:]
            raise AssertionError(f"still running after {timeout:.0f}s, killed:\n{tail}") from None
        return Cli(self.proc.returncode, out, "".join(self.lines) + err)


def assert_no_secrets(sb: Sandbox, *texts: str) -> None:
    """No generated secret of the sandbox (Sandbox.secret_values) appears in any of texts.

    Fails, too, when the sandbox gives no secret to look for: the check would pass vacuously.
    The failure names the text, never the value.
    """
    values = sb.secret_values()
    assert values, "the sandbox gave no secret values to look for: the check would prove nothing"
    assert texts, "no output to look in"
    leaked = [i for i, text in enumerate(texts) if any(v in text for v in values)]
    assert leaked == [], f"a sandbox secret reached output number {leaked} of {len(texts)}"


def served(sb: Sandbox) -> dict[str, str]:
    """The commit each host's API reports on /health (what it really serves)."""
    out = {}
    for h in sb.state.hosts:
        r = httpx.get(f"{h.base_url}/health", timeout=5)
        assert r.status_code == 200, f"{h.name}: /health answered {r.status_code}"
        out[h.name] = r.json()["commit"]
    return out


def history(sb: Sandbox, host: str) -> list[dict[str, Any]]:
    path = sb.ops_dir(host) / "history.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def locks(sb: Sandbox) -> list[str]:
    return [h.name for h in sb.state.hosts if (sb.ops_dir(h.name) / "lock").exists()]


def ops_copy(sb: Sandbox, tmp: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the sandbox's ops.yaml (absolute paths), edited; the shared one is untouched."""
    doc = yaml.safe_load((sb.dir / "ops.yaml").read_text())
    doc["smoke"]["env_file"] = str(sb.dir / doc["smoke"]["env_file"])
    edit(doc)
    path = tmp / "ops.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def change(sb: Sandbox, kind: str) -> str:
    sha = change_sandbox(sb.dir, kind).sha
    sb.refresh()
    return sha


def assert_fleet_on(sb: Sandbox, sha: str) -> None:
    assert set(served(sb).values()) == {sha}
    assert locks(sb) == []


def deploy(sb: Sandbox, *args: str, config: Path | None = None) -> Cli:
    return run_cli(config or sb.dir / "ops.yaml", "deploy", "sandbox", "--yes", "--json", *args)


# Preconditions. Tests in a module share its sandbox and may run in any order (`--order`, see
# tests/ordering.py): a test states the state it starts from with `ready`, which reads the hosts
# and changes them only when they are not in that state already (so in the written order it
# costs two GETs, two stats and a git log), the way a user would: by deploying a fresh release.
# Each such deploy is listed at the end of the run (conftest.py): none in the written order.
REMEDIED: list[str] = []


def note_remedy() -> None:
    """Record that the running test's precondition changed the hosts (listed at the end)."""
    REMEDIED.append(os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0])


def head(sb: Sandbox) -> str:
    """The commit the origin's branch points at (what a deploy without --ref deploys)."""
    return sandbox_git.git(["--git-dir", str(sb.layout.origin), "rev-parse", "main"])


def is_release(sb: Sandbox, sha: str | None) -> bool:
    """Whether sha is a harmless `release` change (shipped settings, nothing broken)."""
    if sha is None:
        return False
    subject = sandbox_git.git(["--git-dir", str(sb.layout.origin), "log", "-1", "--format=%s", sha])
    return subject.endswith(": version bump")


def _serving(sb: Sandbox) -> dict[str, str | None]:
    """The commit each host serves, None where /health does not answer 200."""
    out: dict[str, str | None] = {}
    for h in sb.state.hosts:
        try:
            r = httpx.get(f"{h.base_url}/health", timeout=5)
            out[h.name] = r.json()["commit"] if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError, KeyError):
            out[h.name] = None
    return out


def _back_to(sb: Sandbox) -> str | None:
    """The commit `rollback` would go back to, from the hosts' audit logs (as the tool reads
    them)."""
    records = {}
    for h in sb.state.hosts:
        path = sb.ops_dir(h.name) / "history.jsonl"
        records[h.name] = parse_history(path.read_text(), h.name)[0] if path.exists() else []
    found = rollback_target(dict(_serving(sb)), records)
    return found[0] if found else None


def _ready_on(sb: Sandbox, on_head: bool, rollback: bool) -> str | None:
    """The commit served when the fleet is in the state `ready` asks for, else None."""
    shas = set(_serving(sb).values())
    sha = shas.pop() if len(shas) == 1 else None
    if sha is None or not is_release(sb, sha) or locks(sb) or (on_head and sha != head(sb)):
        return None
    return sha if not rollback or is_release(sb, _back_to(sb)) else None


def ready(
    sb: Sandbox,
    config: Path | None = None,
    *,
    on_head: bool = False,
    rollback: bool = False,
    env: dict[str, str] | None = None,
) -> str:
    """Precondition of a test: every host healthy on one `release` change and no lock held; the
    origin's branch head too when on_head; a `release` for `rollback` to go back to when
    rollback. When the hosts are not so, a fresh release is deployed (with config: the ops.yaml
    of the module's strategy), twice when a rollback needs a healthy release behind it.
    Returns the commit served."""
    config = config or sb.dir / "ops.yaml"
    for _ in range(2):
        sha = _ready_on(sb, on_head, rollback)
        if sha is not None:
            return sha
        note_remedy()
        if locks(sb):  # only a failed test leaves one: the next ones need not fail too
            run_cli(config, "unlock", "sandbox", "--yes", env=env)
        sha = change(sb, "release")
        done = run_cli(config, "deploy", "sandbox", "--yes", "--json", env=env)
        assert done.code == 0, f"cannot put the fleet on a fresh release: {done.stderr[-2000:]}"
    sha = _ready_on(sb, on_head, rollback)
    assert sha is not None, "two fresh releases deployed, and the fleet is still not ready"
    return sha


def playbook_without(
    tmp: Path, steps: tuple[str, ...], name: str = "deploy", health_retries: int | None = None
) -> Path:
    """A copy of a default playbook without some steps (a broken release then gets past the
    switch), with fewer health retries when asked."""
    book = yaml.safe_load((ROOT / "playbooks" / f"{name}.yaml").read_text())
    book["steps"] = [s for s in book["steps"] if s["name"] not in steps]
    for s in book["steps"]:
        if s["name"] == "health" and health_retries is not None:
            s["retries"] = health_retries
    path = tmp / f"{name}-without-{'-'.join(steps) or 'nothing'}.yaml"
    path.write_text(yaml.safe_dump(book, sort_keys=False))
    return path


@dataclass
class Load:
    """Keep-alive GETs against every host's /health from a few threads until stopped."""

    urls: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def worker(self, url: str) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    r = client.get(url)
                    good, why = r.status_code == 200, f"HTTP {r.status_code}"
                except httpx.HTTPError as e:
                    good, why = False, type(e).__name__
                with self.lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failures.append(f"{url}: {why}")
                time.sleep(0.01)


@contextmanager
def steady_load(
    sb: Sandbox, concurrency: int = 4, hosts: list[str] | None = None
) -> Iterator[list[LoadStats]]:
    """Keep-alive GETs on every host's (or the named hosts') /health (cookcam_ops.drain.load)
    until the block ends: a steady few hundred requests a second per host, not a flat-out load
    that would starve the deploy it watches of this 2-core machine's CPU."""
    runs = [
        LoadRun(load_target(h.base_url, "/health"), concurrency, 10**9, pause_s=0.01)
        for h in sb.state.hosts
        if hosts is None or h.name in hosts
    ]
    loop = asyncio.new_event_loop()
    stats: list[LoadStats] = []

    async def main() -> None:
        stats.extend(await asyncio.gather(*(r.run(3600) for r in runs)))

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    time.sleep(0.5)
    try:
        yield stats
    finally:
        for r in runs:
            loop.call_soon_threadsafe(r.stop)
        thread.join(timeout=30)
        loop.close()


def no_failures(stats: list[LoadStats], hosts: int = 2) -> None:
    assert len(stats) == hosts
    for s in stats:
        assert s.ok_2xx > 100, f"too little load to judge ({s.ok_2xx} answers)"
        assert s.failed == 0, (
            f"{s.failed} failed request(s): non-2xx {s.non_2xx}, refused "
            f"{s.refused}, reset {s.reset - s.retried}, timeouts {s.timeouts}"
        )
