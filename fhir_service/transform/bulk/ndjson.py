"""Reading one NDJSON file line by line, each line either a resource to import or an Issue with its line.

A line is checked here for what can be known from the line alone: it is UTF-8 JSON, an object, with a
`resourceType` the store knows, the type the file is for (its name or its manifest entry), and an `id`
(an import upserts by id: without one a second import could not find what the first one wrote).
Blank lines are skipped (a trailing newline, or an editor's empty last line, is not an error).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from fhir_service.store import fhirjson
from fhir_service.validation.outcome import Issue

# FHIR id: 1-64 of [A-Za-z0-9-.] (R4 datatypes: id).
ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass
class Line:
    """One non-blank line: its number (1-based) and either the parsed resource or the problem with it."""

    number: int
    resource: dict[str, Any] | None
    issue: Issue | None = None


def _problem(number: int, code: str, message: str, expression: str | None = None, col: int = 1) -> Line:
    return Line(number, None, Issue("error", code, message, expression=expression, line=number, col=col))


def check_line(number: int, raw: bytes, expected_type: str | None, known_types: frozenset[str]) -> Line:
    """The parsed resource of one line, or an Issue saying why it cannot be imported."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _problem(number, "structure", f"not UTF-8 text (byte {exc.start + 1})", col=exc.start + 1)
    if number == 1:
        text = text.removeprefix("\ufeff")
    try:
        value = fhirjson.loads(text)
    except ValueError as exc:
        col = getattr(exc, "colno", 1)
        message = getattr(exc, "msg", str(exc))
        return _problem(number, "structure", f"not JSON: {message}", col=col)
    if not isinstance(value, dict):
        return _problem(number, "structure", f"a line must hold one JSON object (a resource), not a "
                                              f"{type(value).__name__}")
    resource_type = value.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return _problem(number, "required", "no resourceType: not a FHIR resource", "resourceType")
    if resource_type not in known_types:
        return _problem(number, "not-supported", f"unknown resource type {resource_type!r}", "resourceType")
    if expected_type is not None and resource_type != expected_type:
        return _problem(number, "invalid", f"a {resource_type} in a file of {expected_type} resources",
                        "resourceType")
    id = value.get("id")
    if id is None:
        return _problem(number, "required", f"{resource_type} without id: an import upserts by id, so a "
                                            "resource without one cannot be imported idempotently",
                        f"{resource_type}.id")
    if not isinstance(id, str) or not ID_RE.match(id):
        return _problem(number, "value", f"invalid id {id!r} (FHIR ids are 1-64 of A-Z a-z 0-9 - .)",
                        f"{resource_type}.id")
    return Line(number, value)


def read_lines(path: Path, expected_type: str | None, known_types: frozenset[str]) -> Iterator[Line]:
    """Every non-blank line of `path`, streamed (one line in memory at a time). Raises OSError if unreadable."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            yield check_line(number, raw, expected_type, known_types)
