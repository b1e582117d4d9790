"""One normalised view of FHIRPath values for the operators: what a result item *is*, whatever its carrier.

fhirpathpy represents the same value in several ways (a string inside a ResourceNode typed `dateTime`, an
FP_DateTime literal, a Quantity element dict, an FP_Quantity literal, floats from JSON). Operators written
against `value_of` compare like with like: Temporal, Qty, bool, int, Decimal, str, or a dict/list (complex).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhirpathpy.engine.nodes import FP_DateTime, FP_Quantity, FP_Time, FP_Type, ResourceNode

from fhir_service.fhirpath import temporal

UCUM_SYSTEM = "http://unitsofmeasure.org"
QUANTITY_TYPES = frozenset({"Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity", "MoneyQuantity"})
CALENDAR_UNITS = {
    "year": "year", "years": "year", "month": "month", "months": "month", "week": "week", "weeks": "week",
    "day": "day", "days": "day", "hour": "hour", "hours": "hour", "minute": "minute", "minutes": "minute",
    "second": "second", "seconds": "second", "millisecond": "millisecond", "milliseconds": "millisecond",
}
#: calendar durations that equal a definite UCUM unit (weeks and below); years/months do not.
CALENDAR_TO_UCUM = {"week": "wk", "day": "d", "hour": "h", "minute": "min", "second": "s", "millisecond": "ms"}
_KIND_OF_PATH = {"date": "date", "dateTime": "dateTime", "instant": "dateTime", "time": "time"}
_TEMPORAL_PATHS = frozenset(_KIND_OF_PATH)


@dataclass(frozen=True)
class Qty:
    """A quantity: `unit` is a UCUM code when `ucum`, a calendar duration word when `calendar`, else free text."""

    value: Decimal
    unit: str
    ucum: bool = True
    calendar: bool = False

    def to_fp(self) -> FP_Quantity:
        return FP_Quantity(self.value, self.unit if self.calendar else f"'{self.unit}'")


def to_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def qty_from_fp(quantity: FP_Quantity) -> Qty:
    unit = str(quantity.unit) if quantity.unit is not None else "1"
    value = to_decimal(quantity.value)
    if unit.startswith("'") and unit.endswith("'"):
        return Qty(value, unit[1:-1])
    if unit in CALENDAR_UNITS:
        return Qty(value, CALENDAR_UNITS[unit], ucum=False, calendar=True)
    return Qty(value, unit)


def qty_from_element(data: Mapping[str, Any]) -> Qty | None:
    """A FHIR Quantity element as a Qty (UCUM code when the system is UCUM, else the unit text)."""
    value = data.get("value")
    if value is None or isinstance(value, bool):
        return None
    code, system, unit = data.get("code"), data.get("system"), data.get("unit")
    if code and system == UCUM_SYSTEM:
        return Qty(to_decimal(value), str(code))
    text = code or unit
    if text in CALENDAR_UNITS and not system:
        return Qty(to_decimal(value), CALENDAR_UNITS[str(text)], ucum=False, calendar=True)
    return Qty(to_decimal(value), str(text) if text else "1", ucum=not text)


def value_of(item: Any) -> Any:
    """The comparable value of one collection item (see module docstring)."""
    if isinstance(item, ResourceNode):
        data = item.data
        path = item.path
        if isinstance(data, str) and path in _TEMPORAL_PATHS:
            parsed = temporal.parse(data, _KIND_OF_PATH[path])
            return parsed if parsed is not None else data
        if isinstance(data, Mapping) and path in QUANTITY_TYPES:
            quantity = qty_from_element(data)
            return quantity if quantity is not None else data
        item = data
    if isinstance(item, (FP_DateTime, FP_Time)):
        parsed = temporal.from_value(item)
        return parsed if parsed is not None else str(item)
    if isinstance(item, FP_Quantity):
        return qty_from_fp(item)
    if isinstance(item, float):
        return Decimal(str(item))
    if isinstance(item, FP_Type):
        return item
    return item


def is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)
