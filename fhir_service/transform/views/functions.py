"""The two FHIRPath functions SQL-on-FHIR v2 adds for views: getResourceKey() and getReferenceKey([type]).

Why they live here: they exist only for views (the spec's "Required additional functions"), so the FHIRPath
engine stays free of them. The engine has no public registration hook yet; its `FUNCTIONS` table is the
user-invocation table fhirpathpy consults first, so `register()` adds the two entries there (once, without
replacing an entry the engine may define itself one day).

Keys: a resource's key is its logical id; a reference's key is the id it points to. Both sides therefore
compare equal for `Patient/p1`, `http://x/fhir/Patient/p1/_history/2` and, inside a Bundle, `urn:uuid:<id>`
(the case bundles give each resource its uuid as id). A fullUrl that is not the id is mapped through the
`REFERENCE_MAP` variable that the runner fills from the Bundle (fullUrl -> (type, id)).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fhirpathpy.engine.nodes import FP_Type, ResourceNode

#: Name of the evaluation variable holding the Bundle's fullUrl -> (resourceType, id) map. It has a colon,
#: so no FHIRPath %identifier can reach it.
REFERENCE_MAP = "sof:referenceMap"

_RELATIVE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def _data(item: Any) -> Any:
    return item.data if isinstance(item, ResourceNode) else item


def resource_key(ctx: dict[str, Any], inputs: list[Any]) -> list[str]:
    """getResourceKey(): the key of each input resource (its id); items that are not resources give none."""
    keys = []
    for item in inputs:
        data = _data(item)
        if isinstance(data, Mapping) and not isinstance(data, FP_Type) and "resourceType" in data:
            rid = data.get("id")
            if isinstance(rid, str) and rid:
                keys.append(rid)
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
    """getReferenceKey([type]): the key each input Reference points to; with a type, only references to it.

    A reference whose target type is unknown (urn:uuid without a Bundle map) is checked against
    `Reference.type` when present and otherwise kept: the type cannot be disproved.
    """
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
        if wanted is not None and kind is not None and kind != wanted:
            continue
        keys.append(rid)
    return keys


VIEW_FUNCTIONS: dict[str, dict[str, Any]] = {
    "getResourceKey": {"fn": resource_key, "arity": {0: []}},
    "getReferenceKey": {"fn": reference_key, "arity": {0: [], 1: ["TypeSpecifier"]}},
}


def register() -> None:
    """Make the view functions known to `fhir_service.fhirpath` (idempotent)."""
    from fhir_service.fhirpath import engine

    for name, entry in VIEW_FUNCTIONS.items():
        engine.FUNCTIONS.setdefault(name, entry)
