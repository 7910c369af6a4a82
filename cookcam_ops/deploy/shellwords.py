"""Where a playbook's `{placeholders}` may stand in its shell script: a small POSIX sh lexer.

render() replaces a placeholder with its value single-quoted by q(), the one place values are
quoted. That is safe only where the shell starts reading an unquoted word part: inside double
quotes `"{ref}"` the single quotes are literal and `$(...)` in the value runs; after a backslash,
in backticks, in `${...}`, in a heredoc body or a comment it breaks too. So a placeholder must
stand outside all of these, as a word of its own or joined only to plain characters (letters,
digits, `/ . _ - = : @ + , %` and the glob characters `* ? [ ] !`), e.g. `{ops_path}/prev`,
`--git-dir={repo_path}` or `{shared_path}/*`.
"""

from __future__ import annotations

import re
import string

PLAIN = frozenset(string.ascii_letters + string.digits + "/._-=:@+,%*?[]!")
BOUNDARY = frozenset(" \t\n;&|()<>")
SHOWN = "letters, digits and / . _ - = : @ + , % * ? [ ] !"
_PLACES = {
    "dq": "inside double quotes",
    "sq": "inside single quotes",
    "bq": "inside backticks",
    "param": "inside ${...}",
    "arith": "inside $((...))",
    "heredoc": "in a heredoc body",
    "comment": "in a comment",
    "escaped": "after a backslash",
}
_DELIM_END = re.compile(r"[\s;&|<>()]")


class _Lexer:
    """Labels each character of a script with the innermost context it is read in."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ctx = ["top"] * len(text)
        self.stack = ["top"]
        self.heredocs: list[tuple[str, bool]] = []
        self.i = 0

    def run(self) -> list[str]:
        while self.i < len(self.text):
            top = self.stack[-1]
            self.ctx[self.i] = top
            step = {
                "sq": self._sq,
                "dq": self._dq,
                "bq": self._bq,
                "param": self._param,
                "arith": self._arith,
            }.get(top, self._code)
            step(self.text[self.i])
        return self.ctx

    def _at(self, s: str) -> bool:
        return self.text.startswith(s, self.i)

    def _escape(self) -> None:
        if self.i + 1 < len(self.text):
            self.ctx[self.i + 1] = "escaped"
        self.i += 2

    def _open(self, ctx: str, width: int) -> None:
        self.stack.append(ctx)
        self.i += width

    def _expansions(self) -> bool:
        """$((, $(, ${ and backticks: contexts that open in code and in double quotes."""
        if self._at("$(("):
            self._open("arith", 3)
        elif self._at("$("):
            self._open("cmd", 2)
        elif self._at("${"):
            self._open("param", 2)
        elif self._at("`"):
            self._open("bq", 1)
        else:
            return False
        return True

    def _code(self, c: str) -> None:
        if c == "\\":
            self._escape()
        elif c == "'":
            self._open("sq", 1)
        elif c == '"':
            self._open("dq", 1)
        elif self._expansions():
            pass
        elif c == "(":
            self._open("paren", 1)
        elif c == ")":
            if self.stack[-1] in ("cmd", "paren"):
                self.stack.pop()
            self.i += 1
        elif c == "#" and (self.i == 0 or self.text[self.i - 1] in BOUNDARY):
            self._skip_to_newline("comment")
        elif self._at("<<") and not self._at("<<<"):
            self._heredoc_operator()
        elif c == "\n" and self.heredocs:
            self.i += 1
            self._heredoc_bodies()
        else:
            self.i += 1

    def _skip_to_newline(self, label: str) -> None:
        end = self.text.find("\n", self.i)
        end = len(self.text) if end < 0 else end
        self.ctx[self.i : end] = [label] * (end - self.i)
        self.i = end

    def _heredoc_operator(self) -> None:
        self.i += 2
        dash = self._at("-")
        self.i += 1 if dash else 0
        while self._at(" ") or self._at("\t"):
            self.i += 1
        m = _DELIM_END.search(self.text, self.i)
        end = m.start() if m else len(self.text)
        word = self.text[self.i : end]
        self.heredocs.append((word.replace("'", "").replace('"', "").replace("\\", ""), dash))
        self.i = end

    def _heredoc_bodies(self) -> None:
        for delimiter, dash in self.heredocs:
            while self.i < len(self.text):
                end = self.text.find("\n", self.i)
                end = len(self.text) if end < 0 else end
                line = self.text[self.i : end]
                self.ctx[self.i : end + 1] = ["heredoc"] * (min(end + 1, len(self.text)) - self.i)
                self.i = end + 1
                if (line.lstrip("\t") if dash else line) == delimiter:
                    break
        self.heredocs = []

    def _sq(self, c: str) -> None:
        if c == "'":
            self.stack.pop()
        self.i += 1

    def _dq(self, c: str) -> None:
        if c == "\\":
            self._escape()
        elif c == '"':
            self.stack.pop()
            self.i += 1
        elif not self._expansions():
            self.i += 1

    def _bq(self, c: str) -> None:
        if c == "\\":
            self._escape()
            return
        if c == "`":
            self.stack.pop()
        self.i += 1

    def _param(self, c: str) -> None:
        if c == "}":
            self.stack.pop()
            self.i += 1
        elif not self._expansions():
            self.i += 1

    def _arith(self, c: str) -> None:
        if self._at("))"):
            self.stack.pop()
            self.i += 2
        else:
            self.i += 1


def placeholder_problems(template: str, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    """(offset, why) for each placeholder (pattern's matches) that is not a safe shell word."""
    ctx = _Lexer(template).run()
    spans = [m.span() for m in pattern.finditer(template)]
    inside = {i for start, end in spans for i in range(start, end)}
    problems = []
    for start, end in spans:
        name = template[start:end]
        where = _PLACES.get(ctx[start])
        if where is None and ctx[start] not in ("top", "cmd", "paren"):
            where = "in a part of the script that is not plain shell code"
        if where is None:
            glued = _glued(template, start - 1, -1, inside) or _glued(template, end, 1, inside)
            where = f"joined to {glued!r}" if glued else None
        if where is not None:
            problems.append(
                (
                    start,
                    f"{name} is {where}: placeholders are shell-quoted "
                    "already, so each must stand unquoted as a word of its own "
                    f"or joined only to {SHOWN}",
                )
            )
    return problems


def _glued(text: str, i: int, step: int, inside: set[int]) -> str | None:
    """The first character next to a placeholder's word that is neither plain nor a boundary."""
    while 0 <= i < len(text):
        c = text[i]
        if c in BOUNDARY:
            return None
        if c not in PLAIN and i not in inside:
            return c
        i += step
    return None
