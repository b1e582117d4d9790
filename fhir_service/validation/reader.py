"""Reading one input (a file or `-` for stdin) into a resource, a source map and the issues of the text itself.

What belongs here is everything that is wrong before there is a resource to validate: an input that cannot be
read at all (a usage/input error: exit 2, one line on stderr, never a traceback), bytes that are not UTF-8, text
that is not JSON (the syntax error's line and column, as a fatal issue), nesting deeper than the parser allows
(orjson stops at 1024 levels; reported as a fatal issue, never a RecursionError), JSON that is not an object,
a missing or unknown `resourceType`, and duplicate keys (FHIR JSON forbids them; the parser keeps the last one
silently, so the source-map scan finds them). FHIR XML (first character `<`) is read by `fhir_service.formats.xml`.

Large inputs (a 50 MB Bundle) are read once as bytes, decoded once, and the bytes are dropped before parsing.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson

from fhir_service.validation.outcome import Issue, Location
from fhir_service.validation.source_map import PositionMap, SourceMap, expression_of, position_of_offset

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
UTF8_BOM = b"\xef\xbb\xbf"


class Lookup(Protocol):
    def lookup(self, location: Location) -> tuple[int, int] | None: ...

    def resolve(self, locations: Any) -> dict[Location, tuple[int, int]]: ...


@dataclass
class ReadResult:
    """What reading one input gave. `resource` is None when there is nothing to validate (see `issues`);
    `exit_code` is 2 when the input could not be read at all (then `message` says why, for stderr)."""

    resource: dict[str, Any] | None
    source_map: SourceMap | PositionMap | None
    issues: list[Issue] = field(default_factory=list)
    exit_code: int = EXIT_OK
    message: str | None = None
    name: str = "-"


def display_name(path_or_dash: str | Path) -> str:
    return "-" if str(path_or_dash) == "-" else str(path_or_dash)


def read_bytes(path_or_dash: str | Path, stdin: BinaryIO | None = None) -> tuple[bytes | None, str | None]:
    """The raw bytes, or None and a one-line reason (missing, a directory, permission denied, ...)."""
    name = display_name(path_or_dash)
    if name == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        try:
            return stream.read(), None
        except OSError as exc:
            return None, f"-: cannot read standard input: {exc.strerror or exc}"
    path = Path(path_or_dash)
    try:
        if path.is_dir():
            return None, f"{name}: is a directory, not a file"
        return path.read_bytes(), None
    except FileNotFoundError:
        return None, f"{name}: no such file"
    except PermissionError:
        return None, f"{name}: permission denied"
    except OSError as exc:
        return None, f"{name}: cannot read: {exc.strerror or exc}"


def read_input(path_or_dash: str | Path, definitions: Any = None, stdin: BinaryIO | None = None) -> ReadResult:
    """Read and parse one input; `definitions` (for the known resource types and the XML reader) defaults to
    the project's default definitions, loaded only when needed."""
    name = display_name(path_or_dash)
    data, problem = read_bytes(path_or_dash, stdin)
    if data is None:
        return ReadResult(None, None, [], EXIT_USAGE, problem, name)
    result = parse_bytes(data, definitions)
    result.name = name
    return result


def parse_bytes(data: bytes, definitions: Any = None) -> ReadResult:
    """Parse the bytes of one input (JSON or XML) into a ReadResult (exit code 0: issues say what is wrong)."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    if not data.strip():
        return _fatal("structure", "The input is empty: expected a FHIR resource in JSON", (1, 1))
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return _fatal("invalid", "The input is UTF-16 (it starts with a UTF-16 byte order mark): FHIR JSON must be "
                      "UTF-8", (1, 1))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = len(data[data.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8", "replace")) + 1
        return _fatal("invalid", f"The input is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                      (line, col))
    del data
    if text.lstrip()[:1] == "<":
        return _parse_xml(text, definitions)
    return parse_json_text(text, definitions)


def parse_json_text(text: str, definitions: Any = None) -> ReadResult:
    try:
        resource = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        position = _error_position(text, exc)
        if "depth" in str(exc) or "recursion" in str(exc).lower():
            return _fatal("too-costly", "The JSON nesting is too deep (more than 1024 levels): "
                          "not a FHIR resource", position)
        reason = str(exc.msg if hasattr(exc, "msg") else exc).split(": line ")[0]
        return _fatal("structure", f"The input is not valid JSON: {reason}", position)
    if not isinstance(resource, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(resource), "a number")
        return _fatal("structure", f"The JSON is {kind}, not a FHIR resource (a JSON object with a resourceType)",
                      position_of_offset(text, len(text) - len(text.lstrip())))
    source_map = SourceMap(text)
    issues: list[Issue] = []
    resource_type = resource.get("resourceType")
    root = resource_type if isinstance(resource_type, str) and resource_type else "Resource"
    for duplicate in source_map.duplicates:
        key = duplicate.location[-1]
        issues.append(Issue("error", "structure", f"Duplicate JSON property '{key}' (FHIR JSON forbids repeated "
                            "property names; only the last value would be kept)",
                            expression_of(duplicate.location, root), duplicate.location,
                            duplicate.line, duplicate.col, rule="json-duplicate-key"))
    type_issue = _check_resource_type(resource, definitions)
    if type_issue is not None:
        position = source_map.lookup(type_issue.location)
        if position:
            type_issue.line, type_issue.col = position
        issues.insert(0, type_issue)
        return ReadResult(None, source_map, issues)
    return ReadResult(resource, source_map, issues)


def _check_resource_type(resource: dict[str, Any], definitions: Any) -> Issue | None:
    resource_type = resource.get("resourceType")
    if resource_type is None:
        return Issue("error", "required", "The JSON object has no resourceType, so it is not a FHIR resource",
                     "Resource", ())
    if not isinstance(resource_type, str):
        return Issue("error", "structure", "resourceType must be a string naming a FHIR resource type",
                     "Resource", ("resourceType",))
    known = _resource_types(definitions)
    if known and resource_type not in known:
        return Issue("error", "structure", f"Unknown resource type '{resource_type}' (not a FHIR R4 resource)",
                     resource_type, ("resourceType",))
    return None


def _resource_types(definitions: Any) -> frozenset[str]:
    if definitions is None:
        from fhir_service.definitions import default_definitions

        definitions = default_definitions()
    return definitions.resource_types


def _parse_xml(text: str, definitions: Any) -> ReadResult:
    try:
        from fhir_service.formats.xml import XmlFormatError, parse_xml
    except ImportError:  # pragma: no cover - the XML reader ships with the package
        return _fatal("not-supported", "FHIR XML input is not supported by this build", (1, 1))
    if definitions is None:
        from fhir_service.definitions import default_definitions

        definitions = default_definitions()
    try:
        parsed = parse_xml(text, definitions)
    except XmlFormatError as exc:
        return _fatal("structure", str(exc), (exc.line or 1, exc.col or 1))
    source_map = PositionMap(parsed.positions)
    issues = list(parsed.issues)
    if parsed.resource is None:
        if not any(issue.is_error for issue in issues):
            issues.append(Issue("fatal", "structure", "The XML is not a FHIR resource", None, (), 1, 1))
        return ReadResult(None, source_map, issues)
    type_issue = _check_resource_type(parsed.resource, definitions)
    if type_issue is not None:
        issues.insert(0, type_issue)
        return ReadResult(None, source_map, issues)
    return ReadResult(parsed.resource, source_map, issues)


def _error_position(text: str, exc: orjson.JSONDecodeError) -> tuple[int, int]:
    """Line/col of a JSON syntax error (orjson's `pos` counts characters of the str it was given)."""
    return position_of_offset(text, min(max(exc.pos, 0), len(text)))


def _fatal(code: str, message: str, position: tuple[int, int]) -> ReadResult:
    line, col = position
    return ReadResult(None, None, [Issue("fatal", code, message, None, (), line, col)])
