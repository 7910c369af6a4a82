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

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    M = TypeVar("M", bound=BaseModel)

KeyPath = tuple[str | int, ...]


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


def load_yaml(path: Path, what: str) -> YamlDoc:
    """Read and parse a YAML file; any problem is a ConfigError naming the file."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: {what} not found") from e
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise ConfigError(f"{path}: cannot read {what} ({reason})") from e
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:  # one parse: the node tree gives line numbers, the same tree gives the data
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"{where}: {what} is not valid YAML ({problem})") from e
    finally:
        loader.dispose()
    return YamlDoc(path=path, data=data, node=node)


def validation_error(doc: YamlDoc, error: ValidationError, what: str,
                     hint: str | None = None) -> ConfigError:
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
