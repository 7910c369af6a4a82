"""Check results and reports, and their machine formats (JSON and JUnit XML).

Reports never hold secret values: services put only names, counts and reasons in `detail`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cookcam_ops.errors import ConfigError


class Status(StrEnum):
    """The outcome of one check."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    """One named check: its status and a reason a person can read (never a secret value)."""

    name: str
    status: Status
    detail: str = ""
    host: str | None = None
    duration_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "status": self.status.value,
                               "detail": self.detail}
        if self.host is not None:
            doc["host"] = self.host
        if self.duration_s is not None:
            doc["duration_s"] = round(self.duration_s, 3)
        return doc


def checks_ok(checks: list[Check]) -> bool:
    """A list of checks is ok when none failed (warnings and skips are allowed)."""
    return all(c.status is not Status.FAIL for c in checks)


@dataclass
class Report:
    """What a report command hands to the renderer: checks plus command-specific fields."""

    title: str
    checks: list[Check] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None

    @property
    def ok(self) -> bool:
        return checks_ok(self.checks)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"ok": self.ok, "checks": [c.to_dict() for c in self.checks]}
        if self.duration_s is not None:
            doc["duration_s"] = round(self.duration_s, 3)
        doc.update(self.extra)
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


def junit_xml(report: Report, suite_name: str) -> str:
    """Render a report as JUnit XML: one testcase per check."""
    import xml.etree.ElementTree as ET  # only JUnit needs it: keep it off start-up

    failures = sum(c.status is Status.FAIL for c in report.checks)
    skipped = sum(c.status is Status.SKIP for c in report.checks)
    total_time = sum(c.duration_s or 0.0 for c in report.checks)
    suites = ET.Element("testsuites", name="cookcam-ops", tests=str(len(report.checks)),
                        failures=str(failures), errors="0", skipped=str(skipped),
                        time=f"{total_time:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=suite_name, tests=str(len(report.checks)),
                          failures=str(failures), errors="0", skipped=str(skipped),
                          time=f"{total_time:.3f}")
    for check in report.checks:
        classname = f"{suite_name}.{check.host}" if check.host else suite_name
        case = ET.SubElement(suite, "testcase", classname=classname, name=check.name,
                             time=f"{(check.duration_s or 0.0):.3f}")
        if check.status is Status.FAIL:
            failure = ET.SubElement(case, "failure", message=check.detail or "failed")
            failure.text = check.detail
        elif check.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=check.detail)
        elif check.status is Status.WARN and check.detail:
            out = ET.SubElement(case, "system-out")
            out.text = f"warning: {check.detail}"
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def write_junit(report: Report, suite_name: str, path: Path) -> None:
    """Write the JUnit file, translating I/O errors into a usage error that names the path."""
    try:
        path.write_text(junit_xml(report, suite_name), encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot write JUnit file ({e.strerror})",
                          hint="check that the directory exists and is writable") from e
