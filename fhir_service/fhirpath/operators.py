"""FHIRPath operators on normalised values (values.value_of): equality, equivalence, ordering, arithmetic on
quantities and dates, and three-valued boolean logic with singleton evaluation.

fhirpathpy's versions compare only the first item of a collection, compare dates as strings when they come
from the resource, know a handful of units, and reject `true and 'foo'`; these replace them through the
user-invocation table (see engine.py).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fhirpathpy.engine.invocations import math as fp_math
from fhirpathpy.engine.nodes import FP_Quantity

from fhir_service.fhirpath import temporal, ucum
from fhir_service.fhirpath.errors import FhirPathError
from fhir_service.fhirpath.values import CALENDAR_TO_UCUM, Qty, is_number, to_decimal, value_of

Collection = list[Any]

# --------------------------------------------------------------------------------------------- quantities

_CALENDAR_MONTHS = {"year": 12, "month": 1}


def _quantity_in(q: Qty, other: Qty) -> Decimal | None:
    """q's value expressed in other's unit; None when not comparable."""
    if q.calendar and other.calendar:
        if (q.unit in _CALENDAR_MONTHS) != (other.unit in _CALENDAR_MONTHS):
            return None
        if q.unit in _CALENDAR_MONTHS:
            return q.value * _CALENDAR_MONTHS[q.unit] / _CALENDAR_MONTHS[other.unit]
        return ucum.convert(q.value, CALENDAR_TO_UCUM[q.unit], CALENDAR_TO_UCUM[other.unit])
    if q.calendar or other.calendar:
        calendar, plain = (q, other) if q.calendar else (other, q)
        if calendar.unit in _CALENDAR_MONTHS or not plain.ucum:
            return None
        q_unit = CALENDAR_TO_UCUM.get(q.unit, q.unit) if q.calendar else q.unit
        other_unit = CALENDAR_TO_UCUM.get(other.unit, other.unit) if other.calendar else other.unit
        return ucum.convert(q.value, q_unit, other_unit)
    if q.ucum and other.ucum:
        return ucum.convert(q.value, q.unit, other.unit)
    return q.value if q.unit == other.unit else None


def compare_quantities(a: Qty, b: Qty) -> int | None:
    converted = _quantity_in(a, b)
    if converted is None:
        return None
    return (converted > b.value) - (converted < b.value)


# --------------------------------------------------------------------------------------------- equality

def _json_equal(a: Any, b: Any, equivalent: bool) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys_a = {k for k in a if not k.startswith("_") or not equivalent}
        keys_b = {k for k in b if not k.startswith("_") or not equivalent}
        if equivalent:
            keys_a.discard("id")
            keys_b.discard("id")
        return keys_a == keys_b and all(_json_equal(a[k], b[k], equivalent) for k in keys_a)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        if not equivalent:
            return all(_json_equal(x, y, False) for x, y in zip(a, b))
        return _match_unordered(a, b, lambda x, y: _json_equal(x, y, True))
    return item_equivalent(a, b) if equivalent else item_equal(a, b) is True


def item_equal(a: Any, b: Any) -> bool | None:
    """`=` of two single values: True, False or None (unknown: different date precisions, units...)."""
    a, b = value_of(a), value_of(b)
    if isinstance(a, temporal.Temporal) and isinstance(b, str):
        b = temporal.parse(b) or b
    if isinstance(b, temporal.Temporal) and isinstance(a, str):
        a = temporal.parse(a) or a
    if isinstance(a, temporal.Temporal) and isinstance(b, temporal.Temporal):
        try:
            order = temporal.compare(a, b)
        except ValueError:
            return False
        return None if order is None else order == 0
    if isinstance(a, Qty) and isinstance(b, Qty):
        order = compare_quantities(a, b)
        return None if order is None else order == 0
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (Mapping, list)) and isinstance(b, (Mapping, list)):
        return _json_equal(a, b, False)
    if type(a) is not type(b):
        return False
    return a == b


def _normalise_text(text: str) -> str:
    return " ".join(text.lower().split())


def _decimal_places(value: Decimal | int) -> int:
    return max(-to_decimal(value).as_tuple().exponent, 0) if isinstance(value, Decimal) else 0  # type: ignore


def item_equivalent(a: Any, b: Any) -> bool:
    """`~` of two single values: never unknown."""
    a, b = value_of(a), value_of(b)
    if isinstance(a, temporal.Temporal) and isinstance(b, temporal.Temporal):
        return temporal.equivalent(a, b)
    if isinstance(a, str) and isinstance(b, str):
        return _normalise_text(a) == _normalise_text(b)
    if is_number(a) and is_number(b):
        places = min(_decimal_places(a), _decimal_places(b))
        quantum = Decimal(1).scaleb(-places)
        return to_decimal(a).quantize(quantum) == to_decimal(b).quantize(quantum)
    if isinstance(a, Qty) and isinstance(b, Qty):
        converted = _quantity_in(b, a)  # in the first operand's unit, at the lesser precision
        if converted is None:
            return False
        places = min(_decimal_places(a.value), _decimal_places(b.value))
        quantum = Decimal(1).scaleb(-places)
        return converted.quantize(quantum) == a.value.quantize(quantum)
    if isinstance(a, (Mapping, list)) and isinstance(b, (Mapping, list)):
        return _json_equal(a, b, True)
    result = item_equal(a, b)
    return result is True


def _match_unordered(xs: list[Any], ys: list[Any], same: Any) -> bool:
    remaining = list(ys)
    for x in xs:
        hit = next((i for i, y in enumerate(remaining) if same(x, y)), None)
        if hit is None:
            return False
        remaining.pop(hit)
    return True


def equal_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Collection:
    """`=`: empty if either side is empty; collections are equal item by item, in order."""
    if not xs or not ys:
        return []
    if len(xs) != len(ys):
        return [False]
    unknown = False
    for x, y in zip(xs, ys):
        result = item_equal(x, y)
        if result is False:
            return [False]
        if result is None:
            unknown = True
    return [] if unknown else [True]


def unequal_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Collection:
    result = equal_fn(ctx, xs, ys)
    return [not result[0]] if result else []


def equivalent_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Collection:
    """`~`: two empties are equivalent; collections are equivalent in any order."""
    if not xs and not ys:
        return [True]
    if len(xs) != len(ys):
        return [False]
    return [_match_unordered(xs, ys, item_equivalent)]


def unequivalent_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Collection:
    return [not equivalent_fn(ctx, xs, ys)[0]]


# --------------------------------------------------------------------------------------------- ordering

def _singleton(xs: Collection, operator: str) -> Any:
    if len(xs) > 1:
        raise FhirPathError(f"'{operator}' expects single items, got a collection of {len(xs)}")
    return value_of(xs[0])


def compare_values(a: Any, b: Any, operator: str) -> int | None:
    if isinstance(a, temporal.Temporal) and isinstance(b, str):
        b = temporal.parse(b) or b
    if isinstance(b, temporal.Temporal) and isinstance(a, str):
        a = temporal.parse(a) or a
    if isinstance(a, temporal.Temporal) and isinstance(b, temporal.Temporal):
        try:
            return temporal.compare(a, b)
        except ValueError as exc:
            raise FhirPathError(str(exc)) from exc
    if isinstance(a, Qty) and isinstance(b, Qty):
        return compare_quantities(a, b)
    if is_number(a) and is_number(b) or isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    raise FhirPathError(f"cannot compare {a!r} and {b!r} with '{operator}'")


def _ordering(operator: str, test: Any) -> Any:
    def ordering_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Collection:
        if not xs or not ys:
            return []
        order = compare_values(_singleton(xs, operator), _singleton(ys, operator), operator)
        return [] if order is None else [test(order)]

    ordering_fn.__name__ = f"ordering {operator}"
    return ordering_fn


# --------------------------------------------------------------------------------------------- arithmetic

def _unit_text(q: Qty) -> str:
    return CALENDAR_TO_UCUM.get(q.unit, q.unit) if q.calendar else q.unit


def _shift_temporal(xs: Collection, ys: Collection, sign: int) -> Collection | None:
    if len(xs) != 1 or len(ys) != 1:
        return None
    when, quantity = value_of(xs[0]), value_of(ys[0])
    if isinstance(when, str):
        when = temporal.parse(when) or when
    if not isinstance(when, temporal.Temporal) or not isinstance(quantity, Qty):
        return None
    unit = quantity.unit if quantity.calendar else f"'{quantity.unit}'"
    try:
        return [temporal.add(when, sign * quantity.value, unit).to_fp()]
    except ValueError as exc:
        raise FhirPathError(str(exc)) from exc


def _quantity_sum(xs: Collection, ys: Collection, sign: int) -> Collection | None:
    if len(xs) != 1 or len(ys) != 1:
        return None
    a, b = value_of(xs[0]), value_of(ys[0])
    if not (isinstance(a, Qty) and isinstance(b, Qty)):
        return None
    converted = _quantity_in(b, a)
    if converted is None:
        raise FhirPathError(f"cannot add quantities in {a.unit!r} and {b.unit!r}")
    return [Qty(a.value + sign * converted, a.unit, a.ucum, a.calendar).to_fp()]


def plus_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Any:
    """`+`: date/time + duration keeps offset and precision; quantities convert; else as fhirpathpy."""
    for attempt in (_shift_temporal(xs, ys, 1), _quantity_sum(xs, ys, 1)):
        if attempt is not None:
            return attempt
    return fp_math.plus(ctx, xs, ys)


def minus_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Any:
    for attempt in (_shift_temporal(xs, ys, -1), _quantity_sum(xs, ys, -1)):
        if attempt is not None:
            return attempt
    return fp_math.minus(ctx, xs, ys)


def _product(xs: Collection, ys: Collection, divide: bool) -> Any:
    a, b = _singleton(xs, "/" if divide else "*"), _singleton(ys, "/" if divide else "*")
    if is_number(a) and is_number(b):
        if divide:
            return [] if b == 0 else [to_decimal(a) / to_decimal(b)]
        return [a * b]
    if isinstance(a, Qty) or isinstance(b, Qty):
        qa = a if isinstance(a, Qty) else Qty(to_decimal(a), "1") if is_number(a) else None
        qb = b if isinstance(b, Qty) else Qty(to_decimal(b), "1") if is_number(b) else None
        if qa is None or qb is None:
            raise FhirPathError(f"cannot multiply/divide {a!r} and {b!r}")
        ua, ub = _unit_text(qa), _unit_text(qb)
        if divide:
            if qb.value == 0:
                return []
            unit = "1" if ua == ub else (ua if ub == "1" else f"{ua}/({ub})" if ua != "1" else f"/({ub})")
            return [FP_Quantity(qa.value / qb.value, f"'{unit}'")]
        unit = ub if ua == "1" else ua if ub == "1" else f"{ua}.{ub}"
        return [FP_Quantity(qa.value * qb.value, f"'{unit}'")]
    raise FhirPathError(f"cannot multiply/divide {a!r} and {b!r}")


def times_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Any:
    return _product(xs, ys, divide=False)


def divide_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Any:
    return _product(xs, ys, divide=True)


# --------------------------------------------------------------------------------------------- logic

def to_boolean(xs: Collection, operator: str) -> bool | None:
    """Singleton evaluation for a Boolean operand: empty -> None, a boolean -> itself, any other single
    item -> True, several items -> error."""
    if not xs:
        return None
    if len(xs) > 1:
        raise FhirPathError(f"'{operator}' expects a single boolean, got a collection of {len(xs)}")
    value = value_of(xs[0])
    return value if isinstance(value, bool) else True


def and_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Collection:
    a, b = to_boolean(xs, "and"), to_boolean(ys, "and")
    if a is False or b is False:
        return [False]
    return [] if a is None or b is None else [True]


def or_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Collection:
    a, b = to_boolean(xs, "or"), to_boolean(ys, "or")
    if a is True or b is True:
        return [True]
    return [] if a is None or b is None else [False]


def xor_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Collection:
    a, b = to_boolean(xs, "xor"), to_boolean(ys, "xor")
    return [] if a is None or b is None else [a != b]


def implies_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Collection:
    a, b = to_boolean(xs, "implies"), to_boolean(ys, "implies")
    if a is False or b is True:
        return [True]
    if a is None or b is None:
        return []
    return [False]


#: the value of the left operand that decides the result alone, and that result
_DECIDED_BY_LEFT = {"and": (False, [False]), "or": (True, [True]), "implies": (False, [True])}
_BOOLEAN_OPERATORS = {"and": and_fn, "or": or_fn, "xor": xor_fn, "implies": implies_fn}


def boolean_expression(ctx: dict[str, Any], parent_data: Any, node: dict[str, Any]) -> Collection:
    """`and`, `or`, `implies` (and `xor`) evaluating the right operand only when the left one does not decide.

    FHIRPath allows it (the results are the same: `false and X` is false whatever X is, even empty), and
    invariants are full of `a.exists() implies (...)`: for the usual absent `a` the costly right side is skipped.
    A runtime error in a skipped right operand is not raised, as in the HL7 Java engine.
    """
    from fhirpathpy import engine as fp_engine  # make_param as patched by fixes.apply()

    operator = node["terminalNodeText"][0]
    table = ctx.get("userInvocationTable") or {}
    if table.get(operator, {}).get("fn") is not _BOOLEAN_OPERATORS.get(operator):
        return fp_engine.infix_invoke(ctx, operator, parent_data, node["children"])  # plain fhirpathpy
    left_node, right_node = node["children"]
    left = fp_engine.make_param(ctx, parent_data, "Any", left_node)
    decided = _DECIDED_BY_LEFT.get(operator)
    if decided is not None and to_boolean(left, operator) is decided[0]:
        return list(decided[1])
    right = fp_engine.make_param(ctx, parent_data, "Any", right_node)
    return _BOOLEAN_OPERATORS[operator](ctx, left, right)


def not_fn(ctx: dict[str, Any], xs: Collection) -> Collection:
    value = to_boolean(xs, "not()")
    return [] if value is None else [not value]


OPERATORS: dict[str, dict[str, Any]] = {
    "=": {"fn": equal_fn, "arity": {2: ["Any", "Any"]}},
    "!=": {"fn": unequal_fn, "arity": {2: ["Any", "Any"]}},
    "~": {"fn": equivalent_fn, "arity": {2: ["Any", "Any"]}},
    "!~": {"fn": unequivalent_fn, "arity": {2: ["Any", "Any"]}},
    "<": {"fn": _ordering("<", lambda o: o < 0), "arity": {2: ["Any", "Any"]}},
    ">": {"fn": _ordering(">", lambda o: o > 0), "arity": {2: ["Any", "Any"]}},
    "<=": {"fn": _ordering("<=", lambda o: o <= 0), "arity": {2: ["Any", "Any"]}},
    ">=": {"fn": _ordering(">=", lambda o: o >= 0), "arity": {2: ["Any", "Any"]}},
    "+": {"fn": plus_fn, "arity": {2: ["Any", "Any"]}, "nullable": True},
    "-": {"fn": minus_fn, "arity": {2: ["Any", "Any"]}, "nullable": True},
    "*": {"fn": times_fn, "arity": {2: ["Any", "Any"]}, "nullable": True},
    "/": {"fn": divide_fn, "arity": {2: ["Any", "Any"]}, "nullable": True},
    "and": {"fn": and_fn, "arity": {2: ["Any", "Any"]}},
    "or": {"fn": or_fn, "arity": {2: ["Any", "Any"]}},
    "xor": {"fn": xor_fn, "arity": {2: ["Any", "Any"]}},
    "implies": {"fn": implies_fn, "arity": {2: ["Any", "Any"]}},
    "not": {"fn": not_fn},
}


# --------------------------------------------------------------------------------------------- collections

def _identity(item: Any) -> tuple[Any, ...]:
    """A hashable key such that items with equal keys are `=` (used by distinct and union)."""
    value = value_of(item)
    if isinstance(value, bool):
        return ("b", value)
    if is_number(value):
        return ("n", to_decimal(value).normalize())
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, temporal.Temporal):
        return ("t", value.render())
    if isinstance(value, Qty):
        return ("q", value.value.normalize(), value.unit, value.calendar)
    return ("j", json.dumps(value, sort_keys=True, default=str))


def distinct(items: Collection) -> Collection:
    """Items in order, without repeats; the first occurrence (with its type information) is kept."""
    seen: set[tuple[Any, ...]] = set()
    result = []
    for item in items:
        key = _identity(item)
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result


def union_fn(ctx: dict[str, Any], xs: Collection, ys: Collection) -> Collection:
    return distinct(list(xs) + list(ys))


def distinct_fn(ctx: dict[str, Any], xs: Collection) -> Collection:
    return distinct(xs)


def is_distinct_fn(ctx: dict[str, Any], xs: Collection) -> Collection:
    return [len(distinct(xs)) == len(xs)]


OPERATORS.update({
    "|": {"fn": union_fn, "arity": {2: ["Any", "Any"]}},
    "union": {"fn": union_fn, "arity": {1: ["AnyAtRoot"]}},
    "distinct": {"fn": distinct_fn},
    "isDistinct": {"fn": is_distinct_fn},
})
