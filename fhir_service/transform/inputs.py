"""Checks on the input of a transform: is it a Bundle whose entries hold resources?

The transforms share this gate so that "not JSON" and "not a Bundle" give the same clear OperationOutcome in
the CLI and over HTTP. Reading text is separate (`parse_json`) because HTTP hands over bytes already read.
"""
from __future__ import annotations

from typing import Any

import orjson

from fhir_service.transform.result import error
from fhir_service.validation.outcome import Issue


def parse_json(data: bytes | str, name: str = "input") -> tuple[Any, list[Issue]]:
    """The JSON value of `data`, or an `structure` issue that says where the JSON breaks."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        return orjson.loads(raw.removeprefix(b"\xef\xbb\xbf")), []
    except orjson.JSONDecodeError as exc:
        issue = error("structure", f"{name} is not JSON: {exc}")
        issue.line, issue.col = exc.lineno, exc.colno
        return None, [issue]


def bundle_problems(value: Any) -> list[Issue]:
    """Why `value` cannot be transformed as a Bundle (empty when it can)."""
    if not isinstance(value, dict):
        return [error("structure", f"expected a FHIR Bundle (a JSON object), got {type(value).__name__}")]
    kind = value.get("resourceType")
    if kind != "Bundle":
        what = f"a {kind}" if isinstance(kind, str) else "JSON without resourceType"
        return [error("structure", f"expected a FHIR Bundle, got {what}", "resourceType" if kind else None)]
    entries = value.get("entry", [])
    if not isinstance(entries, list):
        return [error("structure", "Bundle.entry must be an array", "Bundle.entry")]
    issues = []
    for index, entry in enumerate(entries):
        where = f"Bundle.entry[{index}]"
        if not isinstance(entry, dict):
            issues.append(error("structure", f"{where} is not an object", where))
        elif "resource" in entry and not (isinstance(entry["resource"], dict)
                                          and isinstance(entry["resource"].get("resourceType"), str)):
            issues.append(error("structure", f"{where}.resource is not a FHIR resource (no resourceType)",
                                f"{where}.resource"))
    return issues
