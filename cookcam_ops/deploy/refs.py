"""Git refs and SHAs from the command line, validated before any connection is opened.

The rules are `git check-ref-format --allow-onelevel`'s, plus two of ours: no leading '-' (a ref
is passed to git as an argument) and at most 255 bytes. A ref is only ever a name here: it is
resolved to a commit SHA on the host, and the SHA is what later commands use.
"""

from __future__ import annotations

import re

from cookcam_ops.errors import UsageError
from cookcam_ops.limits import clip_value

HEX_SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
FULL_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_FORBIDDEN_CHARS = set(" ~^:?*[\\")
MAX_REF_LEN = 255


def ref_problem(ref: str) -> str | None:
    """Why ref is not a valid ref name (git check-ref-format --allow-onelevel), or None."""
    if not ref:
        return "it is empty"
    if len(ref.encode("utf-8", "surrogateescape")) > MAX_REF_LEN:
        return f"it is longer than {MAX_REF_LEN} bytes"
    if ref.startswith("-"):
        return "it starts with '-'"
    if ref == "@":
        return "it is '@'"
    bad = sorted({c for c in ref if ord(c) < 0x20 or ord(c) == 0x7F or c in _FORBIDDEN_CHARS})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return f"it contains {shown} (no spaces, control characters or ~^:?*[\\ in a ref)"
    return _structure_problem(ref)


def _structure_problem(ref: str) -> str | None:
    if ".." in ref:
        return "it contains '..'"
    if "@{" in ref:
        return "it contains '@{'"
    if ref.startswith("/") or ref.endswith("/") or "//" in ref:
        return "it has an empty path component"
    if ref.endswith("."):
        return "it ends with '.'"
    for part in ref.split("/"):
        if part.startswith("."):
            return "a path component starts with '.'"
        if part.endswith(".lock"):
            return "a path component ends with '.lock'"
    return None


def validate_ref(ref: str, what: str = "--ref") -> str:
    """ref, or UsageError (exit 2) when git would not accept it as a ref name or SHA."""
    if HEX_SHA_RE.match(ref):
        return ref
    problem = ref_problem(ref)
    if problem:
        raise UsageError(
            f"{what} {clip_value(ref)} is not a valid git ref name: {problem}",
            hint="give a branch, a tag or a commit SHA",
        )
    return ref


def ref_candidates(ref: str | None, remote: str, branch: str) -> list[str]:
    """What to try, in order, to resolve ref on a host after a fetch.

    A name is looked up as the remote's branch first (the host's own branch of that name is the
    checkout being deployed, so it would resolve to what is already served), then as a tag,
    then as given. No ref means the remote's branch from ops.yaml.
    """
    if ref is None:
        return [f"refs/remotes/{remote}/{branch}"]
    if HEX_SHA_RE.match(ref):
        return [ref]
    return [f"refs/remotes/{remote}/{ref}", f"refs/tags/{ref}", ref]


def short(sha: str | None, length: int = 10) -> str:
    """The short form people read (10 characters unless said); '-' for none."""
    return sha[:length] if sha else "-"
