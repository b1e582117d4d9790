"""`ValueSet.compose.include.filter` evaluated against a local CodeSystem: each filter -> a set of codes.

Operators (R4 `filter-operator`): `=`, `is-a`, `descendent-of`, `is-not-a`, `regex`, `in`, `not-in`,
`generalizes`, `exists`. The property is `concept`/`code` (the code itself and its place in the hierarchy),
`display`, `parent`/`child` (direct links), or any property defined by the CodeSystem.
"""
from __future__ import annotations

import re
from typing import Any

from fhir_service.terminology.codesystem import CompiledCodeSystem, as_texts

HIERARCHY_OPS = ("is-a", "descendent-of", "is-not-a", "generalizes")
SELF_PROPERTIES = ("concept", "code")


class FilterError(ValueError):
    """A filter this service cannot evaluate locally (unknown operator, bad regex): the result is unknown."""


def _values(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise FilterError(f"invalid regex {pattern!r} in a value set filter: {exc}") from exc


def apply_filter(cs: CompiledCodeSystem, flt: dict[str, Any]) -> set[str]:
    """The codes of `cs` that satisfy one filter."""
    prop, op, value = flt.get("property"), flt.get("op"), flt.get("value")
    if not isinstance(prop, str) or not isinstance(op, str) or not isinstance(value, str):
        raise FilterError(f"incomplete filter {flt!r} (property, op and value are required)")
    if prop in SELF_PROPERTIES:
        return _self_filter(cs, op, value)
    if op in HIERARCHY_OPS:
        raise FilterError(f"operator {op!r} applies to the hierarchy ('concept'), not to property {prop!r}")
    if prop in ("parent", "child") and op in ("=", "in"):
        wanted = set(_values(value)) if op == "in" else {value}
        links = cs.parents if prop == "parent" else cs.children
        return {code for code in cs.concepts if links.get(code, set()) & wanted}
    if prop == "display":
        return _match(cs, op, value, lambda code: [cs.concepts[code].display])
    return _match(cs, op, value, lambda code: cs.concepts[code].property_values(prop))


def _self_filter(cs: CompiledCodeSystem, op: str, value: str) -> set[str]:
    if op in ("is-a", "descendent-of", "generalizes", "is-not-a"):
        root = cs.find(value)
        code = root.code if root is not None else value
        if op == "is-a":
            return ({code} | cs.descendants(code)) if root is not None else set()
        if op == "descendent-of":
            return set(cs.descendants(code))
        if op == "generalizes":
            return ({code} | cs.ancestors(code)) if root is not None else set()
        return set(cs.concepts) - {code} - cs.descendants(code)
    if op == "=":
        found = cs.find(value)
        return {found.code} if found is not None else set()
    if op in ("in", "not-in"):
        wanted = {found.code for found in map(cs.find, _values(value)) if found is not None}
        return wanted if op == "in" else set(cs.concepts) - wanted
    if op == "regex":
        pattern = _regex(value)
        return {code for code in cs.concepts if pattern.fullmatch(code)}
    raise FilterError(f"unsupported filter operator {op!r} on the concept")


def _match(cs: CompiledCodeSystem, op: str, value: str, values_of: Any) -> set[str]:
    def texts(code: str) -> list[str]:
        return [text for v in values_of(code) if v is not None for text in as_texts(v)]

    if op == "=":
        return {code for code in cs.concepts if value in texts(code)}
    if op in ("in", "not-in"):
        wanted = set(_values(value))
        hits = {code for code in cs.concepts if wanted.intersection(texts(code))}
        return hits if op == "in" else set(cs.concepts) - hits
    if op == "regex":
        pattern = _regex(value)
        return {code for code in cs.concepts if any(pattern.fullmatch(text) for text in texts(code))}
    if op == "exists":
        present = {code for code in cs.concepts if texts(code)}
        if value == "true":
            return present
        if value == "false":
            return set(cs.concepts) - present
        raise FilterError(f"the 'exists' filter takes 'true' or 'false', not {value!r}")
    raise FilterError(f"unsupported filter operator {op!r}")
