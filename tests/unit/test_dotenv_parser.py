"""Values and findings of the Node-dotenv-compatible .env parser, one edge case at a time.

Expected values here were checked against Node's dotenv; test_dotenv_differential.py keeps them
honest against the real package.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cookcam_ops.envfile.dotenv_parser import Finding, parse_dotenv, read_dotenv_file
from cookcam_ops.errors import ConfigError

SENTINEL = "SENTINEL-7f3a"


def kinds(text: str) -> list[tuple[int | None, str, str]]:
    return [(f.line, f.kind, f.severity) for f in parse_dotenv(text).findings]


def only(text: str, kind: str) -> Finding:
    found = [f for f in parse_dotenv(text).findings if f.kind == kind]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("A=1\nB=two\n", {"A": "1", "B": "two"}, id="basic"),
        pytest.param("\ufeffFIRST=1\n", {"FIRST": "1"}, id="bom-not-in-first-key"),
        pytest.param("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}, id="crlf"),
        pytest.param("A=1\rB=2\r", {"A": "1", "B": "2"}, id="lone-cr"),
        pytest.param('A="x\r\ny"', {"A": "x\ny"}, id="crlf-inside-quotes-becomes-lf"),
        pytest.param(
            "export A=1\nexport\tB=2\nexportC=3",
            {"A": "1", "B": "2", "exportC": "3"},
            id="export-prefix",
        ),
        pytest.param("export\nA=1\n", {"A": "1"}, id="export-alone-applies-to-next-line"),
        pytest.param("export\n", {}, id="export-alone-at-end"),
        pytest.param("export=1\n", {"export": "1"}, id="export-as-key"),
        pytest.param("A='s'\nB=\"d\"\nC=`b`", {"A": "s", "B": "d", "C": "b"}, id="quotes-removed"),
        pytest.param(
            "A='  pad  '\nB=  pad  ", {"A": "  pad  ", "B": "pad"}, id="trim-outside-quotes"
        ),
        pytest.param("A='it\\'s'", {"A": "it\\'s"}, id="escaped-single-keeps-backslash"),
        pytest.param(
            'A="say \\"hi\\""', {"A": 'say \\"hi\\"'}, id="escaped-double-keeps-backslash"
        ),
        pytest.param('A="a\\nb\\rc"', {"A": "a\nb\rc"}, id="newline-escapes-in-double"),
        pytest.param(
            "A='a\\nb'\nB=`a\\nb`\nC=a\\nb",
            {"A": "a\\nb", "B": "a\\nb", "C": "a\\nb"},
            id="no-escapes-elsewhere",
        ),
        pytest.param('A="a\\nb', {"A": '"a\nb'}, id="unterminated-double-still-expands"),
        pytest.param('A="l1\nl2"\nB=1', {"A": "l1\nl2", "B": "1"}, id="multiline-double"),
        pytest.param(
            "A='l1\nl2'\nB=`l3\nl4`", {"A": "l1\nl2", "B": "l3\nl4"}, id="multiline-other"
        ),
        pytest.param(
            'A="x\nB=2\nC=3"\nD=4', {"A": "x\nB=2\nC=3", "D": "4"}, id="quote-swallows-lines"
        ),
        pytest.param("A: v\nB:\tw\nC:x", {"A": "v", "B": "w"}, id="colon"),
        pytest.param("A:\nB=1\nC=2", {"A": "B=1", "C": "2"}, id="colon-takes-next-line"),
        pytest.param("A=abc#def", {"A": "abc"}, id="hash-cuts-without-space"),
        pytest.param(
            "A=abc # def\nB=#x\nC= #x", {"A": "abc", "B": "", "C": ""}, id="hash-comments"
        ),
        pytest.param(
            'A=\'a#b\'\nB="a # b"\nC="x"#c',
            {"A": "a#b", "B": "a # b", "C": "x"},
            id="hash-in-quotes",
        ),
        pytest.param(
            "A=\nB=  \nC=''\nD=\"\"", {"A": "", "B": "", "C": "", "D": ""}, id="empty-values"
        ),
        pytest.param(
            "A = 1\nB\t=\t2\n  C=3", {"A": "1", "B": "2", "C": "3"}, id="spaces-around-eq"
        ),
        pytest.param("A=first\nA=second", {"A": "second"}, id="later-duplicate-wins"),
        pytest.param("A=${HOME}/x\nB=$HOME", {"A": "${HOME}/x", "B": "$HOME"}, id="no-expansion"),
        pytest.param("a.b=1\nx-y=2\n9z=3", {"a.b": "1", "x-y": "2", "9z": "3"}, id="key-chars"),
        pytest.param("words here\n=v\nKEY\nA B=1\nOK=1", {"OK": "1"}, id="invalid-lines-ignored"),
        pytest.param("A='open\nB=2", {"A": "'open", "B": "2"}, id="unterminated-single"),
        pytest.param("A='a' b'", {"A": "a' b"}, id="outer-quotes-removed-anyway"),
        pytest.param('A="x" y', {"A": '"x" y'}, id="text-after-quotes-keeps-quotes"),
        pytest.param("A=v  \t\nB=\tw", {"A": "v", "B": "w"}, id="tabs-and-trailing-space"),
        pytest.param(
            "A=日本語 ✓\nB=\u00a0x\u2003", {"A": "日本語 ✓", "B": "x"}, id="unicode-js-trim"
        ),
        pytest.param("A=\x1cx\x85", {"A": "\x1cx\x85"}, id="python-only-whitespace-kept"),
        pytest.param("A=1\n\ufeffB=2", {"A": "1", "B": "2"}, id="bom-mid-file-is-whitespace"),
        pytest.param("A=x\u2028B=y", {"A": "x\u2028B=y"}, id="line-separator-in-unquoted"),
        pytest.param("A=z#c\u2028B=w", {"A": "z", "B": "w"}, id="line-separator-ends-comment"),
        pytest.param(
            'A=\n"below"\nB=\nC=1',
            {"A": "below", "B": "", "C": "1"},
            id="quoted-value-on-next-line",
        ),
        pytest.param("A\n=1", {"A": "1"}, id="equals-on-next-line"),
        pytest.param("A=a=b\nB==", {"A": "a=b", "B": "="}, id="equals-in-value"),
        pytest.param("__proto__=x\nconstructor=y", {"constructor": "y"}, id="proto-dropped"),
        pytest.param("", {}, id="empty"),
    ],
)
def test_values_match_node(text: str, expected: dict[str, str]) -> None:
    assert parse_dotenv(text).values == expected


def test_entries_keep_duplicates_lines_and_quotes() -> None:
    parsed = parse_dotenv("A='x'\n\nB=\"l1\nl2\"\nA=`y`\nC=z\n")
    assert [(e.key, e.value, e.line, e.quote) for e in parsed.entries] == [
        ("A", "x", 1, "'"),
        ("B", "l1\nl2", 3, '"'),
        ("A", "y", 5, "`"),
        ("C", "z", 6, None),
    ]


def test_clean_file_has_no_findings() -> None:
    assert parse_dotenv("# comment\nexport A=1\nB='two # words'\nC=\"x\"\n\n").findings == ()


def test_bom_finding() -> None:
    finding = only("\ufeffA=1\n", "bom")
    assert (finding.line, finding.severity) == (None, "warn")
    assert finding.message == (
        "file starts with a UTF-8 byte-order mark; node's dotenv ignores it but other tools may not"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("A=1\r\nB=2\r\n", "crlf (windows)"),
        ("A=1\rB=2", "lone cr (old mac)"),
        ("A=1\r\nB=2\rC=3", "crlf (windows) and lone cr (old mac)"),
    ],
)
def test_line_end_findings(text: str, words: str) -> None:
    finding = only(text, "crlf")
    assert (finding.line, finding.severity) == (None, "warn")
    assert f"file has {words} line ends" in finding.message


def test_unparseable_lines_fail() -> None:
    text = "# ok\n\n  \nwords here\nA=1\n=v\n  # ok too\nexport\n"
    assert kinds(text) == [
        (4, "unparseable", "fail"),
        (6, "unparseable", "fail"),
        (8, "unparseable", "fail"),
    ]
    assert parse_dotenv(text).findings[0].message == (
        "line 4: not a KEY=VALUE assignment; node's dotenv ignores it"
    )


def test_lines_inside_multiline_value_are_not_unparseable() -> None:
    assert kinds('A="l1\nplain words\nl3"\n') == []


def test_duplicate_names_key_and_both_lines() -> None:
    finding = only("A=1\nB=2\nA=3\n", "duplicate")
    assert (finding.line, finding.severity) == (3, "warn")
    assert finding.message == "line 3: A is also set on line 1; the later one (line 3) wins"


@pytest.mark.parametrize("text", ["A=${X}", "A=$X", 'A="${X}"', "A=`$x`", "A=a$_b"])
def test_interpolation_warns(text: str) -> None:
    backtick = {(1, "backtick", "warn")} if "`" in text else set()
    expected = {(1, "interpolation", "warn")} | backtick
    assert set(kinds(text)) == expected


@pytest.mark.parametrize("text", ["A='${X}'", "A=cost$5", "A=$", "A=a$ b"])
def test_no_interpolation_warning(text: str) -> None:
    assert kinds(text) == []


def test_inline_comment_without_space() -> None:
    finding = only("JWT_SECRET=abc#def\n", "inline-comment")
    assert finding.message == (
        "line 1: JWT_SECRET: unquoted value is cut at '#'; quote it if the '#' is part of the value"
    )
    assert kinds("A=#x") == [(1, "inline-comment", "warn")]
    assert kinds("A=abc #def\nB= #x\nC: #x\nD=\"x\"#c\nE='a#b'") == [(3, "colon", "warn")]


def test_colon_syntax_warns() -> None:
    assert kinds("A: v\n") == [(1, "colon", "warn")]
    assert kinds("A\n: v\n") == [(1, "unparseable", "fail"), (2, "unparseable", "fail")]
    assert "rejected by python-dotenv and docker compose" in only("A: v", "colon").message


def test_backtick_warns() -> None:
    assert kinds("A=`v`\n") == [(1, "backtick", "warn")]


@pytest.mark.parametrize("text", ['A="open', "A='open\nB=2", "A=`open", 'A="x" y', "A='x'\""])
def test_unterminated_quote_fails(text: str) -> None:
    assert (1, "unterminated-quote", "fail") in kinds(text)


def test_stray_quote_warns() -> None:
    assert kinds("A='a' b'") == [(1, "stray-quote", "warn")]


def test_export_alone_warns_and_names_the_next_key() -> None:
    finding = only("export\n\nA=1\n", "export")
    assert (finding.line, finding.severity) == (1, "warn")
    assert finding.message == (
        "line 1: 'export' stands alone; node's dotenv applies it to A on line 3"
    )


@pytest.mark.parametrize("text", ["A:\nB=1", 'A=\n"b"', "A\n=1", "A:\n'b'"])
def test_split_assignment_fails(text: str) -> None:
    assert (1, "split-assignment", "fail") in kinds(text)
    assert "runs on to line 2" in only(text, "split-assignment").message


@pytest.mark.parametrize(
    ("text", "warns"),
    [
        ('A="say \\"hi\\""', True),
        ('A="C:\\\\dir"', True),
        ("A='it\\'s'", True),
        ('A="a\\nb\\r"', False),
        ("A='C:\\dir'", False),
        ("A=C:\\dir", False),
    ],
)
def test_escape_warning(text: str, warns: bool) -> None:
    assert ((1, "escape", "warn") in kinds(text)) is warns


def test_multiline_swallowing_assignments_warns() -> None:
    finding = only('A="x\nB=2\nC=3"\nD=4\n', "multiline")
    assert (finding.line, finding.severity) == (1, "warn")
    assert "runs on to line 3" in finding.message


def test_multiline_key_material_does_not_warn() -> None:
    pem = (
        'K="-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4W=\n'
        'ab==\n-----END KEY-----"'
    )
    assert kinds(pem) == []


def test_proto_key_fails() -> None:
    assert kinds("__proto__=x") == [(1, "dropped-key", "fail")]


def test_findings_sorted_file_level_first() -> None:
    lines = [f.line for f in parse_dotenv("\ufeffB=2#x\r\nnope\r\nB=3\r\n").findings]
    assert lines == [None, None, 1, 2, 3]


# Every kind of finding, each triggered with the sentinel in the value (or in the bytes around).
SENTINEL_TEXTS = [
    f"\ufeffA={SENTINEL}\r\nB={SENTINEL}\rC={SENTINEL}\n",
    f"A={SENTINEL}\nA='{SENTINEL}'\n{SENTINEL} loose words\n",
    f'A=${{{SENTINEL}}}\nB=$X{SENTINEL}\nC="{SENTINEL}${{Y}}"\n',
    f"A={SENTINEL}#{SENTINEL}\nB:{SENTINEL}\nC: {SENTINEL}\nD=`{SENTINEL}`\n",
    f"A=\"{SENTINEL}\nB='{SENTINEL}\nC={SENTINEL}\" y\nD='a' {SENTINEL}'\n",
    f'A="{SENTINEL}\nB={SENTINEL}\nC={SENTINEL}"\nexport\nE={SENTINEL}\n',
    f'A:\n{SENTINEL}=1\nB=\n"{SENTINEL}"\nC="{SENTINEL}\\"\\\\"\n__proto__={SENTINEL}\n',
]
ALL_KINDS = {
    "bom",
    "crlf",
    "unparseable",
    "duplicate",
    "interpolation",
    "export",
    "colon",
    "inline-comment",
    "unterminated-quote",
    "backtick",
    "stray-quote",
    "escape",
    "multiline",
    "split-assignment",
    "dropped-key",
}


def test_no_finding_message_contains_a_value() -> None:
    findings = [f for text in SENTINEL_TEXTS for f in parse_dotenv(text).findings]
    assert {f.kind for f in findings} == ALL_KINDS  # the sentinel reached every kind of message
    for finding in findings:
        assert SENTINEL not in finding.message, finding
        assert "\n" not in finding.message and finding.severity in {"warn", "fail"}


def test_read_file_keeps_bytes_exact(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"\xef\xbb\xbfA=1\r\nB=\xc3\xa9\r\n")
    parsed = read_dotenv_file(path)
    assert parsed.values == {"A": "1", "B": "é"}
    assert [f.kind for f in parsed.findings] == ["bom", "crlf"]


def test_read_file_rejects_invalid_utf8_without_content(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=1\nSECRET=" + SENTINEL.encode() + b"\xff\n")
    with pytest.raises(ConfigError) as caught:
        read_dotenv_file(path)
    assert str(path) in str(caught.value) and "offset 24" in str(caught.value)
    assert caught.value.hint is not None and "utf-8" in caught.value.hint
    assert SENTINEL not in str(caught.value) and caught.value.__cause__ is None


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.env file not found"):
        read_dotenv_file(tmp_path / "missing.env")
