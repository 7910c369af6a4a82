"""Just enough of npm's semver ranges to judge `package.json` engines against node and npm.

Supports `||`, space-joined comparators (`>=18 <21`), `^`, `~`, x-ranges (`20.x`, `20`, `*`)
and hyphen ranges (`18 - 20`). Prerelease tags are ignored. An unparseable range gives None.
"""

from __future__ import annotations

import re

Version = tuple[int, int, int]
_VERSION_RE = re.compile(r"^\s*v?(\d+)\.(\d+)\.(\d+)")
_PART_RE = re.compile(
    r"^(?P<op>\^|~>?|>=|<=|>|<|=)?\s*v?(?P<maj>\d+|[xX*])"
    r"(?:\.(?P<min>\d+|[xX*]))?(?:\.(?P<pat>\d+|[xX*]))?(?:[-+][0-9A-Za-z.-]*)?$"
)
_BIG = 10**9


def parse_version(text: str) -> Version | None:
    """`v20.11.1` -> (20, 11, 1)."""
    m = _VERSION_RE.match(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _num(part: str | None) -> int | None:
    return None if part is None or part in "xX*" else int(part)


def _bounds(comparator: str) -> list[tuple[str, Version]] | None:
    """One comparator as (op, version) constraints."""
    if comparator in ("", "*", "x", "X"):
        return []
    m = _PART_RE.match(comparator)
    if not m:
        return None
    op = m.group("op") or "="
    maj, mi, pa = _num(m.group("maj")), _num(m.group("min")), _num(m.group("pat"))
    if maj is None:
        return []
    low: Version = (maj, mi or 0, pa or 0)
    if op in (">", ">=", "<", "<="):
        if op == ">" and (mi is None or pa is None):  # >1.2 means >=1.3.0
            return [(">=", (maj + 1, 0, 0) if mi is None else (maj, mi + 1, 0))]
        if op == "<=" and (mi is None or pa is None):
            return [("<", (maj + 1, 0, 0) if mi is None else (maj, mi + 1, 0))]
        return [(op, low)]
    if op == "^":
        upper = (
            (maj + 1, 0, 0)
            if maj > 0 or mi is None
            else (0, mi + 1, 0)
            if mi > 0 or pa is None
            else (0, 0, pa + 1)
        )
    elif op.startswith("~"):
        upper = (maj + 1, 0, 0) if mi is None else (maj, mi + 1, 0)
    elif mi is None:
        upper = (maj + 1, 0, 0)
    elif pa is None:
        upper = (maj, mi + 1, 0)
    else:
        return [("=", low)]
    return [(">=", low), ("<", upper)]


def _holds(version: Version, op: str, bound: Version) -> bool:
    return {
        ">=": version >= bound,
        ">": version > bound,
        "<": version < bound,
        "<=": version <= bound,
        "=": version == bound,
    }[op]


def _alternative(version: Version, text: str) -> bool | None:
    text = re.sub(r"(\^|~>?|>=|<=|>|<|=)\s+", r"\1", text.strip())
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    parts = [f">={hyphen.group(1)}", f"<={hyphen.group(2)}"] if hyphen else text.split()
    for part in parts or [""]:
        bounds = _bounds(part)
        if bounds is None:
            return None
        if not all(_holds(version, op, b) for op, b in bounds):
            return False
    return True


def satisfies(version_text: str, range_text: str) -> bool | None:
    """Whether a version satisfies an npm range; None when either cannot be read."""
    version = parse_version(version_text)
    if version is None:
        return None
    results = [_alternative(version, alt) for alt in range_text.split("||")]
    if any(r is True for r in results):
        return True
    return None if any(r is None for r in results) else False
