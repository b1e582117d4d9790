"""FHIRPath evaluation for views: the project's engine, plus the view functions, with view semantics.

Why not `CompiledPath.evaluate` alone: views need three things that engine entry point does not offer today,
and none of them may change how invariants or search parameters evaluate elsewhere in the process:
- the SQL-on-FHIR functions getResourceKey() / getReferenceKey() (functions.py), in a function table of the
  view's own rather than the engine's process-wide one;
- `$this` at the top of an expression (`forEach: "name.given"` then `path: "$this"`), which fhirpathpy only
  sets inside where()/select(); here it is the focus;
- an empty focus: the null row of an empty forEachOrNull evaluates its columns on nothing (so `%rowIndex`
  is still 0 and a path gives null).
It reuses everything else of `fhir_service.fhirpath`: the parsed expression (compiled once, cached), its
function table and fixes, the R4 model, the %-variable families, the typed results, and FhirPathError.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhirpathpy.engine import do_eval
from fhirpathpy.engine.invocations.constants import constants
from fhirpathpy.engine.nodes import ResourceNode

from fhir_service.fhirpath import CompiledPath, FhirPathError
from fhir_service.fhirpath import engine
from fhir_service.transform.views.functions import VIEW_FUNCTIONS

#: The engine's table with the view functions on top (built once; the engine's table is not changed).
VIEW_TABLE: dict[str, dict[str, Any]] = {**engine.FUNCTIONS, **VIEW_FUNCTIONS}

#: The focus of the null row of an empty forEachOrNull.
NOTHING: list[Any] = []


def environment(resource: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """The %-variables of one resource's evaluation: the engine's standard ones and the view's."""
    env = engine._Environment()  # noqa: SLF001 - the engine's %vs-/%ext- families; no public constructor
    env["ucum"] = engine.UCUM
    env["sct"] = engine.SNOMED
    env["loinc"] = engine.LOINC
    env["resource"] = resource
    env["rootResource"] = resource
    env.update(variables)
    return env


def evaluate_nodes(path: CompiledPath, focus: Any, env: dict[str, Any]) -> list[Any]:
    """`path` on `focus` (a resource dict, an engine node, or NOTHING): the engine's typed result items."""
    data_root = focus if isinstance(focus, list) else [focus]
    env["context"] = focus
    ctx: dict[str, Any] = {
        "dataRoot": data_root,
        "$this": data_root,
        "vars": env,
        "model": engine.R4_MODEL,
        "userInvocationTable": VIEW_TABLE,
        "resolver": None,
    }
    try:
        constants.reset()
        result = do_eval(ctx, data_root, path._ast)  # noqa: SLF001 - parsed once by fhirpath.compile
    except FhirPathError:
        raise
    except RecursionError as exc:
        raise FhirPathError(f"FHIRPath evaluation too deep: {path.expression!r}", path.expression) from exc
    except Exception as exc:  # fhirpathpy raises bare Exception/ValueError/TypeError/KeyError
        detail = str(exc)
        raise FhirPathError(f"FHIRPath evaluation of {path.expression!r} failed: "
                            f"{detail[:300] + '...' if len(detail) > 300 else detail}", path.expression) from exc
    return [item for item in result if not engine._is_extension_only(item)]  # noqa: SLF001


def is_boolean_node(item: Any) -> bool:
    data = item.data if isinstance(item, ResourceNode) else item
    return isinstance(data, bool)
