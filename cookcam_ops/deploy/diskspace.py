"""Full disks during a step: free space checked before it, its output read for ENOSPC after.

Some tools hide a full disk: `npm ci` can print hundreds of `ENOSPC` warnings and exit 0, leaving
a node_modules the build then trips over with a message that never says "disk". So a run step
with `min_free_mb:` refuses to start on a disk with less free space (the app's and the state
directory's filesystems, the fuller one counts), and any run step whose output mentions ENOSPC
fails, whatever its exit code, with a detail that says the disk is full and where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cookcam_ops.remote.protocol import RunResult, q

NOSPACE = "@@cookcam-ops nospace"
NOSPACE_EXIT = 75
_NOSPACE_RE = re.compile(rf"^{NOSPACE} (\d+) (\S+)$", re.M)
ENOSPC_RE = re.compile(r"ENOSPC|No space left on device|EDQUOT|Disk quota exceeded", re.I)


def _fullest(paths: tuple[str, ...]) -> str:
    """Shell: `set --` to the free KB and mount point of the fuller filesystem of paths."""
    return (
        f"set -- $(df -Pk {q(*paths)} 2>/dev/null | awk 'NR>1 {{print $4, $6}}' | "
        "sort -n | head -n 1)"
    )


def precheck(paths: tuple[str, ...], min_free_mb: int) -> str:
    """Shell that stops (exit 75, a marker on stderr) when paths' disk has too little room."""
    kb = min_free_mb * 1024
    return (
        f'{_fullest(paths)}; if [ -n "${{1:-}}" ] && [ "$1" -lt {kb} ]; then '
        f'echo "{NOSPACE} $1 $2" >&2; exit {NOSPACE_EXIT}; fi'
    )


def free_command(paths: tuple[str, ...]) -> str:
    """Shell printing the free KB and mount point of the fuller filesystem of paths."""
    return f'{_fullest(paths)}; echo "$1 $2"'


@dataclass(frozen=True)
class Free:
    """Free space on a filesystem: KB and where it is mounted."""

    kb: int
    mount: str

    def __str__(self) -> str:
        return f"{self.kb / 1024:.1f} MB free on the disk mounted at {self.mount}"


def parse_free(text: str) -> Free | None:
    """free_command's output."""
    parts = text.strip().split()
    if len(parts) == 2 and parts[0].isdigit():
        return Free(int(parts[0]), parts[1])
    return None


def refused(result: RunResult, min_free_mb: int, where: str) -> str | None:
    """The detail when precheck stopped the step, else None."""
    m = _NOSPACE_RE.search(result.stderr)
    if result.exit_code != NOSPACE_EXIT or m is None:
        return None
    free = Free(int(m.group(1)), m.group(2))
    return (
        f"not enough disk space to start: {free} (holding {where}), the step needs "
        f"min_free_mb: {min_free_mb}; free space there and rerun"
    )


def enospc_line(result: RunResult) -> str | None:
    """The first output line that reports a full disk, if any."""
    for text in (result.stderr, result.stdout):
        m = ENOSPC_RE.search(text)
        if m is not None:
            start = text.rfind("\n", 0, m.start()) + 1
            end = text.find("\n", m.end())
            return text[start : end if end >= 0 else len(text)].strip()[:160]
    return None


def full_detail(line: str, free: Free | None, where: str) -> str:
    """The detail of a step whose output reported a full disk."""
    now = str(free) if free else "free space unknown"
    return (
        f"no space left on the disk holding {where} ({now}); the step's output says: "
        f"{line}; free space there and rerun"
    )
