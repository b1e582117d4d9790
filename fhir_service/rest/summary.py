"""`_summary` and `_elements`: return a subset of each resource, marked with the SUBSETTED tag.

Which top-level elements are "summary" or mandatory comes from the type's StructureDefinition snapshot
(`isSummary`, `min`), computed once per type.
"""
from __future__ import annotations

from typing import Any

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "Resource encoded in summary mode"}
ALWAYS = ("resourceType", "id", "meta")


def _top_level(definitions: Any, resource_type: str) -> tuple[set[str], set[str]]:
    """(summary element names, mandatory element names) of a type; choice `value[x]` keeps its stem."""
    def build() -> tuple[set[str], set[str]]:
        sd = definitions.structure_definition(resource_type)
        summary, mandatory = set(), set()
        for element in (sd or {}).get("snapshot", {}).get("element", []):
            path = element.get("path", "")
            parts = path.split(".")
            if len(parts) != 2:
                continue
            name = parts[1].removesuffix("[x]")
            if element.get("isSummary"):
                summary.add(name)
            if (element.get("min") or 0) > 0:
                mandatory.add(name)
        return summary, mandatory
    return definitions.memo(("rest-summary", resource_type), build)


def _keep(resource: dict[str, Any], names: set[str]) -> dict[str, Any]:
    def wanted(key: str) -> bool:
        stem = key.lstrip("_")
        return key in ALWAYS or stem in names or any(stem.startswith(n) and stem[len(n):][:1].isupper()
                                                    for n in names)
    return {k: v for k, v in resource.items() if wanted(k)}


def _mark(resource: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """Tag the subset as SUBSETTED, unless nothing was left out (then it is the whole resource)."""
    if len(resource) == len(original):
        return resource
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [*(meta.get("tag") or []), SUBSETTED]
    return {**resource, "meta": meta}


def subset(resource: dict[str, Any], summary: str | None, elements: list[str] | None,
           definitions: Any) -> dict[str, Any]:
    """The resource as `_summary`/`_elements` asks; unchanged when neither applies."""
    resource_type = resource.get("resourceType", "")
    if summary in (None, "false", "count") and not elements:
        return resource
    summary_names, mandatory = _top_level(definitions, resource_type)
    if summary == "true":
        return _mark(_keep(resource, summary_names), resource)
    if summary == "text":
        return _mark(_keep(resource, {"text"} | mandatory), resource)
    if summary == "data":
        return _mark({k: v for k, v in resource.items() if k != "text"}, resource)
    names = {e.split(".")[-1] if e.startswith(resource_type + ".") else e for e in elements or []}
    return _mark(_keep(resource, names | mandatory), resource)
