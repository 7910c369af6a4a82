"""Loading the YAML files users write (ops.yaml, schemas, playbooks) into pydantic models.

Errors are re-worded into one line that names the file, the line and the key path
(`ops.yaml:12: environments.production.hosts[0]: ...`). pydantic's own messages are used, but
never its `input` (inputs can be secrets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cookcam_ops.errors import ConfigError
from cookcam_ops.limits import YAML_CAP, YAML_DEPTH_CAP, YAML_NODES_CAP, clip_value, read_regular

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    M = TypeVar("M", bound=BaseModel)

KeyPath = tuple[str | int, ...]
MAX_DIGITS = 1000  # Python refuses to read an int of more than 4300 digits


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML document and the line (1-based) where each key path starts."""

    path: Path
    data: Any
    node: Any = field(default=None, repr=False)  # the node tree, for line numbers

    @cached_property
    def lines(self) -> dict[KeyPath, int]:
        """Line numbers by key path, indexed on first use (only errors need them)."""
        lines: dict[KeyPath, int] = {}
        if self.node is not None:
            _index_lines(self.node, (), lines)
        return lines

    def text_line(self, key_path: KeyPath, offset: int) -> int | None:
        """The file line of a character offset in the string at key_path (a literal block
        scalar's text starts on the line after its `|`; other styles are given their own)."""
        node = self.node
        for part in key_path:
            children = node.value if node is not None else None
            if (
                isinstance(part, int)
                and isinstance(children, list)
                and part < len(children)
                and not isinstance(children[0], tuple)
            ):
                node = children[part]
            elif isinstance(part, str) and isinstance(children, list):
                node = next(
                    (v for k, v in children if isinstance(k.value, str) and k.value == part), None
                )
            else:
                return self.line_of(key_path)
        if node is None or not isinstance(node.value, str):
            return self.line_of(key_path)
        first: int = node.start_mark.line + 1 + (1 if node.style in ("|", ">") else 0)
        return first + node.value.count("\n", 0, offset) if node.style == "|" else first

    def line_of(self, key_path: KeyPath) -> int | None:
        """The line of the deepest known prefix of key_path."""
        for end in range(len(key_path), -1, -1):
            line = self.lines.get(key_path[:end])
            if line is not None:
                return line
        return None


def format_key_path(key_path: KeyPath) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _index_lines(node: Any, prefix: KeyPath, lines: dict[KeyPath, int]) -> None:
    import yaml

    lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            lines[key] = key_node.start_mark.line + 1
            _index_lines(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*prefix, i), lines)


@dataclass
class _Open:
    """A mapping or sequence being read: its expanded size so far and, for a mapping, its keys."""

    anchor: str | None
    mapping: bool
    size: int = 1
    position: int = 0
    keys: dict[str, int] = field(default_factory=dict)


class _Bounds:
    """Checks a YAML event stream before anything is built from it.

    Aliases are counted as what they expand to, so an alias bomb is refused after reading its
    few hundred bytes, not after expanding it; an alias inside its own anchor is refused; a key
    repeated in one mapping is refused with both lines.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.where = str(path)
        self.what = what
        self.stack: list[_Open] = []
        self.sizes: dict[str, int] = {}
        self.total = 0

    def error(self, line: int, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{self.where}:{line}: {self.what}: {message}", hint=hint)

    def feed(self, event: Any) -> None:
        import yaml

        line = event.start_mark.line + 1
        if isinstance(event, yaml.CollectionStartEvent):
            if len(self.stack) >= YAML_DEPTH_CAP:
                raise self.error(line, f"nested deeper than {YAML_DEPTH_CAP} levels")
            self._add(1, line, None)
            self.stack.append(_Open(event.anchor, isinstance(event, yaml.MappingStartEvent)))
        elif isinstance(event, yaml.CollectionEndEvent):
            done = self.stack.pop()
            if done.anchor:
                self.sizes[done.anchor] = done.size
            if self.stack:
                self.stack[-1].size += done.size - 1  # its first node was counted at its start
        elif isinstance(event, yaml.AliasEvent):
            if any(o.anchor == event.anchor for o in self.stack):
                raise self.error(
                    line,
                    f"the alias *{event.anchor} is inside its own anchor (a recursive structure)",
                )
            self._add(self.sizes.get(event.anchor or "", 1), line, None)
        elif isinstance(event, yaml.ScalarEvent):
            if (
                event.style is None
                and len(event.value) > MAX_DIGITS
                and event.value.lstrip("+-").replace("_", "").isdigit()
            ):
                raise self.error(line, f"a number of more than {MAX_DIGITS} digits")
            self._add(1, line, event.value)
            if event.anchor:
                self.sizes[event.anchor] = 1

    def _add(self, size: int, line: int, scalar: str | None) -> None:
        self.total += size
        if self.total > YAML_NODES_CAP:
            raise self.error(
                line,
                f"more than {YAML_NODES_CAP} values once its aliases are expanded",
                hint="is this an alias bomb? write the values out",
            )
        if not self.stack:
            return
        top = self.stack[-1]
        top.size += size
        if top.mapping and top.position % 2 == 0 and scalar is not None and scalar != "<<":
            if scalar in top.keys:
                raise self.error(
                    line,
                    f"the key {clip_value(scalar)} is repeated (lines "
                    f"{top.keys[scalar]} and {line}); YAML keeps only one",
                    hint="remove one of them",
                )
            top.keys[scalar] = line
        top.position += 1


def _parse_error(path: Path, what: str, e: Exception) -> ConfigError:
    mark = getattr(e, "problem_mark", None)
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    problem = getattr(e, "problem", None) or "invalid YAML"
    return ConfigError(f"{where}: {what} is not valid YAML ({problem})")


def _loader(text: str) -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)


def load_yaml(path: Path, what: str) -> YamlDoc:
    """Read (bounded) and parse a YAML file; any problem is a ConfigError naming the file."""
    import yaml

    raw = read_regular(path, what, YAML_CAP)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path}: cannot read {what} (not UTF-8 text at byte {e.start})"
        ) from None
    bounds, loader = _Bounds(path, what), _loader(text)
    try:  # first the events, checked; then one parse into nodes (line numbers) and data
        while loader.check_event():
            bounds.feed(loader.get_event())
        loader.dispose()
        loader = _loader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        raise _parse_error(path, what, e) from None
    except RecursionError:
        raise ConfigError(f"{path}: {what} is nested too deeply") from None
    except ValueError as e:  # a scalar YAML resolves to a value Python cannot build
        raise ConfigError(
            f"{path}: {what} holds a value that cannot be read ({type(e).__name__})"
        ) from None
    finally:
        loader.dispose()
    return YamlDoc(path=path, data=data, node=node)


def validation_error(
    doc: YamlDoc, error: ValidationError, what: str, hint: str | None = None
) -> ConfigError:
    """Re-word pydantic's first error as one line with file, line and key path."""
    first = error.errors(include_input=False, include_url=False)[0]
    key_path: KeyPath = tuple(p for p in first["loc"] if isinstance(p, (str, int)))
    line = doc.line_of(key_path)
    where = f"{doc.path}:{line}" if line else str(doc.path)
    dotted = format_key_path(key_path)
    msg = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "missing":
        msg = "required key is missing"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
    label = f"{dotted}: " if dotted else ""
    return ConfigError(f"{where}: {what}: {label}{msg}{suffix}", hint=hint)


def load_model(path: Path, model: type[M], what: str, hint: str | None = None) -> tuple[M, YamlDoc]:
    """Load a YAML file into a pydantic model, with one-line errors."""
    from pydantic import ValidationError

    doc = load_yaml(path, what)
    if doc.data is None:
        raise ConfigError(f"{path}: {what} is empty", hint=hint)
    try:
        return model.model_validate(doc.data), doc
    except ValidationError as e:
        raise validation_error(doc, e, what, hint) from None
