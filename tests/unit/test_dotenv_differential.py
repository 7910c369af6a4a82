"""Our parser against the real Node dotenv package: the corpus, then a few hundred random files.

Node is run once per fixture (tests/node/parse_dotenv.js prints {path: dotenv.parse(file)}).
A missing dotenv install is installed (`npm ci --prefix tests/node`, what scripts/ensure-deps.sh
does); when that cannot be done (no npm, no registry) the tests are skipped and say why: a
missing node fails them (the project cannot work without it).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from cookcam_ops.envfile.dotenv_parser import parse_dotenv, read_dotenv_file

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
SCRIPT = NODE_DIR / "parse_dotenv.js"
CORPUS = sorted((ROOT / "tests" / "corpus" / "dotenv").glob("*.env"))
SEED = 20240611
RANDOM_FILES = 300


def ensure_dotenv() -> None:
    """Install tests/node's packages when dotenv is not there; skip when that cannot be done."""
    if (NODE_DIR / "node_modules" / "dotenv").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(
            "node's dotenv is not installed in tests/node and there is no npm to "
            "install it (run scripts/ensure-deps.sh)"
        )
    done = subprocess.run(
        [
            npm,
            "ci",
            "--prefix",
            str(NODE_DIR),
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(
            f"npm ci --prefix tests/node failed ({done.returncode}): {done.stderr.strip()[-300:]}"
        )


def node_parse(paths: list[Path]) -> dict[str, dict[str, str]]:
    """What Node's dotenv.parse returns for each file, keyed by str(path)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; install node 20+ and run `npm ci --prefix tests/node`")
    ensure_dotenv()
    proc = subprocess.run(
        [node, str(SCRIPT), *map(str, paths)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"tests/node/parse_dotenv.js exited {proc.returncode}: {proc.stderr.strip()}")
    result: dict[str, dict[str, str]] = json.loads(proc.stdout)
    return result


@pytest.fixture(scope="module")
def node_corpus() -> dict[str, dict[str, str]]:
    return node_parse(CORPUS)


def test_corpus_is_there() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_file_matches_node(path: Path, node_corpus: dict[str, dict[str, str]]) -> None:
    assert read_dotenv_file(path).values == node_corpus[str(path)]


# Fragments chosen where Node's regex is subtle: quotes that do not close, escapes, '#' with and
# without space, separators across line breaks, JavaScript-only whitespace, U+2028.
KEYS = ["A", "B_2", "a.b", "x-y", "_", "export", "K9", "__proto__", "CLÉ"]
PREFIXES = ["", "", "", "export ", "export\t", " ", "\t", "export\n", "\ufeff"]
SEPARATORS = [
    "=",
    "=",
    "=",
    " = ",
    "=  ",
    ": ",
    ":\t",
    ":",
    " =",
    "\t=\t",
    ":  ",
    "\n=",
    ":\n",
    ": \n",
]
VALUES = [
    "",
    "plain",
    "two words",
    "  padded  ",
    "a#b",
    "a #b",
    "#c",
    "'sq'",
    '"dq"',
    "`bt`",
    "'a\\'b'",
    '"a\\"b"',
    "`a\\`b`",
    '"l1\\nl2"',
    "'l1\\nl2'",
    '"multi\nline"',
    "'multi\nline'",
    "`multi\nline`",
    '"open',
    "'open",
    "`open",
    "${X}",
    "$Y",
    "'x' y'",
    '"x"#c',
    '"x" # c',
    "a\u00a0",
    "\u3000z\u2003",
    "é✓🍳",
    '"\\\\n"',
    "=",
    "a=b",
    '""',
    "''",
    "``",
    '"a\\rb"',
    "'#'",
    '"#"',
    "x\u2028y",
    "\\",
    '"\\"',
    "\x85n\x1c",
    '"q" tail',
    "'",
    '"',
    "C:\\dir\\n",
]
TRAILERS = ["", "", "", " # note", "#tight", "  ", "\t", " \t# x", "#c\u2028Z=1", "\u2028"]
OTHER_LINES = [
    "# comment",
    "",
    "   ",
    "garbage words",
    "export",
    "=novalue",
    "KEY",
    '"stray"',
    "'",
    "\ufeff",
    "  # indented",
    "x\u2029Y=1",
]
LINE_ENDS = ["\n", "\n", "\n", "\r\n", "\r"]


def random_env(rng: random.Random) -> str:
    parts = ["\ufeff"] if rng.random() < 0.1 else []
    for _ in range(rng.randint(1, 8)):
        if rng.random() < 0.75:
            parts.append(
                rng.choice(PREFIXES)
                + rng.choice(KEYS)
                + rng.choice(SEPARATORS)
                + rng.choice(VALUES)
                + rng.choice(TRAILERS)
            )
        else:
            parts.append(rng.choice(OTHER_LINES))
        parts.append(rng.choice(LINE_ENDS))
    if rng.random() < 0.2:
        parts.pop()  # no final line end
    return "".join(parts)


@pytest.fixture(scope="module")
def random_files(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, str]:
    rng = random.Random(SEED)
    folder = tmp_path_factory.mktemp("random-env")
    files = {}
    for number in range(RANDOM_FILES):
        text = random_env(rng)
        path = folder / f"{number:03d}.env"
        path.write_bytes(text.encode("utf-8"))
        files[path] = text
    return files


def test_random_files_match_node(random_files: dict[Path, str]) -> None:
    node = node_parse(list(random_files))
    mismatches = [
        (text, parse_dotenv(text).values, node[str(path)])
        for path, text in random_files.items()
        if parse_dotenv(text).values != node[str(path)]
    ]
    assert not mismatches, "\n".join(
        f"{t!r}: python {p!r} != node {n!r}" for t, p, n in mismatches[:5]
    )
