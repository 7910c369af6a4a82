"""Read .env files exactly as Node's `dotenv.parse` does, and flag what other tools read otherwise.

Written by hand because no maintained Python library reproduces Node dotenv's rules: python-dotenv
keeps a BOM in the first key, rejects `KEY: value`, keeps backticks, starts comments only after
whitespace and expands `${VAR}`, so its values are not the values the API runs with.

This is a translation of the LINE regex and `parse()` of dotenv (lib/main.js in 16.x and 17.x; the
default, non-`fast` parser in 18.x, which is the same code). JavaScript regex semantics are spelled
out for Python's `re`, which otherwise differs:
- `\\s` and `String.prototype.trim` use JavaScript's whitespace (which includes U+FEFF, so a BOM
  before the first key is skipped, and U+00A0 is trimmed from values); Python's `\\s` does not
  match U+FEFF and matches U+001C..U+001F and U+0085, which JavaScript does not.
- `\\w` is ASCII only, as in a JavaScript regex without the `u` flag.
- With the `m` flag, `^`, `$` and `.` treat U+2028 and U+2029 as line terminators too.
Both engines backtrack the same way (ordered alternation, greedy and lazy quantifiers), so the
same pattern picks the same match; the differential tests hold this against the real package.

Findings (fail = the API surely runs with something other than what was written):
- fail: unparseable (a line Node skips), split-assignment (`KEY:` or `KEY=` whose value Node takes
  from the next line, or `KEY` with `=` on the next line), unterminated-quote (Node keeps the
  quote characters in the value), dropped-key (`__proto__`, which a JS object cannot hold).
- warn: bom, crlf (CRLF or lone CR), duplicate, interpolation (`${X}`/`$X` outside single quotes),
  export (`export` alone on a line, applied to the next key), colon, inline-comment ('#' with no
  space before it), backtick, stray-quote (outer quotes removed around unescaped inner ones),
  escape (backslash escapes Node keeps but others unescape), multiline (a quoted value running
  over lines that look like assignments, likely a missing closing quote).
A plain `export KEY=value` is not reported: node, python-dotenv, compose and shells all take it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

from cookcam_ops.errors import ConfigError
from cookcam_ops.limits import ENV_CAP, ENV_LINES_CAP, read_regular

_JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_S = f"[{_JS_SPACE}]"  # JavaScript's \s
_TERMINATORS = "\n\r\u2028\u2029"
_BOL = f"(?<![^{_TERMINATORS}])"  # JavaScript's ^ under the m flag
_EOL = f"(?![^{_TERMINATORS}])"  # JavaScript's $ under the m flag
_DOT = f"[^{_TERMINATORS}]"  # JavaScript's .
_SINGLE = r"'(?:\\'|[^'])*'"
_DOUBLE = r'"(?:\\"|[^"])*"'
_BACKTICK = r"`(?:\\`|[^`])*`"

# dotenv's LINE:
# /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|
#  \s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/mg
# The extra named groups only record which part matched; they do not change what matches.
_LINE = re.compile(
    f"{_BOL}{_S}*(?P<export>export{_S}+)?(?P<key>[A-Za-z0-9_.-]+)"
    f"(?P<sep>{_S}*={_S}*?|:{_S}+?)"
    f"(?P<value>(?P<quoted>{_S}*{_SINGLE}|{_S}*{_DOUBLE}|{_S}*{_BACKTICK})|(?P<plain>[^#\r\n]+))?"
    f"{_S}*(?:#{_DOT}*)?{_EOL}"
)
# dotenv's quote removal, applied to the trimmed value: /^(['"`])([\s\S]*)\1$/mg
_UNQUOTE = re.compile(f"{_BOL}(['\"`])([\\s\\S]*)\\1{_EOL}")
_QUOTES = "'\"`"
_REFERENCE = re.compile(r"\$(?:\{|[A-Za-z_])")
_LOOKS_LIKE_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=[^=\n]")
# Keys a JavaScript object silently refuses as own properties: `obj['__proto__'] = 'x'` is a no-op.
_DROPPED_KEYS = frozenset({"__proto__"})


@dataclass(frozen=True)
class EnvEntry:
    """One assignment as Node's dotenv reads it."""

    key: str
    value: str  # the value exactly as Node's dotenv.parse gives it
    line: int  # 1-based line number where the entry starts (the key's line)
    quote: str | None  # "'", '"', '`' or None


@dataclass(frozen=True)
class Finding:
    """Something about the file worth a warning or a failure; never carries a value."""

    line: int | None  # 1-based, None for file-level
    kind: str
    severity: str  # "warn" or "fail"
    message: str  # lowercase, one line; names keys and line numbers only, never values


@dataclass(frozen=True)
class ParsedEnv:
    """A .env file as Node's dotenv reads it, with findings about it."""

    values: dict[str, str]  # what dotenv.parse returns (later duplicate wins)
    entries: tuple[EnvEntry, ...]  # every assignment in file order (duplicates included)
    findings: tuple[Finding, ...]


class _LineIndex:
    """Offsets in the normalized text to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._breaks = [i for i, char in enumerate(text) if char == "\n"]

    def of(self, offset: int) -> int:
        return bisect_left(self._breaks, offset) + 1


def shown_name(key: str, keep: int = 64) -> str:
    """A variable name for a message: whole when of a sane length, else its start."""
    return key if len(key) <= keep else f"{key[:keep]}… ({len(key)} characters)"


def _js_trim(text: str) -> str:
    return text.strip(_JS_SPACE)


def _node_value(raw: str) -> tuple[str, str | None]:
    """dotenv's value steps: trim, drop surrounding quotes, expand \\n and \\r if double-quoted."""
    trimmed = _js_trim(raw)
    first = trimmed[:1]
    quote = first if first and first in _QUOTES and _UNQUOTE.match(trimmed) else None
    value = _UNQUOTE.sub(r"\g<2>", trimmed)
    if first == '"':  # dotenv checks the first character, not whether the quotes were removed
        value = value.replace("\\n", "\n").replace("\\r", "\r")
    return value, quote


def _warn(line: int | None, kind: str, message: str) -> Finding:
    return Finding(line, kind, "warn", message)


def _fail(line: int | None, kind: str, message: str) -> Finding:
    return Finding(line, kind, "fail", message)


def _file_findings(text: str) -> list[Finding]:
    findings = []
    if text.startswith("\ufeff"):
        findings.append(
            _warn(
                None,
                "bom",
                "file starts with a UTF-8 byte-order mark; "
                "node's dotenv ignores it but other tools may not",
            )
        )
    lone_cr = "\r" in text.replace("\r\n", "")
    present = (("crlf (windows)", "\r\n" in text), ("lone cr (old mac)", lone_cr))
    ends = " and ".join(name for name, found in present if found)
    if ends:
        findings.append(
            _warn(
                None,
                "crlf",
                f"file has {ends} line ends; node's dotenv reads "
                "them, but shells and other tools may keep the '\\r' "
                "in values",
            )
        )
    return findings


def _shape_findings(match: re.Match[str], lines: _LineIndex, line: int) -> list[Finding]:
    """Findings about how the assignment is written: export, separator, line breaks, '#'."""
    key, sep = shown_name(match.group("key")), match.group("sep")
    findings = []
    export = match.group("export")
    if export is not None and "\n" in export:
        findings.append(
            _warn(
                lines.of(match.start("export")),
                "export",
                f"line {lines.of(match.start('export'))}: 'export' stands alone; "
                f"node's dotenv applies it to {key} on line {line}",
            )
        )
    if sep.lstrip(_JS_SPACE).startswith(":"):
        findings.append(
            _warn(
                line,
                "colon",
                f"line {line}: {key}: 'key: value' syntax is read by "
                "node's dotenv but rejected by python-dotenv and "
                "docker compose; write key=value",
            )
        )
    value = match.group("value") or ""
    starts = [match.start("sep") + len(sep) - len(sep.lstrip(_JS_SPACE))]
    if _js_trim(value):
        starts.append(match.start("value") + len(value) - len(value.lstrip(_JS_SPACE)))
    last = max(lines.of(offset) for offset in starts)
    if last != line:
        findings.append(
            _fail(
                line,
                "split-assignment",
                f"line {line}: {key}: the assignment runs on to line {last} and "
                "node's dotenv reads the lines as one; put it on one line",
            )
        )
    cut_at = match.end("plain") if match.group("plain") is not None else match.end("sep")
    text = match.string
    if text[cut_at : cut_at + 1] == "#" and text[cut_at - 1] not in _JS_SPACE:
        findings.append(
            _warn(
                line,
                "inline-comment",
                f"line {line}: {key}: unquoted value is cut at '#'; "
                "quote it if the '#' is part of the value",
            )
        )
    return findings


def _quote_findings(match: re.Match[str], entry: EnvEntry, lines: _LineIndex) -> list[Finding]:
    """Findings about quoting, escapes and '$' references in the value."""
    key, line, findings = shown_name(entry.key), entry.line, []
    raw = _js_trim(match.group("value") or "")
    if raw and raw[0] in _QUOTES and entry.quote is None:
        findings.append(
            _fail(
                line,
                "unterminated-quote",
                f"line {line}: {key}: the opening quote is not closed on this line "
                "or text follows the closing quote; node's dotenv keeps the quote "
                "characters in the value",
            )
        )
    if match.group("plain") is not None and entry.quote is not None:
        findings.append(
            _warn(
                line,
                "stray-quote",
                f"line {line}: {key}: the value has unescaped quote characters "
                "inside its quotes; node's dotenv keeps them, other tools end the "
                "value at the first one",
            )
        )
    if entry.quote == "`":
        findings.append(
            _warn(
                line,
                "backtick",
                f"line {line}: {key}: backtick quotes are removed "
                "by node's dotenv but not by python-dotenv or "
                "docker compose; use double or single quotes",
            )
        )
    quoted = match.group("quoted")
    if quoted is not None:
        findings += _quoted_findings(_js_trim(quoted), entry, lines.of(match.end("quoted") - 1))
    if entry.quote != "'" and _REFERENCE.search(entry.value):
        findings.append(
            _warn(
                line,
                "interpolation",
                f"line {line}: {key}: value has a '$' reference that docker compose, "
                "dotenv-expand and python-dotenv would expand; node's dotenv keeps "
                "it as written",
            )
        )
    return findings


def _quoted_findings(quoted: str, entry: EnvEntry, last: int) -> list[Finding]:
    key, line, content, findings = shown_name(entry.key), entry.line, quoted[1:-1], []
    escapes = r"\\(?![nr])" if quoted[0] == '"' else r"\\[\\']" if quoted[0] == "'" else None
    if escapes is not None and re.search(escapes, content):
        findings.append(
            _warn(
                line,
                "escape",
                f"line {line}: {key}: node's dotenv keeps backslash escapes as "
                "written (it only turns \\n and \\r into line breaks, and only in "
                "double quotes); python-dotenv and docker compose unescape them",
            )
        )
    inner = content.split("\n")[1:]
    if any(_LOOKS_LIKE_ASSIGNMENT.match(text) for text in inner):
        findings.append(
            _warn(
                line,
                "multiline",
                f"line {line}: {key}: quoted value runs on to line {last} and takes "
                "in lines that look like assignments; check for a missing closing "
                "quote",
            )
        )
    return findings


def _unparseable(text: str, covered: set[int]) -> list[Finding]:
    findings = []
    for number, content in enumerate(text.split("\n"), start=1):
        stripped = _js_trim(content)
        if number not in covered and stripped and not stripped.startswith("#"):
            findings.append(
                _fail(
                    number,
                    "unparseable",
                    f"line {number}: not a KEY=VALUE assignment; node's dotenv ignores it",
                )
            )
    return findings


def _key_findings(entries: list[EnvEntry]) -> list[Finding]:
    """Duplicates, and keys that Node's dotenv reads but cannot store."""
    findings: list[Finding] = []
    seen: dict[str, int] = {}
    for entry in entries:
        key, line = shown_name(entry.key), entry.line
        if entry.key in _DROPPED_KEYS:
            findings.append(
                _fail(
                    line,
                    "dropped-key",
                    f"line {line}: {key}: node's dotenv reads "
                    "it but a javascript object cannot hold "
                    "it, so the api never sees it",
                )
            )
        elif entry.key in seen:
            findings.append(
                _warn(
                    line,
                    "duplicate",
                    f"line {line}: {key} is also set on line "
                    f"{seen[entry.key]}; the later one (line "
                    f"{line}) wins",
                )
            )
        seen[entry.key] = line
    return findings


def parse_dotenv(text: str) -> ParsedEnv:
    """Parse .env text into the values Node's dotenv.parse gives, every entry, and findings."""
    normalized = re.sub(r"\r\n?", "\n", text)
    lines = _LineIndex(normalized)
    entries: list[EnvEntry] = []
    findings = _file_findings(text)
    covered: set[int] = set()
    for match in _LINE.finditer(normalized):
        value, quote = _node_value(match.group("value") or "")
        entry = EnvEntry(match.group("key"), value, lines.of(match.start("key")), quote)
        entries.append(entry)
        findings += _shape_findings(match, lines, entry.line)
        findings += _quote_findings(match, entry, lines)
        covered.update(range(lines.of(match.start()), lines.of(match.end() - 1) + 1))
    findings += _unparseable(normalized, covered)
    findings += _key_findings(entries)
    findings.sort(key=lambda finding: finding.line or 0)
    values = {e.key: e.value for e in entries if e.key not in _DROPPED_KEYS}
    return ParsedEnv(values, tuple(entries), tuple(findings))


def parse_bounded(text: str, where: str) -> ParsedEnv:
    """parse_dotenv, after refusing more than limits.ENV_LINES_CAP lines (ConfigError)."""
    lines = text.count("\n") + text.count("\r") - text.count("\r\n") + 1
    if lines > ENV_LINES_CAP:
        raise ConfigError(
            f"{where}: more than {ENV_LINES_CAP} lines, more than a .env holds",
            hint="is it the right file?",
        )
    return parse_dotenv(text)


def read_dotenv_file(path: Path, what: str = ".env file") -> ParsedEnv:
    """Read a .env file (a regular file, at most limits.ENV_CAP) as UTF-8 and parse it as
    Node's dotenv does."""
    data = read_regular(path, what, ENV_CAP)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        # `from None`: the decode error holds the file's bytes, which may be secrets.
        raise ConfigError(
            f"{path}: not valid utf-8 (first bad byte at offset {e.start})",
            hint="save the file as utf-8; node's dotenv would silently replace the bad bytes",
        ) from None
    return parse_bounded(text, str(path))
