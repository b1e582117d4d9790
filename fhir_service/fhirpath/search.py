"""Search-parameter value extraction: SearchParameter.expression evaluated on a resource, as JSON values.

Like HAPI's extractor, resolve() here does not fetch anything: a reference "Patient/123" (relative or absolute)
resolves to a stub `{"resourceType": "Patient", "id": "123"}`, which is all that expressions such as
`Observation.subject.where(resolve() is Patient)` need to decide on the target type. Contained ("#id") and
in-Bundle references resolve to the real resource. A caller with a repository can pass its own resolver.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from fhirpathpy.engine.nodes import ResourceNode

from fhir_service.fhirpath.engine import R4_MODEL, Resolver, compile, to_json

_REFERENCE_RE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def stub_resolver(reference: str) -> dict[str, Any] | None:
    """A placeholder resource for a literal reference `[base/]Type/id`; None for anything else."""
    match = _REFERENCE_RE.search(reference)
    if not match:
        return None
    return {"resourceType": match.group(1), "id": match.group(2)}


def extract(resource: Mapping[str, Any], expression: str, *, resolver: Resolver | None = None) -> list[Any]:
    """The JSON values `expression` selects in `resource` (elements are returned as is, not copied).

    Raises FhirPathError when the expression is invalid or fails on this resource.
    """
    return compile(expression).evaluate(resource, resolver=resolver or stub_resolver)


def type_name(node: Any) -> str | None:
    """The FHIR type of an engine node ("CodeableConcept", "dateTime", "Period", ...), when known."""
    if not isinstance(node, ResourceNode) or node.path is None:
        return None
    path = node.path
    if isinstance(node.data, Mapping) and "resourceType" in node.data:
        return str(node.data["resourceType"])
    if path.startswith("System."):
        return path[len("System."):].lower() if path != "System.String" else "string"
    if "." in path:  # a backbone element path such as Observation.component
        return "BackboneElement" if path not in R4_MODEL["path2Type"] else R4_MODEL["path2Type"][path]
    return path


def extract_typed(resource: Mapping[str, Any], expression: str, *,
                  resolver: Resolver | None = None) -> list[tuple[str | None, Any]]:
    """Like `extract`, with each value's FHIR type: what an index needs to tell a CodeableConcept from a
    Coding, or a Period from a dateTime. Computed values carry None (or their System type)."""
    nodes = compile(expression).evaluate_nodes(resource, resolver=resolver or stub_resolver)
    return [(type_name(node), to_json(node)) for node in nodes]


def extract_all(resource: Mapping[str, Any], expressions: Iterable[str]) -> dict[str, list[Any]]:
    """Every expression's values on one resource (one compile per distinct expression, cached)."""
    return {expression: extract(resource, expression) for expression in expressions}
