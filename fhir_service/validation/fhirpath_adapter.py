"""The one place the validator touches a FHIRPath engine: compile an invariant once, evaluate it at an element.

Why an adapter: the project's engine (`fhir_service.fhirpath`) owns FHIRPath semantics (typed focus, %resource,
%rootResource, resolve()); this module only narrows it to what invariants need. There is no fallback engine:
one with other semantics would silently change what validation reports.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from fhir_service import fhirpath as _fp

Resolver = Callable[[str], "Mapping[str, Any] | None"]

_compile = _fp.compile
_is_true = _fp.is_true
EvaluationError: type[Exception] = _fp.FhirPathError


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
