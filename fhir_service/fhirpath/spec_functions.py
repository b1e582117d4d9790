"""FHIRPath functions that fhirpathpy 2.2.4 does not implement (most from FHIRPath 2.0 / the R4 test suite):
lowBoundary, highBoundary, precision, sort, matchesFull, escape, unescape, comparable.

Entries use fhirpathpy's registry format and are passed as the user-invocation table (see engine.py).
"""
from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import cmp_to_key
from typing import Any

from fhirpathpy.engine.nodes import FP_DateTime, FP_Quantity, FP_Time, ResourceNode

from fhir_service.fhirpath import temporal, ucum
from fhir_service.fhirpath.errors import FhirPathError
from fhir_service.fhirpath.values import Qty, value_of

_TEMPORAL_PATHS = {"date": "date", "dateTime": "dateTime", "instant": "dateTime", "time": "time"}


def data_of(item: Any) -> Any:
    data = item.data if isinstance(item, ResourceNode) else item
    return Decimal(str(data)) if isinstance(data, float) else data


def temporal_of(item: Any) -> temporal.Temporal | None:
    """The date/time value of an item: a FHIRPath literal/result, or a date/dateTime/instant/time element."""
    if isinstance(item, (FP_DateTime, FP_Time)):
        return temporal.from_value(item)
    if isinstance(item, ResourceNode) and isinstance(item.data, str) and item.path in _TEMPORAL_PATHS:
        return temporal.parse(item.data, _TEMPORAL_PATHS[item.path])
    return None


def _singleton(inputs: list[Any], name: str) -> Any | None:
    if not inputs:
        return None
    if len(inputs) > 1:
        raise FhirPathError(f"{name}() expects a single item, got {len(inputs)}")
    return inputs[0]


# ------------------------------------------------------------------------------------------------ boundaries

def _decimal_places(value: Decimal | int) -> int:
    return max(-Decimal(value).as_tuple().exponent, 0) if isinstance(value, Decimal) else 0  # type: ignore


def decimal_boundary(value: Decimal | int, precision: int | None, high: bool) -> Decimal | None:
    """The least/greatest decimal that rounds to `value` at its own precision, shown with `precision` digits
    (default 8; outside 0..31 there is no answer). E.g. 1.587 -> low 1.5865, high 1.5875."""
    digits = 8 if precision is None else int(precision)
    if digits < 0 or digits > 31:
        return None
    own = _decimal_places(value)
    half = Decimal(5).scaleb(-(own + 1))
    bound = Decimal(value) + half if high else Decimal(value) - half
    quantum = Decimal(1).scaleb(-digits)
    if digits > own:
        return bound.quantize(quantum)
    return bound.quantize(quantum, rounding=ROUND_CEILING if high else ROUND_FLOOR)


def _boundary(high: bool) -> Callable[..., Any]:
    def boundary_fn(ctx: dict[str, Any], inputs: list[Any], precision: Any = None) -> list[Any]:
        item = _singleton(inputs, "highBoundary" if high else "lowBoundary")
        if item is None or precision == []:
            return []
        when = temporal_of(item)
        if when is not None:
            result = temporal.boundary(when, precision, high)
            return [] if result is None else [result.to_fp()]
        data = data_of(item)
        if isinstance(data, FP_Quantity):
            value = decimal_boundary(data_of(data.value), precision, high)
            return [] if value is None else [FP_Quantity(value, data.unit)]
        if isinstance(data, (int, Decimal)) and not isinstance(data, bool):
            value = decimal_boundary(data, precision, high)
            return [] if value is None else [value]
        return []

    return boundary_fn


def precision_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """precision(): digits after the decimal point, or the digits of a date/time (year=4 ... ms=17/9)."""
    item = _singleton(inputs, "precision")
    if item is None:
        return []
    when = temporal_of(item)
    if when is not None:
        return [when.precision]
    data = data_of(item)
    if isinstance(data, (int, Decimal)) and not isinstance(data, bool):
        return [_decimal_places(data)]
    return []


# ------------------------------------------------------------------------------------------------ sort

class SortKey:
    """A sort() argument: an expression and a direction (a leading unary minus means descending)."""

    def __init__(self, evaluate: Callable[[Any], list[Any]], descending: bool) -> None:
        self.evaluate = evaluate
        self.descending = descending


def _compare_values(a: Any, b: Any) -> int:
    if a is None and b is None:
        return 0
    if a is None:  # empty keys sort after values (so first in a descending sort)
        return 1
    if b is None:
        return -1
    ta, tb = temporal_of(a), temporal_of(b)
    a, b = data_of(a), data_of(b)
    if ta is not None and tb is not None:
        a, b = ta.render(), tb.render()
    if isinstance(a, str) and isinstance(b, str) or (isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal))):
        return (a > b) - (a < b)
    raise FhirPathError(f"sort(): cannot compare {a!r} and {b!r}")


def sort_fn(ctx: dict[str, Any], inputs: list[Any], *keys: SortKey) -> list[Any]:
    """sort([key, ...]): stable sort by the keys (default: the items themselves); `-key` descends."""

    def key_values(item: Any) -> list[Any]:
        values = []
        for key in keys:
            result = key.evaluate(item)
            values.append(result[0] if result else None)
        return values

    if not keys:
        return sorted(inputs, key=cmp_to_key(_compare_values))
    decorated = [(key_values(item), item) for item in inputs]

    def compare(x: tuple[list[Any], Any], y: tuple[list[Any], Any]) -> int:
        for key, a, b in zip(keys, x[0], y[0]):
            order = _compare_values(a, b)
            if order:
                return -order if key.descending else order
        return 0

    return [item for _, item in sorted(decorated, key=cmp_to_key(compare))]


# ------------------------------------------------------------------------------------------------ strings

def _string(inputs: list[Any], name: str) -> str | None:
    item = _singleton(inputs, name)
    if item is None:
        return None
    data = data_of(item)
    if not isinstance(data, str):
        raise FhirPathError(f"{name}() expects a string, got {data!r}")
    return data


def matches_full_fn(ctx: dict[str, Any], inputs: list[Any], regex: Any) -> list[Any]:
    """matchesFull(regex): the whole string matches (matches() only needs a match somewhere)."""
    text = _string(inputs, "matchesFull")
    if text is None or not isinstance(regex, str):
        return []
    return [re.fullmatch(regex, text, re.DOTALL) is not None]


def escape_fn(ctx: dict[str, Any], inputs: list[Any], target: Any) -> list[Any]:
    """escape('html'|'json')."""
    text = _string(inputs, "escape")
    if text is None or not isinstance(target, str):
        return []
    if target == "html":
        return [html.escape(text, quote=True).replace("&#x27;", "&#39;")]
    if target == "json":
        return [json.dumps(text, ensure_ascii=False)[1:-1]]
    return []


_JSON_ESCAPE = re.compile(r'\\(u[0-9a-fA-F]{4}|["\\/bfnrt])')
_JSON_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    return chr(int(code[1:], 16)) if code.startswith("u") else _JSON_SIMPLE[code]


def unescape_fn(ctx: dict[str, Any], inputs: list[Any], target: Any) -> list[Any]:
    """unescape('html'|'json')."""
    text = _string(inputs, "unescape")
    if text is None or not isinstance(target, str):
        return []
    if target == "html":
        return [html.unescape(text)]
    if target == "json":
        return [_JSON_ESCAPE.sub(_json_unescape, text)]
    return []


# ------------------------------------------------------------------------------------------------ quantities

def comparable_fn(ctx: dict[str, Any], inputs: list[Any], other: list[Any]) -> list[Any]:
    """comparable(quantity): whether the two quantities' units have the same dimension (UCUM)."""
    item = _singleton(inputs, "comparable")
    if item is None or not other:
        return []
    a, b = value_of(item), value_of(_singleton(other, "comparable"))
    if not (isinstance(a, Qty) and isinstance(b, Qty)):
        return []
    if a.calendar or b.calendar:
        return [a.calendar == b.calendar or (not a.calendar and a.ucum) or (not b.calendar and b.ucum)]
    return [a.unit == b.unit or (a.ucum and b.ucum and ucum.comparable(a.unit, b.unit))]


SPEC_FUNCTIONS: dict[str, dict[str, Any]] = {
    "lowBoundary": {"fn": _boundary(False), "arity": {0: [], 1: ["Integer"]}},
    "highBoundary": {"fn": _boundary(True), "arity": {0: [], 1: ["Integer"]}},
    "precision": {"fn": precision_fn},
    "comparable": {"fn": comparable_fn, "arity": {1: ["Any"]}},
    "sort": {"fn": sort_fn, "variadic": "SortKey"},
    "matchesFull": {"fn": matches_full_fn, "arity": {1: ["String"]}, "nullable_input": True},
    "escape": {"fn": escape_fn, "arity": {1: ["String"]}, "nullable_input": True},
    "unescape": {"fn": unescape_fn, "arity": {1: ["String"]}, "nullable_input": True},
}
