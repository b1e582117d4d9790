"""The one place the validator touches a FHIRPath engine: compile an invariant once, evaluate it at an element.

Why an adapter: the project's engine (`fhir_service.fhirpath`) owns FHIRPath semantics (typed focus, %resource,
%rootResource, resolve()); this module only narrows it to what invariants need, and falls back to fhirpathpy
directly if the project's engine cannot be imported, so validation never depends on import order.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from fhirpathpy.engine.nodes import ResourceNode

Resolver = Callable[[str], "Mapping[str, Any] | None"]

try:  # the project's engine
    from fhir_service import fhirpath as _fp

    def _compile(expression: str) -> Any:
        return _fp.compile(expression)

    _is_true = _fp.is_true
    EvaluationError: type[Exception] = _fp.FhirPathError
    _PROJECT_ENGINE = True
except Exception:  # noqa: BLE001 - fall back to bare fhirpathpy
    import fhirpathpy
    from fhirpathpy.models import models

    _MODEL = models["r4"]
    EvaluationError = Exception
    _PROJECT_ENGINE = False

    class _Bare:
        def __init__(self, expression: str) -> None:
            self.expression = expression
            self._fn = fhirpathpy.compile(expression, _MODEL)

        def evaluate(self, node: Any, *, resource: Any = None, root_resource: Any = None,
                     context_type: str | None = None, variables: Mapping[str, Any] | None = None,
                     resolver: Resolver | None = None) -> list[Any]:
            focus = node
            if context_type and not (isinstance(node, dict) and "resourceType" in node):
                focus = ResourceNode.create_node(node, context_type.replace("[x]", ""))
            env = {"resource": resource if resource is not None else node,
                   "rootResource": root_resource if root_resource is not None else resource}
            env.update(variables or {})
            return self._fn(focus, env)

    def _compile(expression: str) -> Any:
        return _Bare(expression)

    def _is_true(result: list[Any]) -> bool:
        if not result:
            return False
        if len(result) == 1 and isinstance(result[0], bool):
            return result[0]
        return True


class CompiledExpression:
    """An invariant expression parsed once; `holds(...)` evaluates it with the element as focus."""

    __slots__ = ("expression", "_path")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._path = _compile(expression)

    def holds(self, node: Any, *, resource: Any, root_resource: Any, context_type: str | None,
              resolver: Resolver | None = None) -> bool:
        """True when the invariant is satisfied: a true result (an empty result is a violation, as in the HL7 Java
        validator), except for expressions using functions this engine answers with empty when it cannot decide
        (memberOf, conformsTo: they need terminology or profiles), where empty is not held against the resource.

        Raises EvaluationError (or RecursionError) when the engine cannot evaluate it.
        """
        # the engine types %resource / %rootResource from their resourceType
        kwargs: dict[str, Any] = {"resource": resource, "root_resource": root_resource,
                                  "context_type": context_type}
        if resolver is not None:
            kwargs["resolver"] = resolver
        return satisfied(self._path.evaluate(node, **kwargs), self.expression)

    def evaluate(self, node: Any, *, resource: Any = None, root_resource: Any = None,
                 context_type: str | None = None, resolver: Resolver | None = None) -> list[Any]:
        if resolver is None:
            return self._path.evaluate(node, resource=resource, root_resource=root_resource,
                                       context_type=context_type)
        return self._path.evaluate(node, resource=resource, root_resource=root_resource, context_type=context_type,
                                   resolver=resolver)


UNDECIDABLE = ("memberOf(", "conformsTo(")


def satisfied(result: list[Any], expression: str = "") -> bool:
    """Whether an invariant's result counts as satisfied (see CompiledExpression.holds)."""
    if not result and any(name in expression for name in UNDECIDABLE):
        return True
    return _is_true(result)


def compile_expression(expression: str) -> CompiledExpression:
    return CompiledExpression(expression)
