"""The one place the store evaluates FHIRPath: a tiny adapter so the engine can be swapped in one line.

It uses the project's engine (`fhir_service.fhirpath`: fhirpathpy with the R4 model plus the project's
fixes), with its stub resolver so `resolve() is Patient` works without fetching. If that package cannot be
imported, plain fhirpathpy stands in. Expressions are compiled once and cached.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

Evaluator = Callable[[dict[str, Any]], list[Any]]
log = logging.getLogger(__name__)


class ExpressionError(ValueError):
    """An expression the engine cannot compile."""


def _project_engine() -> Any:
    try:
        from fhir_service import fhirpath
        from fhir_service.fhirpath.search import stub_resolver

        return fhirpath, stub_resolver
    except Exception as exc:  # noqa: BLE001 - the engine is developed alongside; fall back, say why
        log.warning("fhir_service.fhirpath unavailable (%s): using fhirpathpy directly", exc)
        return None


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Evaluator:
    engine = _project_engine()
    if engine is not None:
        fhirpath, resolver = engine
        try:
            compiled = fhirpath.compile(expression)
        except Exception as exc:  # FhirPathError on syntax the engine does not know
            raise ExpressionError(f"cannot compile {expression!r}: {exc}") from None
        return lambda resource: list(compiled.evaluate(resource, resolver=resolver))

    from fhirpathpy import compile as fp_compile
    from fhirpathpy.models import models

    try:
        plain = fp_compile(expression, models["r4"])
    except Exception as exc:  # fhirpathpy raises bare Exceptions for syntax it does not know
        raise ExpressionError(f"cannot compile {expression!r}: {exc}") from None
    return lambda resource: list(plain(resource))
