"""Where a host keeps the app and how it is served: one interface, an implementation per strategy.

`InPlace`: app.path is a directory of a git checkout — its top, or a directory inside it (a
monorepo: the seed's API is `backend/api` of the checkout at /var/www/cookcam). Git runs at the
top of the work tree; install, build, test and reload run in the app directory.

`Releases`: app.path is the root of APP/{repo,releases,shared,current}; each release holds the
app's directory of a commit (`git archive SHA:SUBDIR`), `current` names the one served.

Either way the tool's own state (lock, audit log, kept builds) never lives inside a git work
tree: it is `<top>.ops` beside the work tree when app.path is inside one, else `<app_path>.ops`.
Where the app is on a host is learnt by the host probe (`cookcam_ops.remote.probe`); before it
answers, a layout assumes the flat shape its configuration names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from cookcam_ops.config import Strategy
from cookcam_ops.remote.protocol import q, sh_program

if TYPE_CHECKING:
    from cookcam_ops.config import AppConfig
    from cookcam_ops.remote.composite import Section
    from cookcam_ops.report import Check

LOCKFILE = "package-lock.json"


def judge_git(
    dirty: list[str], branch: str | None, contained: bool | None, expected: str, host: str
) -> list[Check]:
    """A clean working tree on the expected branch (or a detached commit contained in it): the
    in-place layout's checklist items."""
    from cookcam_ops.report import Check, Status

    if dirty:
        shown = ", ".join(line[3:] if len(line) > 3 else line for line in dirty[:5])
        more = f" and {len(dirty) - 5} more" if len(dirty) > 5 else ""
        clean = Check(
            "git-clean",
            Status.FAIL,
            f"{len(dirty)} changed or untracked path(s): {shown}{more}",
            host,
        )
    else:
        clean = Check("git-clean", Status.PASS, "working tree clean", host)
    if branch == expected:
        on = Check("git-branch", Status.PASS, f"on {expected}", host)
    elif branch is None:
        on = (
            Check(
                "git-branch",
                Status.PASS,
                f"detached HEAD (a deployed commit) contained in {expected}",
                host,
            )
            if contained
            else Check(
                "git-branch",
                Status.WARN,
                f"detached HEAD not known to be in {expected} (fetch to update)",
                host,
            )
        )
    else:
        on = Check("git-branch", Status.FAIL, f"on branch {branch}, expected {expected}", host)
    return [clean, on]


@dataclass(frozen=True)
class Place:
    """Where app.path sits, as the host probe found it."""

    top: str | None = None  # the top of the git work tree app.path is in, if any
    subdir: str = ""  # the app's directory inside the repository ('' at its top)
    state_dir: str | None = None  # where the tool keeps its state (the probe decides: adoption)


@dataclass(frozen=True)
class Layout(ABC):
    """The paths and host-side commands one strategy needs; services never test a strategy."""

    app_path: str
    state_dir: str
    subdir: str = ""

    strategy: ClassVar[Strategy]

    @property
    def lock_dir(self) -> str:
        """The lock is this directory (renamed into place whole); info.json inside names who."""
        return f"{self.state_dir}/lock"

    @property
    def history_file(self) -> str:
        return f"{self.state_dir}/history.jsonl"

    @property
    def lockfile(self) -> str:
        """The app's package-lock.json, relative to the repository's top."""
        return f"{self.subdir}/{LOCKFILE}" if self.subdir else LOCKFILE

    def tree(self, sha: str) -> str:
        """The app's tree in a commit: what a build or a release is made of."""
        return f"{sha}:{self.subdir}" if self.subdir else sha

    def env_path(self, env_file: str) -> str:
        """The .env a deploy installs (releases: shared/.env)."""
        return env_file if env_file.startswith("/") else f"{self.env_dir}/{env_file}"

    def served_env_path(self, env_file: str) -> str:
        """The .env the served code runs with (releases: the current release's copy)."""
        return env_file if env_file.startswith("/") else f"{self.code_path}/{env_file}"

    @property
    def switched_link(self) -> str | None:
        """The link a switch renames; after a reload every worker must run inside its target."""
        return None

    @property
    @abstractmethod
    def code_path(self) -> str:
        """The directory the served app runs from (ecosystem file, package.json, dist)."""

    @property
    @abstractmethod
    def repo_path(self) -> str:
        """Where git runs: the work tree's top, or the bare repository."""

    @property
    @abstractmethod
    def env_dir(self) -> str:
        """Where app.env_file is resolved (relative names)."""

    @abstractmethod
    def head_command(self) -> str:
        """Print the commit served (nothing when it cannot be told)."""

    @abstractmethod
    def facts_command(self) -> str:
        """The deploy facts' `git` section: key=value lines about what is served (read only;
        hostside/facts_in_place.sh, facts_releases.sh)."""

    @abstractmethod
    def checklist_sections(self, app: AppConfig) -> list[tuple[str, str]]:
        """The checklist's layout sections (read only)."""

    @abstractmethod
    def judge_checklist(
        self, sections: dict[str, Section], app: AppConfig, host: str
    ) -> list[Check]:
        """The checklist's layout items from those sections (pure)."""

    @abstractmethod
    def status_sections(self) -> list[tuple[str, str]]:
        """`status`: the `sha` section, and what else the strategy shows."""

    @abstractmethod
    def kept_section(self, env_file: str) -> tuple[str, str]:
        """The deploy facts' section about what a rollback can switch to without a build."""

    def placeholders(self) -> dict[str, str]:
        """The playbook placeholders that name places."""
        return {
            "app_path": self.app_path,
            "ops_path": self.state_dir,
            "repo_path": self.repo_path,
            "current_path": self.code_path,
            "shared_path": "",
            "releases_path": "",
            "app_subdir": self.subdir,
        }


@dataclass(frozen=True)
class InPlace(Layout):
    """app.path is a checkout's top or a directory in it; served as it is checked out."""

    top: str = ""

    strategy: ClassVar[Strategy] = Strategy.IN_PLACE

    @property
    def code_path(self) -> str:
        return self.app_path

    @property
    def repo_path(self) -> str:
        return self.top or self.app_path

    @property
    def env_dir(self) -> str:
        return self.app_path

    def head_command(self) -> str:
        return f"git -C {q(self.app_path)} rev-parse --verify -q 'HEAD^{{commit}}'"

    def facts_command(self) -> str:
        return f"{sh_program('facts_in_place.sh')} {q(self.app_path, self.repo_path)}"

    def checklist_sections(self, app: AppConfig) -> list[tuple[str, str]]:
        top = q(self.repo_path)
        upstream = q(f"{app.remote}/{app.branch}")
        return [
            (
                "git-dirty",
                f"git -C {top} rev-parse --git-dir >/dev/null && "
                f"git -C {top} status --porcelain | head -n 50",
            ),
            ("git-branch", f"git -C {top} symbolic-ref --short -q HEAD"),
            ("git-contained", f"git -C {top} merge-base --is-ancestor HEAD {upstream}"),
        ]

    def judge_checklist(
        self, sections: dict[str, Section], app: AppConfig, host: str
    ) -> list[Check]:
        from cookcam_ops.report import Check, Status

        dirty = sections.get("git-dirty")
        if dirty is None or not dirty.ok:
            return [Check("git-clean", Status.FAIL, "not a git checkout (git status failed)", host)]
        branch = sections.get("git-branch")
        contained = sections.get("git-contained")
        return judge_git(
            [ln for ln in dirty.text.splitlines() if ln.strip()],
            branch.text.strip() or None if branch and branch.ok else None,
            contained.ok if contained else None,
            app.branch,
            host,
        )

    def status_sections(self) -> list[tuple[str, str]]:
        return [("sha", self.head_command())]

    def kept_section(self, env_file: str) -> tuple[str, str]:
        prev = f"{self.state_dir}/prev"
        return ("prev", f"if [ -d {q(prev + '/dist')} ]; then cat {q(prev + '/SHA')}; fi")


@dataclass(frozen=True)
class Releases(Layout):
    """app.path is the root of the releases layout; PM2 runs the app from APP/current."""

    strategy: ClassVar[Strategy] = Strategy.RELEASES

    @property
    def root(self) -> str:
        return self.app_path.rstrip("/")

    @property
    def current_path(self) -> str:
        return f"{self.root}/current"

    @property
    def releases_path(self) -> str:
        return f"{self.root}/releases"

    @property
    def shared_path(self) -> str:
        """The .env deploys copy, and what every release links to."""
        return f"{self.root}/shared"

    @property
    def code_path(self) -> str:
        return self.current_path

    @property
    def switched_link(self) -> str | None:
        return self.current_path

    @property
    def repo_path(self) -> str:
        return f"{self.root}/repo"

    @property
    def env_dir(self) -> str:
        return self.shared_path

    def release_path(self, name: str) -> str:
        return f"{self.releases_path}/{name}"

    def head_command(self) -> str:
        return f"head -c 40 {q(self.current_path + '/REVISION')}"

    def facts_command(self) -> str:
        return f"{sh_program('facts_releases.sh')} {q(self.app_path)}"

    def checklist_sections(self, app: AppConfig) -> list[tuple[str, str]]:
        from cookcam_ops.layout.releases import listing_command

        return [
            ("current", f"readlink {q(self.current_path)}"),
            ("releases", listing_command(self.releases_path, app.env_file)),
        ]

    def judge_checklist(
        self, sections: dict[str, Section], app: AppConfig, host: str
    ) -> list[Check]:
        from cookcam_ops.layout.releases import judge_rollback_target, parse_listing

        cur = sections.get("current")
        entries = parse_listing(sections["releases"].text if "releases" in sections else "")
        return [
            judge_rollback_target(
                cur.text.strip() if cur is not None and cur.ok else None,
                entries,
                self.current_path,
                app.env_file,
                host,
            )
        ]

    def status_sections(self) -> list[tuple[str, str]]:
        return [("sha", self.head_command()), ("current", f"readlink -f {q(self.current_path)}")]

    def kept_section(self, env_file: str) -> tuple[str, str]:
        from cookcam_ops.layout.releases import listing_command

        return ("releases", listing_command(self.releases_path, env_file))

    def placeholders(self) -> dict[str, str]:
        return {
            **super().placeholders(),
            "shared_path": self.shared_path,
            "releases_path": self.releases_path,
        }


def default_state_dir(app_path: str) -> str:
    """`<app_path>.ops`: where state lives when app.path is not inside a work tree."""
    return app_path.rstrip("/") + ".ops"


def layout_for(strategy: Strategy, app_path: str, place: Place | None = None) -> Layout:
    """The layout of a host: from its configuration, refined by what the probe found."""
    place = place or Place()
    state = place.state_dir or default_state_dir(app_path)
    match strategy:
        case Strategy.IN_PLACE:
            return InPlace(
                app_path=app_path, state_dir=state, subdir=place.subdir, top=place.top or app_path
            )
        case Strategy.RELEASES:
            return Releases(app_path=app_path, state_dir=state, subdir=place.subdir)
