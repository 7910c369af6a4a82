"""A sandbox host shaped like the seed's server: node from nvm, not on a non-interactive PATH.

What `ssh host cmd` gets there, as on a droplet where node was installed with nvm:
- HOME is the host's own directory, with a stock Debian `~/.bashrc` that returns early for
  non-interactive shells and nvm's lines at its end (so they never run for `ssh host cmd`),
  `~/.nvm/nvm.sh` and `~/.nvm/versions/node/vX.Y.Z/bin/{node,npm,npx,pm2}` laid out as nvm
  lays them out (node hard-linked to this machine's node, npm and pm2 as packages under
  lib/node_modules with bin links), and this machine's npm settings (its user `.npmrc`, with
  its cache, and its global npmrc as nvm's etc/npmrc) so npm reaches the registry as here;
- PATH is a directory of links to the system's programs without node, npm, npx, corepack and
  pm2 (this machine's node is in /usr/bin, which a stock PATH would otherwise find).
sshd's `SetEnv` gives every session that HOME and PATH. A human on such a host runs
`. ~/.nvm/nvm.sh` first (`NVM_SOURCE`), and so does the sandbox's own setup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from cookcam_ops.errors import SandboxError

SYSTEM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
HIDDEN = frozenset(
    {"node", "nodejs", "npm", "npx", "corepack", "pm2", "pm2-dev", "pm2-docker", "pm2-runtime"}
)
NVM_SOURCE = '. "$HOME/.nvm/nvm.sh" && '

# Debian's /etc/skel/.bashrc starts so; nvm's installer appends its lines at the end.
BASHRC = """\
# ~/.bashrc: executed by bash(1) for non-login shells.
# see /usr/share/doc/bash/examples/startup-files (in the package bash-doc)
# for examples

# If not running interactively, don't do anything
case $- in
    *i*) ;;
      *) return;;
esac

# don't put duplicate lines or lines starting with space in the history.
HISTCONTROL=ignoreboth
shopt -s histappend
HISTSIZE=1000
HISTFILESIZE=2000

export NVM_DIR="$HOME/.nvm"
[ -s "$NVM_DIR/nvm.sh" ] && \\. "$NVM_DIR/nvm.sh"  # This loads nvm
[ -s "$NVM_DIR/bash_completion" ] && \\. "$NVM_DIR/bash_completion"
"""

# What sourcing nvm.sh leaves behind once `nvm use default` ran: the version's bin on PATH.
NVM_SH = """\
# nvm (the sandbox's stand-in): puts the default node version's bin directory on PATH.
export NVM_DIR="${{NVM_DIR:-$HOME/.nvm}}"
NVM_BIN="$NVM_DIR/versions/node/{version}/bin"
case ":$PATH:" in *":$NVM_BIN:"*) ;; *) PATH="$NVM_BIN:$PATH" ;; esac
export NVM_BIN PATH
"""


def node_version(node: Path) -> str:
    """`node --version` (v20.11.1)."""
    done = subprocess.run(
        [str(node), "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    version = done.stdout.strip()
    if done.returncode != 0 or not version.startswith("v"):
        raise SandboxError(f"{node} --version failed: {done.stderr.strip()[:200]}")
    return version


def link_system_bin(dest: Path) -> None:
    """dest/: a link to every program in the system's bin directories but node and its kin."""
    dest.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    for d in SYSTEM_DIRS:
        directory = Path(d)
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if entry.name in seen or entry.name in HIDDEN or not os.access(entry, os.X_OK):
                continue
            seen.add(entry.name)
            (dest / entry.name).symlink_to(entry)


def _hard_link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def make_nvm(home: Path, node: Path, npm_package: Path, pm2_package: Path) -> Path:
    """~/.nvm with node's version as nvm installs it; returns its bin directory."""
    version = node_version(node)
    root = home / ".nvm" / "versions" / "node" / version
    bin_dir, modules = root / "bin", root / "lib" / "node_modules"
    bin_dir.mkdir(parents=True, exist_ok=True)
    modules.mkdir(parents=True, exist_ok=True)
    _hard_link_or_copy(node.resolve(), bin_dir / "node")
    (modules / "npm").symlink_to(npm_package)
    (modules / "pm2").symlink_to(pm2_package)
    for name, target in (
        ("npm", "npm/bin/npm-cli.js"),
        ("npx", "npm/bin/npx-cli.js"),
        ("pm2", "pm2/bin/pm2"),
    ):
        (bin_dir / name).symlink_to(f"../lib/node_modules/{target}")
    (home / ".nvm" / "nvm.sh").write_text(NVM_SH.format(version=version), encoding="utf-8")
    (home / ".nvm" / "alias").mkdir(exist_ok=True)
    (home / ".nvm" / "alias" / "default").write_text(version + "\n", encoding="utf-8")
    machine = _global_npmrc()
    if machine is not None:  # this machine's npm settings (registry, CA) apply to nvm's npm too
        (root / "etc").mkdir(exist_ok=True)
        shutil.copyfile(machine, root / "etc" / "npmrc")
    return bin_dir


def _global_npmrc() -> Path | None:
    done = subprocess.run(
        ["npm", "config", "get", "globalconfig"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    path = Path(done.stdout.strip())
    return path if done.returncode == 0 and path.is_file() else None


def make_home(home: Path, node: Path, npm_package: Path, pm2_package: Path) -> Path:
    """The host's HOME: .bashrc, nvm, .npmrc (this machine's npm cache); nvm's bin dir."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".bashrc").write_text(BASHRC, encoding="utf-8")
    (home / ".profile").write_text(
        'if [ -n "$BASH_VERSION" ] && [ -f "$HOME/.bashrc" ]; then\n    . "$HOME/.bashrc"\nfi\n',
        encoding="utf-8",
    )
    own = Path(os.path.expanduser("~"))
    user_rc = own / ".npmrc"
    kept = user_rc.read_text(encoding="utf-8") if user_rc.is_file() else ""
    (home / ".npmrc").write_text(kept.rstrip("\n") + f"\ncache={own / '.npm'}\n", encoding="utf-8")
    return make_nvm(home, node, npm_package, pm2_package)


def npm_package(npm: Path) -> Path:
    """The npm package directory behind the npm command (…/node_modules/npm)."""
    real = npm.resolve()
    for parent in real.parents:
        if parent.name == "npm" and (parent / "package.json").is_file():
            return parent
    raise SandboxError(f"cannot find the npm package behind {npm} ({real})")
