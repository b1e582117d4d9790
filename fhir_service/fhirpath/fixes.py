"""Targeted corrections to fhirpathpy's behaviour, each one named, documented and unit-tested.

Two kinds:
- replacement functions, `FIXED_FUNCTIONS`: entries of fhirpathpy's invocation-registry format that our
  evaluation context passes as its user-invocation table, which fhirpathpy consults before its own registry.
  They change nothing for other users of fhirpathpy in the process.
- `apply()`: the few fixes that cannot be expressed as a function (evaluators, node types). Installed once.
"""
from __future__ import annotations

from typing import Any

from fhir_service.fhirpath.errors import FhirPathError

_applied = False


def single_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """single(): more than one item is an error (fhirpathpy returns an {"$status": "error"} dict instead)."""
    if len(inputs) > 1:
        raise FhirPathError(f"single() expects at most one item, got {len(inputs)}")
    return inputs


FIXED_FUNCTIONS: dict[str, dict[str, Any]] = {
    "single": {"fn": single_fn},
}


def apply() -> None:
    """Install the fixes that patch fhirpathpy's tables (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
