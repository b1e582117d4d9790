"""dom-3, natively: a contained resource must be referenced from elsewhere in its container (or refer to it).

Why native: the core FHIRPath of dom-3 walks every descendant of the resource once per contained resource, and it
misses references that only the narrative makes (`<img src="#pic">`, `<a href="#doc">`), which the HL7 validator
counts. Here one pass over the container collects every local reference (`#id` strings in any element, and
href/src in narrative XHTML).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fhir_service.validation.outcome import Location

if TYPE_CHECKING:
    from fhir_service.validation.walker import Walk

_NARRATIVE_REF = re.compile(r"""(?:href|src)\s*=\s*["']#([^"']+)["']""")


def _local_references(value: Any, found: set[str]) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and item.startswith("#"):
            found.add(item[1:])
        if isinstance(item, str) and "<" in item and "#" in item:
            found.update(_NARRATIVE_REF.findall(item))


def check(walk: "Walk", resource: dict[str, Any], expr: str, loc: Location) -> None:
    contained = resource.get("contained")
    if not isinstance(contained, list) or not contained:
        return
    outside = {k: v for k, v in resource.items() if k != "contained"}
    referenced: set[str] = set()
    _local_references(outside, referenced)
    per_item: list[set[str]] = []
    for item in contained:
        refs: set[str] = set()
        _local_references(item, refs)
        per_item.append(refs)
    for i, item in enumerate(contained):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        rid = item["id"]
        from_others = any(rid in refs for j, refs in enumerate(per_item) if j != i)
        refers_to_container = "" in per_item[i]
        if rid not in referenced and not from_others and not refers_to_container:
            walk.issue("error", "invariant", f"The contained resource '{rid}' is not referenced to from elsewhere in "
                       "the containing resource nor does it refer to the containing resource (dom-3)",
                       f"{expr}.contained[{i}]", loc + ("contained", i), rule="dom-3")
