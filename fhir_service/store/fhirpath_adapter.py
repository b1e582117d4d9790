"""The one place the store evaluates FHIRPath: a tiny adapter so the engine can be swapped in one line.

It uses the project's engine (`fhir_service.fhirpath`: fhirpathpy with the R4 model plus the project's
fixes), with its stub resolver so `resolve() is Patient` works without fetching; there is no fallback engine,
whose other semantics would silently change the index. Expressions are compiled once and cached.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from fhir_service import fhirpath
from fhir_service.fhirpath.search import stub_resolver

Evaluator = Callable[[dict[str, Any]], list[Any]]


class ExpressionError(ValueError):
    """An expression the engine cannot compile."""


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Evaluator:
    """The SearchParameter expression compiled once, evaluated with the stub resolver (`resolve() is Patient`
    answers from the reference's type, without fetching)."""
    try:
        compiled = fhirpath.compile(expression)
    except fhirpath.FhirPathError as exc:
        raise ExpressionError(f"cannot compile {expression!r}: {exc}") from None
    return lambda resource: list(compiled.evaluate(resource, resolver=stub_resolver))
