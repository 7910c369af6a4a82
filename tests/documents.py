"""Checking --json output the way CI reads it: exactly one document, valid against the JSON
Schema the package ships for its command (`cookcam-ops schema COMMAND`)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from cookcam_ops.json_schemas import COMMANDS, envelope, schema_for


def valid_document(stdout: str, command: str | None = None) -> dict[str, Any]:
    """The one JSON document in stdout, validated against its command's schema."""
    doc = json.loads(stdout)  # raises when there is not exactly one document
    assert isinstance(doc, dict), stdout[:200]
    name = command or doc.get("command", "")
    schema = schema_for(name) if name in COMMANDS else envelope()
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
    assert not errors, f"{name}: {errors[0].message} at {list(errors[0].absolute_path)}"
    assert doc["schema_version"] == 1
    if command is not None:
        assert doc["command"] == command
    return doc
