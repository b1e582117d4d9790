"""FHIRPath evaluation for views: the project's engine, plus the view functions, with view semantics.

Views need three things beyond plain evaluation, and none of them may change how invariants or search
parameters evaluate elsewhere in the process; the engine's public API gives all three:
- the SQL-on-FHIR functions getResourceKey() / getReferenceKey() (functions.py), passed per evaluation
  (`functions=`) rather than added to the engine's process-wide table;
- `$this` at the top of an expression (`forEach: "name.given"` then `path: "$this"`): the focus;
- an empty focus: the null row of an empty forEachOrNull evaluates its columns on nothing (so `%rowIndex`
  is still 0 and a path gives null).
Everything else is the engine's: the parsed expression (compiled once, cached), its function table and fixes,
the R4 model, the standard %-variables, the typed results, and FhirPathError.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhirpathpy.engine.nodes import ResourceNode

from fhir_service.fhirpath import CompiledPath
from fhir_service.transform.views.functions import VIEW_FUNCTIONS

#: The focus of the null row of an empty forEachOrNull.
NOTHING: list[Any] = []

#: Where the environment keeps the resource being viewed (a colon: no FHIRPath %identifier can reach it).
RESOURCE = "sof:resource"


def environment(resource: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """The %-variables of one resource's evaluation (the view's constants, %rowIndex, ...); the engine adds its
    standard ones and %resource / %rootResource (typed as the resource) at each evaluation."""
    return {**variables, RESOURCE: resource}


def evaluate_nodes(path: CompiledPath, focus: Any, env: dict[str, Any]) -> list[Any]:
    """`path` on `focus` (a resource dict, an engine node, or NOTHING): the engine's typed result items."""
    resource = env[RESOURCE]
    return path.evaluate_nodes(focus, resource=resource, root_resource=resource, variables=env,
                               functions=VIEW_FUNCTIONS)


def is_boolean_node(item: Any) -> bool:
    data = item.data if isinstance(item, ResourceNode) else item
    return isinstance(data, bool)
