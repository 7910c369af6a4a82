"""Check results and reports, and their machine formats (JSON documents and JUnit XML).

Reports never hold secret values: services put only names, counts and reasons in `detail`.
Every JSON document starts with `schema_version` (this module's SCHEMA_VERSION, raised on any
incompatible change) and `command`; its JSON Schema is `cookcam-ops schema COMMAND`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cookcam_ops.errors import ConfigError, ExitCode, Unreachable

SCHEMA_VERSION = 1
# What XML 1.0 cannot hold: control characters but tab, LF and CR; lone surrogates; U+FFFE/F.
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def document(command: str, body: dict[str, Any]) -> dict[str, Any]:
    """A JSON document: schema_version and command first, then the command's own fields."""
    return {"schema_version": SCHEMA_VERSION, "command": command, **body}


def error_body(
    exit_code: int, kind: str, message: str, hint: str | None, details: dict[str, Any]
) -> dict[str, Any]:
    """The document of a command that stopped with an error, before or instead of a report."""
    return {
        "ok": False,
        "error": {"exit_code": exit_code, "kind": kind, "message": message, "hint": hint},
        "checks": [],
        **details,
    }


def reachability(unreachable: list[Unreachable], answered: list[str]) -> dict[str, Any]:
    """The fields of every document of a command that contacts hosts."""
    return {"unreachable": [u.to_dict() for u in unreachable], "answered": answered}


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
        doc: dict[str, Any] = {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
        }
        if self.host is not None:
            doc["host"] = self.host
        if self.duration_s is not None:
            doc["duration_s"] = round(self.duration_s, 3)
        return doc


def checks_ok(checks: list[Check]) -> bool:
    """A list of checks is ok when none failed (warnings and skips are allowed)."""
    return all(c.status is not Status.FAIL for c in checks)


class HostsVerdict:
    """`ok` and `exit_code` of a report that contacted hosts (history, status): the one rule,
    from the report's `checks` and `unreachable`."""

    if TYPE_CHECKING:
        checks: list[Check]

        @property
        def unreachable(self) -> list[Unreachable]: ...

    @property
    def ok(self) -> bool:
        return checks_ok(self.checks)

    @property
    def exit_code(self) -> ExitCode:
        """3 when a host could not be reached, else 0 when no check failed, else 1."""
        if self.unreachable:
            return ExitCode.UNREACHABLE
        return ExitCode.OK if self.ok else ExitCode.CHECKS_FAILED


@dataclass
class Report:
    """What a report command hands to the renderer: checks plus command-specific fields.

    `answered` is None for commands that contact no host; otherwise the hosts that answered,
    and `unreachable` those that did not (exit 3, whatever the checks say).
    """

    title: str
    checks: list[Check] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None
    unreachable: list[Unreachable] = field(default_factory=list)
    answered: list[str] | None = None

    @property
    def ok(self) -> bool:
        return checks_ok(self.checks) and not self.unreachable

    def exit_code(self, fail_code: ExitCode = ExitCode.CHECKS_FAILED) -> ExitCode:
        """3 when a host could not be reached, else 0 when no check failed, else fail_code."""
        if self.unreachable:
            return ExitCode.UNREACHABLE
        return ExitCode.OK if self.ok else fail_code

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"ok": self.ok, "checks": [c.to_dict() for c in self.checks]}
        if self.duration_s is not None:
            doc["duration_s"] = round(self.duration_s, 3)
        doc.update(self.extra)
        if self.answered is not None:
            doc.update(reachability(self.unreachable, self.answered))
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


def xml_safe(text: str) -> str:
    """text with each character XML 1.0 cannot hold written as a visible escape (\\x1b)."""
    return _NOT_XML_RE.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def junit_xml(report: Report, suite_name: str) -> str:
    """Render a report as JUnit XML: one testcase per check (every text made XML-safe)."""
    import xml.etree.ElementTree as ET  # only JUnit needs it: keep it off start-up

    suite_name = xml_safe(suite_name)

    failures = sum(c.status is Status.FAIL for c in report.checks)
    skipped = sum(c.status is Status.SKIP for c in report.checks)
    total_time = sum(c.duration_s or 0.0 for c in report.checks)
    suites = ET.Element(
        "testsuites",
        name="cookcam-ops",
        tests=str(len(report.checks)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{total_time:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=suite_name,
        tests=str(len(report.checks)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{total_time:.3f}",
    )
    for check in report.checks:
        host, name, detail = (
            xml_safe(check.host or ""),
            xml_safe(check.name),
            xml_safe(check.detail),
        )
        classname = f"{suite_name}.{host}" if host else suite_name
        case = ET.SubElement(
            suite,
            "testcase",
            classname=classname,
            name=name,
            time=f"{(check.duration_s or 0.0):.3f}",
        )
        if check.status is Status.FAIL:
            failure = ET.SubElement(case, "failure", message=detail or "failed")
            failure.text = detail
        elif check.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=detail)
        elif check.status is Status.WARN and detail:
            out = ET.SubElement(case, "system-out")
            out.text = f"warning: {detail}"
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def write_junit(report: Report, suite_name: str, path: Path) -> None:
    """Write the JUnit file, translating I/O errors into a usage error that names the path."""
    try:
        path.write_text(junit_xml(report, suite_name), encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            f"{path}: cannot write JUnit file ({e.strerror})",
            hint="check that the directory exists and is writable",
        ) from e
