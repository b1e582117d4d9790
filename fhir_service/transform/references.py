"""References inside resources: finding and rewriting every `Reference.reference` of a resource tree.

Only the `Reference` datatype has a string-valued `reference` element in FHIR R4 and R5 (a
CodeableReference's `reference` is itself a Reference object), so the walk needs no type information.
Contained resources are walked too: their references to the container's siblings must follow a rewrite.
"""
from __future__ import annotations

import re
from typing import Any, Callable

UUID_PREFIX = "urn:uuid:"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HISTORY_RE = re.compile(r"/_history/[^/]+$")


def is_urn_uuid(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(UUID_PREFIX) and bool(UUID_RE.match(value[len(UUID_PREFIX):]))


def map_references(value: Any, rewrite: Callable[[str], str]) -> Any:
    """A copy of `value` in which each Reference.reference `r` is `rewrite(r)` (other values shared)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                out[key] = rewrite(item)
            elif isinstance(item, (dict, list)):
                out[key] = map_references(item, rewrite)
            else:
                out[key] = item
        return out
    if isinstance(value, list):
        return [map_references(item, rewrite) if isinstance(item, (dict, list)) else item for item in value]
    return value


def references_in(value: Any) -> list[str]:
    """Every Reference.reference string in `value`, in document order."""
    found: list[str] = []
    _collect(value, found)
    return found


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                found.append(item)
            elif isinstance(item, (dict, list)):
                _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


def relative_form(full_url: str, resource_type: str, id: str | None) -> str | None:
    """`Type/id` of an entry when its fullUrl names it RESTfully (or it has no such fullUrl but an id)."""
    if not id:
        return None
    if full_url and not full_url.startswith("urn:") and not full_url.endswith(f"/{resource_type}/{id}"):
        return None
    return f"{resource_type}/{id}"


def without_history(reference: str) -> str:
    return HISTORY_RE.sub("", reference)
