"""`cookcam-ops schema`: the JSON Schema of a command's --json document."""

from __future__ import annotations

from typing import Annotated

import typer

from cookcam_ops.errors import UsageError


def schema(
    command: Annotated[
        list[str] | None,
        typer.Argument(
            help="The command, e.g. deploy or env validate [default: what every document has].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the JSON Schema (draft 2020-12) of a command's --json output.

    Every --json document, whatever its exit code, is valid against its command's schema;
    `schema_version` changes only when a change would break a reader.
    """
    import json

    from cookcam_ops.json_schemas import COMMANDS, envelope, schema_for

    name = " ".join(command or [])
    if name and name not in COMMANDS:
        raise UsageError(
            f"no command '{name}' prints a JSON document",
            hint=f"known: {', '.join(sorted(COMMANDS))}",
        )
    doc = schema_for(name) if name else envelope()
    print(json.dumps(doc, indent=2))
