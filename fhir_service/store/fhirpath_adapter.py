"""The one place the store evaluates FHIRPath: a tiny adapter so the engine can be swapped in one line.

Until the project's own `fhir_service.fhirpath` engine lands this wraps fhirpathpy (R4 model, so choice
types like `Observation.value as Quantity` resolve). Expressions are compiled once and cached.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

Evaluator = Callable[[dict[str, Any]], list[Any]]


class ExpressionError(ValueError):
    """An expression the engine cannot compile."""


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Evaluator:
    from fhirpathpy import compile as fp_compile
    from fhirpathpy.models import models

    try:
        compiled = fp_compile(expression, models["r4"])
    except Exception as exc:  # fhirpathpy raises bare Exceptions for syntax it does not know
        raise ExpressionError(f"cannot compile {expression!r}: {exc}") from None

    def evaluate(resource: dict[str, Any]) -> list[Any]:
        return list(compiled(resource))

    return evaluate
