"""Is this JSON parseable as FHIR R4? The check every write gets (HTTP 400 when not), like a FHIR parser.

What a parser rejects: unknown properties, a JSON array where one value is allowed (or the reverse), a JSON
type that does not fit the primitive (`"gender": 5`, `"active": "true"`), malformed date/dateTime/instant/
integer values, and contained resources of unknown types. What it does NOT judge (that is validation:
`$validate` and validate-on-write): cardinality, invariants, terminology, profiles, unknown extensions.
Driven by the StructureDefinitions; element tables are built once per type.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Iterator

from fhir_service.store.dates import DateFormatError, date_range
from fhir_service.validation.outcome import Issue

MAX_ISSUES = 20
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_DATETIME = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?)?)?$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?$")
INTEGER_TYPES = {"integer", "unsignedInt", "positiveInt", "integer64"}
SYSTEM_STRING = "http://hl7.org/fhirpath/System.String"

# name -> (is_array, [type codes], content reference path or None)
Children = dict[str, tuple[bool, list[str], str | None]]


def _tables(definitions: Any, type_name: str) -> dict[str, Children] | None:
    """Per element path of one type: its children (choice elements listed under every JSON name)."""
    def build() -> dict[str, Children] | None:
        sd = definitions.structure_definition(type_name)
        if not sd:
            return None
        tables: dict[str, Children] = {}
        for element in sd.get("snapshot", {}).get("element", []):
            path = element.get("path", "")
            if "." not in path or ":" in element.get("id", "").split(".")[-1]:
                continue  # the root, and slices (their base element is listed already)
            parent, name = path.rsplit(".", 1)
            is_array = element.get("max") not in ("0", "1", None) or bool(element.get("base", {}).get("max", "1")
                                                                           not in ("0", "1"))
            codes = [t.get("code", "") for t in element.get("type", [])]
            reference = element.get("contentReference", "").lstrip("#") or None
            children = tables.setdefault(parent, {})
            if name.endswith("[x]"):
                stem = name[:-3]
                for code in codes:
                    children[stem + code[0].upper() + code[1:]] = (False, [code], None)
            else:
                children[name] = (is_array, codes, reference)
        return tables
    return definitions.memo(("rest-shape", type_name), build)


def check(resource: Any, definitions: Any) -> list[Issue]:
    """The parse-level problems of a resource (empty when a FHIR parser would accept it)."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return [Issue("error", "structure", "not a FHIR resource (a JSON object with resourceType)")]
    if _valid_resource(resource, definitions):  # the usual case, without building any issue or path
        return []
    issues = []
    for issue in _resource(resource, resource["resourceType"], definitions):
        issues.append(issue)
        if len(issues) >= MAX_ISSUES:
            break
    return issues


def _resource(resource: dict[str, Any], where: str, definitions: Any) -> Iterator[Issue]:
    resource_type = resource.get("resourceType")
    tables = _tables(definitions, resource_type) if isinstance(resource_type, str) else None
    if tables is None or resource_type not in definitions.resource_types:
        yield Issue("error", "structure", f"unknown resource type {resource_type!r}", where)
        return
    yield from _object(resource, resource_type, tables, resource_type, where, definitions, is_resource=True)


def _object(value: dict[str, Any], path: str, tables: dict[str, Children], type_name: str, where: str,
            definitions: Any, is_resource: bool = False) -> Iterator[Issue]:
    children = tables.get(path, {})
    for key, item in value.items():
        if is_resource and key == "resourceType":
            continue
        if key == "fhir_comments":
            continue
        name = key[1:] if key.startswith("_") else key
        spec = children.get(name)
        here = f"{where}.{name}"
        if spec is None:
            yield Issue("error", "structure", f"unrecognized property {key!r}", here)
            continue
        is_array, codes, reference = spec
        if key.startswith("_"):  # a primitive's id/extensions
            if not isinstance(item, (dict, list)):
                yield Issue("error", "structure", f"{key!r} must be an object (or an array of them)", here)
            continue
        if is_array != isinstance(item, list):
            kind = "an array" if is_array else "a single value, not an array"
            yield Issue("error", "structure", f"{name!r} must be {kind}", here)
            continue
        items = item if is_array else [item]
        for index, element in enumerate(items):
            at = f"{here}[{index}]" if is_array else here
            if element is None:
                if not is_array or f"_{name}" not in value:
                    yield Issue("error", "structure", f"{name!r} has a null value", at)
                continue
            yield from _value(element, codes, reference, f"{path}.{name}", tables, type_name, at, definitions)


def _value(value: Any, codes: list[str], reference: str | None, path: str, tables: dict[str, Children],
           type_name: str, where: str, definitions: Any) -> Iterator[Issue]:
    if reference:  # e.g. Questionnaire.item.item -> Questionnaire.item
        if not isinstance(value, dict):
            yield Issue("error", "structure", "must be an object", where)
            return
        owner = reference.split(".")[0]
        owner_tables = tables if owner == type_name else _tables(definitions, owner)
        yield from _object(value, reference, owner_tables or {}, owner, where, definitions)
        return
    code = codes[0] if len(codes) == 1 else ""
    if code in ("BackboneElement", "Element") or (not code and isinstance(value, dict)):
        if not isinstance(value, dict):
            yield Issue("error", "structure", "must be an object", where)
            return
        yield from _object(value, path, tables, type_name, where, definitions)
        return
    if code == "Resource":
        if not isinstance(value, dict):
            yield Issue("error", "structure", "must be a resource", where)
            return
        yield from _resource(value, where, definitions)
        return
    if code and code[0].isupper():  # a complex datatype
        if not isinstance(value, dict):
            yield Issue("error", "structure", f"must be an object ({code})", where)
            return
        datatype = _tables(definitions, code)
        if datatype is None:
            return
        yield from _object(value, code, datatype, code, where, definitions)
        return
    yield from _primitive(value, code, where)


def _primitive(value: Any, code: str, where: str) -> Iterator[Issue]:
    if code == "boolean":
        if not isinstance(value, bool):
            yield Issue("error", "structure", f"must be a JSON boolean, not {type(value).__name__}", where)
    elif code in INTEGER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            yield Issue("error", "structure" if not isinstance(value, (Decimal, float)) else "value",
                        f"must be a JSON integer, not {value!r}", where)
        elif code == "positiveInt" and value < 1 or code == "unsignedInt" and value < 0:
            yield Issue("error", "value", f"{value} is not a valid {code}", where)
        elif code != "integer64" and not -(1 << 31) <= value < (1 << 31):
            yield Issue("error", "value", f"{value} is outside the 32-bit range of {code}", where)
    elif code == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            yield Issue("error", "structure", f"must be a JSON number, not {type(value).__name__}", where)
    else:
        if not isinstance(value, str):
            yield Issue("error", "structure", f"must be a JSON string, not {type(value).__name__}", where)
            return
        pattern = {"date": _DATE, "dateTime": _DATETIME, "instant": _INSTANT, "time": _TIME}.get(code)
        if pattern is not None:
            if not pattern.match(value):
                yield Issue("error", "value", f"{value!r} is not a valid {code}", where)
            elif code != "time":
                try:
                    date_range(value)
                except DateFormatError:
                    yield Issue("error", "value", f"{value!r} is not a valid {code}", where)


# -- the same rules as a yes/no walk: every write takes it; only a failing resource is walked again above to
#    say what and where. Each branch mirrors one of the generators; tests/rest/test_shape.py checks they agree.
def _valid_resource(resource: dict[str, Any], definitions: Any) -> bool:
    resource_type = resource.get("resourceType")
    tables = _tables(definitions, resource_type) if isinstance(resource_type, str) else None
    if tables is None or resource_type not in definitions.resource_types:
        return False
    return _valid_object(resource, resource_type, tables, resource_type, definitions, True)


def _valid_object(value: dict[str, Any], path: str, tables: dict[str, Children], type_name: str,
                  definitions: Any, is_resource: bool = False) -> bool:
    children = tables.get(path, {})
    for key, item in value.items():
        if is_resource and key == "resourceType" or key == "fhir_comments":
            continue
        shadow = key.startswith("_")
        name = key[1:] if shadow else key
        spec = children.get(name)
        if spec is None:
            return False
        if shadow:
            if not isinstance(item, (dict, list)):
                return False
            continue
        is_array, codes, reference = spec
        if is_array != isinstance(item, list):
            return False
        child = f"{path}.{name}"
        for element in (item if is_array else (item,)):
            if element is None:
                if not is_array or f"_{name}" not in value:
                    return False
                continue
            if not _valid_value(element, codes, reference, child, tables, type_name, definitions):
                return False
    return True


def _valid_value(value: Any, codes: list[str], reference: str | None, path: str, tables: dict[str, Children],
                 type_name: str, definitions: Any) -> bool:
    if reference:
        if not isinstance(value, dict):
            return False
        owner = reference.split(".")[0]
        owner_tables = tables if owner == type_name else _tables(definitions, owner)
        return _valid_object(value, reference, owner_tables or {}, owner, definitions)
    code = codes[0] if len(codes) == 1 else ""
    if code in ("BackboneElement", "Element") or (not code and isinstance(value, dict)):
        return isinstance(value, dict) and _valid_object(value, path, tables, type_name, definitions)
    if code == "Resource":
        return isinstance(value, dict) and _valid_resource(value, definitions)
    if code and code[0].isupper():
        if not isinstance(value, dict):
            return False
        datatype = _tables(definitions, code)
        return datatype is None or _valid_object(value, code, datatype, code, definitions)
    return next(_primitive(value, code, ""), None) is None
