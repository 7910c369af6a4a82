"""The host probe (toolchain and place) and the layouts, without a host: the probe script runs
here under sh against temporary git checkouts; the toolchain choice is pure."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from cookcam_ops.config import Strategy
from cookcam_ops.deploy.plan import PlanInput, plan_host
from cookcam_ops.layout import InPlace, Place, Releases, layout_for
from cookcam_ops.remote.probe import (
    Candidate,
    HostProbe,
    Toolchain,
    choose_toolchain,
    parse_probe,
    probe_script,
)
from cookcam_ops.remote.protocol import with_path
from tests.unit.deploy_fakes import DEPLOY, FakeTransport, make_target
from tests.unit.deploy_fakes import facts as host_facts

NVM = "/home/deploy/.nvm/versions/node"
ALL = frozenset({"node", "npm", "pm2"})


def probe(
    *cands: Candidate,
    on_path: dict[str, str] | None = None,
    nvmrc: str | None = None,
    engines: str | None = None,
) -> HostProbe:
    return HostProbe(
        answered=True,
        session_path="/usr/bin:/bin",
        on_path=on_path or {},
        candidates=cands,
        nvmrc=nvmrc,
        engines_node=engines,
    )


def nvm(version: str) -> Candidate:
    return Candidate("nvm", f"{NVM}/v{version}/bin", ALL)


def test_all_three_on_the_ssh_path_need_nothing_prepended() -> None:
    found = choose_toolchain(probe(on_path={t: f"/usr/bin/{t}" for t in ALL}), ())
    assert found.ok and found.dirs == () and found.where.startswith("on the SSH PATH")


def test_the_pm2_daemons_node_comes_first_then_nvm() -> None:
    daemon = Candidate("pm2-daemon:812", f"{NVM}/v18.19.0/bin", ALL)
    found = choose_toolchain(probe(nvm("20.11.1"), daemon, on_path={"node": "/usr/bin/node"}), ())
    assert found.ok and found.dirs == (daemon.dir,)
    assert "PM2 daemon's node, pid 812" in found.where


@pytest.mark.parametrize(
    ("nvmrc", "engines", "picked"),
    [
        ("18", None, "18.19.0"),
        ("v20.11.1", None, "20.11.1"),
        (None, ">=20 <21", "20.11.1"),
        (None, None, "22.1.0"),
        ("lts/iron", None, "22.1.0"),
    ],
)
def test_nvm_prefers_the_version_nvmrc_or_engines_asks_for(
    nvmrc: str | None, engines: str | None, picked: str
) -> None:
    found = choose_toolchain(
        probe(nvm("18.19.0"), nvm("22.1.0"), nvm("20.11.1"), nvmrc=nvmrc, engines=engines), ()
    )
    assert found.dirs == (f"{NVM}/v{picked}/bin",)


def test_a_tool_missing_from_one_place_is_taken_from_the_next() -> None:
    volta = Candidate("volta", "/home/d/.volta/bin", frozenset({"node", "npm"}))
    local = Candidate("/usr/local/bin", "/usr/local/bin", frozenset({"pm2"}))
    found = choose_toolchain(probe(volta, local), ())
    assert found.ok and found.dirs == (volta.dir, local.dir)


def test_nothing_found_explains_the_path_and_the_setting() -> None:
    found = choose_toolchain(probe(on_path={"node": "/usr/bin/node"}), ())
    assert not found.ok and found.missing == ("npm", "pm2")
    text = found.explanation()
    assert text.startswith("npm and pm2 are not on the PATH of a non-interactive ssh command")
    assert "PATH=/usr/bin:/bin" in text and "nvm loads only in interactive shells" in text
    assert "`ssh.path`" in text


def test_the_setting_wins_and_is_checked() -> None:
    good = Candidate("setting", "/opt/node/bin", ALL)
    assert choose_toolchain(probe(good, nvm("20.11.1")), ("/opt/node/bin",)).dirs == (
        "/opt/node/bin",
    )
    empty = choose_toolchain(probe(nvm("20.11.1")), ("/opt/nothing",))
    assert not empty.ok and empty.missing == ("node", "npm", "pm2")


def test_an_unanswered_probe_changes_nothing() -> None:
    t = make_target("web1")
    assert parse_probe("") == HostProbe(answered=False)
    assert t.probed(parse_probe("")) == t and choose_toolchain(parse_probe(""), ()).ok


def test_every_command_gets_the_toolchain_on_path() -> None:
    sent: list[tuple[str, str]] = []
    plain = FakeTransport("web1", sent)
    assert with_path(plain, ()) is plain
    with_path(plain, ("/opt/my node/bin",)).run("pm2 jlist")
    assert sent == [("web1", "export PATH='/opt/my node/bin':\"$PATH\"; pm2 jlist")]


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def _run_probe(app: Path) -> HostProbe:
    done = subprocess.run(
        ["sh", "-c", probe_script(str(app), ())],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return parse_probe(done.stdout)


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    top = tmp_path / "www" / "cookcam"
    (top / "backend" / "api").mkdir(parents=True)
    (top / "backend" / "api" / "package.json").write_text('{"engines": {"node": ">=20"}}')
    (top / ".nvmrc").write_text("20\n")
    _git("init", "-q", cwd=top)
    _git("add", ".", cwd=top)
    _git("commit", "-qm", "one", cwd=top)
    return top


def test_the_probe_finds_the_work_tree_and_moves_state_out_of_it(monorepo: Path) -> None:
    app = monorepo / "backend" / "api"
    legacy = Path(f"{app}.ops")
    legacy.mkdir()
    (legacy / "history.jsonl").write_text("{}\n")
    found = _run_probe(app)
    assert found.place == Place(
        top=str(monorepo), subdir="backend/api", state_dir=f"{monorepo}.ops"
    )
    assert found.adopted == str(legacy) and not legacy.exists()
    assert Path(f"{monorepo}.ops/history.jsonl").read_text() == "{}\n"
    assert found.nvmrc == "20" and found.engines_node == ">=20"
    assert _run_probe(app).adopted is None  # once only


def test_a_held_legacy_lock_keeps_the_state_where_it_is(monorepo: Path) -> None:
    app = monorepo / "backend" / "api"
    Path(f"{app}.ops/lock").mkdir(parents=True)
    found = _run_probe(app)
    assert found.place.state_dir == f"{app}.ops" and found.adopted is None
    assert Path(f"{app}.ops/lock").is_dir() and not Path(f"{monorepo}.ops").exists()


def test_a_checkouts_top_and_a_path_outside_git_keep_app_ops(
    monorepo: Path, tmp_path: Path
) -> None:
    assert _run_probe(monorepo).place == Place(
        top=str(monorepo), subdir="", state_dir=f"{monorepo}.ops"
    )
    bare = tmp_path / "srv" / "api"
    bare.mkdir(parents=True)
    assert _run_probe(bare).place == Place(top=None, subdir="", state_dir=f"{bare}.ops")


def test_layouts_say_where_git_runs_and_what_a_build_is_made_of() -> None:
    place = Place(top="/var/www/cookcam", subdir="backend/api", state_dir="/var/www/cookcam.ops")
    inplace = layout_for(Strategy.IN_PLACE, "/var/www/cookcam/backend/api", place)
    assert isinstance(inplace, InPlace) and inplace.repo_path == "/var/www/cookcam"
    assert inplace.tree("abc") == "abc:backend/api"
    assert inplace.lockfile == "backend/api/package-lock.json"
    assert inplace.lock_dir == "/var/www/cookcam.ops/lock"
    assert (
        "git -C /var/www/cookcam status" in inplace.checklist_sections(make_target("w").app)[0][1]
    )
    rel = layout_for(Strategy.RELEASES, "/var/www/cookcam/backend/api", place)
    assert isinstance(rel, Releases) and rel.repo_path == "/var/www/cookcam/backend/api/repo"
    assert rel.code_path.endswith("/api/current") and rel.switched_link == rel.code_path
    flat = layout_for(Strategy.IN_PLACE, "/srv/api")
    assert flat.state_dir == "/srv/api.ops" and flat.tree("abc") == "abc"


def test_a_lockfile_only_at_the_repository_root_is_refused_before_any_change() -> None:
    t = make_target("web1")
    mono = replace(
        t,
        layout=layout_for(
            Strategy.IN_PLACE,
            t.app_path,
            Place(top="/srv", subdir="web1/api", state_dir="/srv.ops"),
        ),
    )
    p = plan_host(
        PlanInput(DEPLOY, mono.app, mono, "deploy", None, None), host_facts("web1", lockfile="root")
    )
    assert p.blocked and "npm workspaces" in p.blocked and p.steps == ()
    chain = Toolchain((), "nothing found", ("node", "npm", "pm2"), "/usr/bin")
    p = plan_host(
        PlanInput(DEPLOY, mono.app, replace(mono, toolchain=chain), "deploy", None, None),
        host_facts("web1"),
    )
    assert p.blocked == chain.explanation()


# --- the layouts' facts (hostside/facts_in_place.sh, facts_releases.sh), run here under sh ---


def _facts(command: str) -> tuple[int, dict[str, str]]:
    done = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, check=False, timeout=30
    )
    pairs = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return done.returncode, {k: v.strip() for k, v in pairs.items()}


def _git_out(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_in_place_facts_say_what_the_checkout_serves(monorepo: Path, tmp_path: Path) -> None:
    api = monorepo / "backend" / "api"
    layout = layout_for(Strategy.IN_PLACE, str(api), Place(top=str(monorepo), subdir="backend/api"))
    head = _git_out("rev-parse", "HEAD", cwd=monorepo)
    branch = _git_out("symbolic-ref", "--short", "HEAD", cwd=monorepo)
    assert _facts(layout.facts_command()) == (
        0,
        {"head": head, "branch": branch, "dirty": "0", "node_modules": "0"},
    )
    (api / "package.json").write_text("{}")  # a tracked file changed; untracked ones do not count
    (api / "node_modules").mkdir()
    _git("checkout", "-q", "--detach", cwd=monorepo)
    assert _facts(layout.facts_command()) == (
        0,
        {"head": head, "branch": "", "dirty": "1", "node_modules": "1"},
    )
    (api / "current").symlink_to(api)
    (api / "repo").mkdir()
    assert _facts(layout.facts_command()) == (4, {"layout": "releases"})
    gone = layout_for(Strategy.IN_PLACE, str(tmp_path / "nowhere"))
    assert _facts(gone.facts_command()) == (3, {})


def test_releases_facts_say_which_release_is_served(monorepo: Path, tmp_path: Path) -> None:
    root = tmp_path / "srv" / "api"
    release = root / "releases" / "20260101000000"
    release.mkdir(parents=True)
    (root / "repo").mkdir()
    (release / "REVISION").write_text("a" * 40)
    (root / "current").symlink_to("releases/20260101000000")
    code, found = _facts(layout_for(Strategy.RELEASES, str(root)).facts_command())
    stamp = found.pop("time")  # the host's clock, the next release's name
    assert code == 0 and len(stamp) == 14 and stamp.isdigit()
    assert found == {
        "layout": "releases",
        "head": "a" * 40,
        "current": "releases/20260101000000",
        "dirty": "0",
        "node_modules": "0",
    }
    (release / "node_modules").mkdir()
    assert _facts(Releases(str(root), f"{root}.ops").facts_command())[1]["node_modules"] == "1"
    checkout = layout_for(Strategy.RELEASES, str(monorepo))
    assert _facts(checkout.facts_command()) == (4, {"layout": "in-place"})
    assert _facts(layout_for(Strategy.RELEASES, str(tmp_path)).facts_command()) == (3, {})
