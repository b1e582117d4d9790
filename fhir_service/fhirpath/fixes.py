"""Targeted corrections to fhirpathpy's behaviour, each one named, documented and unit-tested.

Two kinds:
- replacement functions, `FIXED_FUNCTIONS`: entries of fhirpathpy's invocation-registry format that our
  evaluation context passes as its user-invocation table, which fhirpathpy consults before its own registry.
  They change nothing for other users of fhirpathpy in the process.
- `apply()`: the few fixes that cannot be expressed as a function (literal evaluation, parameter kinds, type
  names of values). Installed once, on import of the engine.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import fhirpathpy.engine as fp_engine
from fhirpathpy.engine import util
from fhirpathpy.engine.evaluators import evaluators
from fhirpathpy.engine.nodes import FP_DateTime, TypeInfo

from fhir_service.fhirpath.errors import FhirPathError
from fhir_service.fhirpath.spec_functions import SortKey

_applied = False


def single_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """single(): more than one item is an error (fhirpathpy returns an {"$status": "error"} dict instead)."""
    if len(inputs) > 1:
        raise FhirPathError(f"single() expects at most one item, got {len(inputs)}")
    return inputs


FIXED_FUNCTIONS: dict[str, dict[str, Any]] = {
    "single": {"fn": single_fn},
}


def number_literal(ctx: dict[str, Any], parent_data: Any, node: dict[str, Any]) -> list[Any]:
    """`1.0` is a Decimal with one decimal place, not the Integer 1 (fhirpathpy folds integral decimals to int,
    so `1.0.is(Decimal)` was false and `1.0.toString()` gave '1')."""
    text = node["text"]
    return [Decimal(text)] if "." in text else [int(text)]


def _make_param_with_sort_keys(original: Any) -> Any:
    """Adds the parameter kind "SortKey" (used by sort()): the argument's expression plus its direction.

    A leading unary minus on a sort key means descending, whatever the key's type (`sort(-family)` on strings),
    so it must be read from the syntax tree rather than evaluated.
    """

    def make_param(ctx: dict[str, Any], parent_data: Any, node_type: Any, param: dict[str, Any]) -> Any:
        if node_type != "SortKey":
            return original(ctx, parent_data, node_type, param)
        descending = False
        expression = param
        if param.get("type") == "PolarityExpression" and param.get("terminalNodeText") == ["-"]:
            descending = True
            expression = param["children"][0]

        def evaluate(data: Any) -> list[Any]:
            ctx["$this"] = util.arraify(data)
            return fp_engine.do_eval(ctx, ctx["$this"], expression)

        return SortKey(evaluate, descending)

    make_param.__wrapped__ = original  # type: ignore[attr-defined]
    return make_param


def _type_names_dates(original: Any) -> Any:
    """A date literal/result (no time part) is of type System.Date, not DateTime (`@2015.is(Date)`)."""

    def create_by_value_in_namespace(namespace: str, value: Any) -> TypeInfo:
        info = original(namespace, value)
        if isinstance(value, FP_DateTime) and "T" not in (value.asStr or ""):
            info.name = "Date" if namespace == TypeInfo.System else "date"
        return info

    return staticmethod(create_by_value_in_namespace)


def apply() -> None:
    """Install the fixes that patch fhirpathpy's tables (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    evaluators["NumberLiteral"] = number_literal
    fp_engine.make_param = _make_param_with_sort_keys(fp_engine.make_param)
    TypeInfo.create_by_value_in_namespace = _type_names_dates(TypeInfo.create_by_value_in_namespace)
