"""The FHIRPath functions views need beyond the engine's: SQL-on-FHIR v2's getResourceKey() and
getReferenceKey([type]), and join() with the view semantics for an empty input.

Why here: they exist for views only (the spec's "required additional functions"), so they sit in the view
evaluation's own function table (evaluation.py) and change nothing for invariants or search parameters.

Keys are `Type/id` (the form the SQL-on-FHIR spec gives): unique across resource types, and equal on both
sides of a join for `Patient/p1`, `http://x/fhir/Patient/p1/_history/2` and, inside a Bundle, a
`urn:uuid:` fullUrl, which the runner maps to its resource through the `REFERENCE_MAP` variable
(fullUrl -> (type, id)) built from the Bundle. A reference that cannot be tied to a type and id (a
`#contained` one, a urn:uuid outside any known Bundle, an identifier-only one) has no key.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fhirpathpy.engine.nodes import FP_Type, ResourceNode

from fhir_service.fhirpath import FhirPathError

#: Name of the evaluation variable holding the Bundle's fullUrl -> (resourceType, id) map. It has a colon,
#: so no FHIRPath %identifier can reach it.
REFERENCE_MAP = "sof:referenceMap"

_RELATIVE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def _data(item: Any) -> Any:
    return item.data if isinstance(item, ResourceNode) else item


def resource_key(ctx: dict[str, Any], inputs: list[Any]) -> list[str]:
    """getResourceKey(): `Type/id` of each input resource; items that are not resources with an id give none."""
    keys = []
    for item in inputs:
        data = _data(item)
        if isinstance(data, Mapping) and not isinstance(data, FP_Type):
            kind, rid = data.get("resourceType"), data.get("id")
            if isinstance(kind, str) and isinstance(rid, str) and rid:
                keys.append(f"{kind}/{rid}")
    return keys


def reference_target(reference: str, reference_map: Mapping[str, tuple[str, str]] | None
                     ) -> tuple[str | None, str] | None:
    """(resourceType or None when unknown, id) of a literal reference string; None for `#contained` and junk."""
    if reference_map and reference in reference_map:
        kind, rid = reference_map[reference]
        return kind, rid
    if reference.startswith("urn:uuid:"):
        return None, reference[len("urn:uuid:"):]
    if reference.startswith("urn:oid:") or reference.startswith("#"):
        return None
    match = _RELATIVE.search(reference)
    if match is None:
        return None
    return match.group(1), match.group(2)


def reference_key(ctx: dict[str, Any], inputs: list[Any], type_info: Any = None) -> list[str]:
    """getReferenceKey([type]): the key of the resource each input Reference points to; with a type, only
    references to resources of exactly that type. A urn:uuid outside the Bundle map counts as a reference
    of `Reference.type` when that is given, and has no key otherwise."""
    wanted = getattr(type_info, "name", None)
    variables = ctx.get("vars") or {}
    reference_map = variables.get(REFERENCE_MAP) if isinstance(variables, Mapping) else None
    keys = []
    for item in inputs:
        data = _data(item)
        if not isinstance(data, Mapping) or isinstance(data, FP_Type):
            continue
        reference = data.get("reference")
        if not isinstance(reference, str):
            continue
        target = reference_target(reference, reference_map)
        if target is None:
            continue
        kind, rid = target
        if kind is None and isinstance(data.get("type"), str):
            kind = data["type"]
        if kind is None or (wanted is not None and kind != wanted):
            continue
        keys.append(f"{kind}/{rid}")
    return keys


def join(ctx: dict[str, Any], inputs: list[Any], separator: str = "") -> list[str]:
    """join([separator]): the input strings joined; an empty input gives the empty string (as the
    SQL-on-FHIR suite expects: a `given` column of a patient without names is '' rather than null)."""
    values = []
    for item in inputs:
        data = _data(item)
        if not isinstance(data, str):
            raise FhirPathError(f"join() expects strings, got {type(data).__name__}")
        values.append(data)
    return [separator.join(values)]


VIEW_FUNCTIONS: dict[str, dict[str, Any]] = {
    "getResourceKey": {"fn": resource_key, "arity": {0: []}},
    "getReferenceKey": {"fn": reference_key, "arity": {0: [], 1: ["TypeSpecifier"]}},
    "join": {"fn": join, "arity": {0: [], 1: ["String"]}},
}
