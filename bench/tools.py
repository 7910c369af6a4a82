"""Benchmark-only tools, installed into a cache dir outside the project (never its deps).

ansible-core goes into its own venv (pip from PyPI), autocannon into its own npm prefix.
Versions are pinned so reruns compare like with like. Cache: $COOKCAM_BENCH_CACHE, else
~/.cache/cookcam-ops-bench.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bench.proc import BenchError, run

ANSIBLE_CORE = "ansible-core==2.19.14"
AUTOCANNON = "autocannon@9.0.0"


def cache_dir() -> Path:
    """Where benchmark-only tools live between runs."""
    env = os.environ.get("COOKCAM_BENCH_CACHE")
    path = Path(env) if env else Path.home() / ".cache" / "cookcam-ops-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_ansible(log: Path) -> Path:
    """ansible-playbook from a venv in the cache (created on first use)."""
    venv = cache_dir() / "ansible-venv"
    binary = venv / "bin" / "ansible-playbook"
    stamp = venv / "installed.txt"
    if binary.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == ANSIBLE_CORE:
        return binary
    run([sys.executable, "-m", "venv", "--clear", str(venv)], log, env=dict(os.environ))
    run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            ANSIBLE_CORE,
        ],
        log,
        timeout=900,
        env=dict(os.environ),
    )
    if not binary.exists():
        raise BenchError(f"pip did not install ansible-playbook into {venv} (see {log})")
    stamp.write_text(ANSIBLE_CORE, encoding="utf-8")
    return binary


def ensure_autocannon(log: Path) -> Path:
    """autocannon from an npm prefix in the cache (installed on first use)."""
    prefix = cache_dir() / "autocannon"
    binary = prefix / "node_modules" / ".bin" / "autocannon"
    stamp = prefix / "installed.txt"
    if binary.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == AUTOCANNON:
        return binary
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "package.json").write_text(json.dumps({"private": True}) + "\n", encoding="utf-8")
    run(
        [
            "npm",
            "install",
            "--prefix",
            str(prefix),
            AUTOCANNON,
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            "--loglevel=error",
        ],
        log,
        timeout=900,
        env=dict(os.environ),
    )
    if not binary.exists():
        raise BenchError(f"npm did not install autocannon into {prefix} (see {log})")
    stamp.write_text(AUTOCANNON, encoding="utf-8")
    return binary
