"""Seeded mutations of valid inputs, run against the loaders: `python tests/fuzz_loaders.py N SEED`.

Run in a process of its own (tests/unit/test_fuzz.py starts it), so its peak memory can be
measured and a runaway case cannot take the test runner with it. Prints one JSON line per
case ({kind, case, code, seconds, cpu, error}) and a last line {"maxrss_kb", "baseline_kb"}. A
case's code is what the CLI would exit with: 0 or 1 for a report, the error's code for an
OpsError; any other exception is reported with its traceback (a bug).
"""

from __future__ import annotations

import json
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cookcam_ops.config import load_config  # noqa: E402
from cookcam_ops.deploy.playbook import load_playbook  # noqa: E402
from cookcam_ops.envfile.schema import load_schema  # noqa: E402
from cookcam_ops.envfile.validate import validate_env_file  # noqa: E402
from cookcam_ops.errors import OpsError  # noqa: E402

SCHEMA = load_schema(ROOT / "playbooks" / "env.schema.yaml")
VALID_ENV = (
    "NODE_ENV=production\nPORT=3000\nSUPABASE_URL=https://abcdefgh.supabase.co\n"
    "SUPABASE_ANON_KEY=anon-key-value-0123456789\n"
    "SUPABASE_SERVICE_ROLE_KEY=service-role-value-0123456789\n"
    "OPENAI_API_KEY=sk-proj-0123456789abcdef\nJWT_SECRET=" + "j" * 40 + "\n"
    "JWT_REFRESH_SECRET=" + "r" * 40 + "\nSTRIPE_SECRET_KEY=sk_live_0123456789abcdef\n"
    "STRIPE_WEBHOOK_SECRET=whsec_0123456789abcdef\n"
    'SENTRY_DSN="https://0123456789abcdef@o123.ingest.sentry.io/4505000000000000"\n'
)
ALIAS_BOMB = "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)
)


class Runaway(Exception):
    """A case ran past the harness's own alarm."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Runaway("case still running after 10 s")


def seeds() -> dict[str, bytes]:
    return {
        "ops.yaml": (ROOT / "ops.yaml.example").read_bytes(),
        "playbook": (ROOT / "playbooks" / "deploy.yaml").read_bytes(),
        "schema": (ROOT / "playbooks" / "env.schema.yaml").read_bytes(),
        "env": VALID_ENV.encode(),
    }


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One or a few of: bytes flipped, lines duplicated or dropped, truncation, aliases, huge
    repeats, deep nesting, odd characters."""
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3))):
        out = bytearray(_one(bytes(out), rng))
    return bytes(out)


def _with(lines: list[bytes], at: int, new: list[bytes], drop: int = 1) -> bytes:
    """lines with `drop` lines at `at` replaced by new, joined again."""
    return b"\n".join([*lines[:at], *new, *lines[at + drop :]])


def _one(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    at = rng.randrange(max(1, len(lines)))
    kind = rng.randrange(12)
    if kind == 0 and data:  # flip bytes
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == 1:  # duplicate a line (duplicate keys)
        return _with(lines, at, [lines[at]] * rng.randint(2, 4))
    if kind == 2:  # drop lines
        return _with(lines, at, [], drop=rng.randint(1, 5))
    if kind == 3:  # truncate
        return data[: rng.randrange(len(data) + 1)]
    if kind == 4:  # an alias bomb appended, or a recursive alias
        return data + b"\n" + rng.choice((ALIAS_BOMB.encode(), b"r: &r [*r]\n"))
    if kind == 5:  # a huge repeated value on one line
        size = rng.choice((10_000, 300_000, 2_000_000))
        return _with(lines, at, [lines[at] + b"a" * size])
    if kind == 6:  # a line repeated a great many times
        return _with(lines, at, [lines[at]] * rng.choice((1000, 50_000)), drop=0)
    if kind == 7:  # deep nesting
        depth = rng.choice((50, 500, 5000))
        return data + b"\nn: " + b"[" * depth + b"]" * depth + b"\n"
    if kind == 8:  # odd characters
        junk = rng.choice(
            (
                b"\x00",
                b"\xff\xfe",
                "\u2028".encode(),
                b"\r",
                b"\t",
                b"'",
                b'"',
                b"{",
                b"$(",
                b"`",
                b"\\",
                b"*",
                b"&",
                b"!!python/object:os.system",
            )
        )
        return _with(lines, at, [lines[at] + junk])
    if kind == 9:  # swap two lines
        other = rng.randrange(max(1, len(lines)))
        lines[at], lines[other] = lines[other], lines[at]
        return b"\n".join(lines)
    if kind == 10:  # indentation broken
        return _with(lines, at, [b" " * rng.randint(1, 9) + lines[at]])
    return _with(lines, at, [b"x: " + b"9" * rng.choice((20, 5000))], drop=0)


def run_case(kind: str, path: Path) -> int:
    """The loader a command would call for this file, and its exit code."""
    if kind == "ops.yaml":
        load_config(path)
    elif kind == "playbook":
        load_playbook(path)
    elif kind == "schema":
        load_schema(path)
    else:
        report = validate_env_file(path, SCHEMA, "production")
        json.dumps(report.to_dict())  # what --json prints
        return 0 if report.ok else 1
    return 0


def main(count: int, seed: int) -> None:
    rng = random.Random(seed)
    signal.signal(signal.SIGALRM, _alarm)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    base = seeds()
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(count):
            kind = list(base)[case % len(base)]
            path = Path(tmp) / f"{kind}-{case}"
            path.write_bytes(mutate(base[kind], rng))
            print(json.dumps(one(kind, case, path)), flush=True)
            path.unlink()
    print(
        json.dumps(
            {
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "baseline_kb": baseline,
            }
        ),
        flush=True,
    )


def one(kind: str, case: int, path: Path) -> dict[str, object]:
    started, cpu = time.monotonic(), time.process_time()
    error = None
    signal.alarm(10)
    try:
        code = run_case(kind, path)
    except OpsError as e:
        code = int(e.exit_code)
    except Exception:  # what the fuzz test looks for
        code, error = 70, traceback.format_exc(limit=6)[-1500:]
    finally:
        signal.alarm(0)
    return {
        "kind": kind,
        "case": case,
        "code": code,
        "seconds": round(time.monotonic() - started, 4),
        "cpu": round(time.process_time() - cpu, 4),
        "error": error,
    }


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
