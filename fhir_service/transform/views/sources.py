"""Where a view's resources come from: Bundle files, single-resource JSON files, NDJSON files.

Each input yields a `Batch`: its resources (lazily for NDJSON, one line at a time) and, for a Bundle, the
fullUrl -> (type, id) map that lets getReferenceKey() follow `urn:uuid:` references inside it. A file that
cannot be read becomes `Issue`s, never an exception, so the CLI reports it like the validator does.
A store-backed source (views over the server's database) is just another iterable of resource dicts.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from fhir_service.validation.outcome import Issue

ReferenceMap = dict[str, tuple[str, str]]


@dataclass
class Batch:
    """The resources of one input and the reference map of its Bundle (empty for other inputs)."""

    name: str
    resources: Iterable[Mapping[str, Any]]
    reference_map: ReferenceMap = field(default_factory=dict)


def bundle_resources(bundle: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The resources of a Bundle's entries, in order (entries without a resource are skipped)."""
    for entry in bundle.get("entry") or ():
        if isinstance(entry, Mapping) and isinstance(entry.get("resource"), Mapping):
            yield entry["resource"]


def bundle_reference_map(bundle: Mapping[str, Any]) -> ReferenceMap:
    """fullUrl -> (resourceType, id) of every entry that has all three."""
    out: ReferenceMap = {}
    for entry in bundle.get("entry") or ():
        if not isinstance(entry, Mapping):
            continue
        resource, full_url = entry.get("resource"), entry.get("fullUrl")
        if isinstance(resource, Mapping) and isinstance(full_url, str):
            kind, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(kind, str) and isinstance(rid, str):
                out[full_url] = (kind, rid)
    return out


def batch_of(name: str, value: Any) -> tuple[Batch | None, list[Issue]]:
    """A parsed JSON document as a batch: a Bundle's entries, or a single resource."""
    if not isinstance(value, Mapping) or not isinstance(value.get("resourceType"), str):
        return None, [Issue("error", "structure", "expected a FHIR resource or Bundle (a JSON object with a "
                                                  "resourceType)")]
    if value["resourceType"] == "Bundle":
        return Batch(name, bundle_resources(value), bundle_reference_map(value)), []
    return Batch(name, [value]), []


def read_batch(path: str) -> tuple[Batch | None, list[Issue]]:
    """One input file as a batch: `.ndjson` files stream a resource per line, others are one JSON document."""
    file = Path(path)
    if not file.is_file():
        return None, [Issue("fatal", "not-found", "no such file")]
    if file.suffix.lower() in (".ndjson", ".jsonl"):
        return Batch(path, _ndjson(file)), []
    value, issues = read_json_file(file)
    if issues:
        return None, issues
    return batch_of(path, value)


def read_json_file(file: Path) -> tuple[Any, list[Issue]]:
    """The JSON document in `file` (a UTF-8 BOM allowed), or a fatal issue saying why it cannot be read."""
    try:
        return orjson.loads(file.read_bytes().removeprefix(b"\xef\xbb\xbf")), []
    except OSError as exc:
        return None, [Issue("fatal", "exception", f"cannot read: {exc.strerror or exc}")]
    except orjson.JSONDecodeError as exc:
        issue = Issue("fatal", "structure", f"not JSON: {exc}")
        issue.line, issue.col = exc.lineno, exc.colno
        return None, [issue]


class NdjsonError(ValueError):
    """A line of an NDJSON file is not a JSON object; carries the file name and the Issue to report."""

    def __init__(self, name: str, issue: Issue) -> None:
        super().__init__(f"{name}: {issue.diagnostics}")
        self.name = name
        self.issue = issue


def _ndjson(file: Path) -> Iterator[Mapping[str, Any]]:
    with file.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise NdjsonError(str(file), Issue("fatal", "structure", f"line {number} is not JSON: {exc}",
                                                   line=number)) from exc
            if not isinstance(value, Mapping):
                raise NdjsonError(str(file), Issue("fatal", "structure", f"line {number} is not a JSON object",
                                                   line=number))
            yield value
