"""Operators: equality, equivalence, ordering, quantities, date arithmetic and three-valued logic."""
from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_service import fhirpath
from fhir_service.fhirpath import FhirPathError


def ev(expression: str, node: object = None) -> list:
    return fhirpath.evaluate({} if node is None else node, expression)


def test_collection_equality_compares_every_item_in_order() -> None:
    assert ev("(1 | 2) = (1 | 2)") == [True]
    assert ev("(1 | 2) = (1 | 3)") == [False]  # fhirpathpy compared only the first items
    assert ev("(1 | 2) = (2 | 1)") == [False]
    assert ev("(1 | 2) ~ (2 | 1)") == [True]
    assert ev("{} = 1") == []
    assert ev("{} ~ {}") == [True]


def test_date_comparison_respects_precision_and_offsets() -> None:
    assert ev("@2012-04-15 = @2012-04-15T10:00:00Z") == []  # different precisions: unknown
    assert ev("@2012-04-15T15:00:00+02:00 = @2012-04-15T13:00:00Z") == [True]
    assert ev("@2012-04-15T15:00:00Z = @2012-04-15T10:00:00") == []  # only one has an offset
    assert ev("@2012-04-15T10:00:00.0 ~ @2012-04-15T10:00:00") == [True]  # seconds+ms: one precision
    assert ev("@2012-04-15T10:00 ~ @2012-04-15T10:00:00") == [False]
    assert ev("@2012 < @2013-01") == [True]
    assert ev("@2013 < @2013-01") == []
    period = {"resourceType": "Period", "start": "2001-05-06T10:00:00+10:00", "end": "2001-05-06T01:00:00Z"}
    # per-1 on element strings: compared as instants, not as text
    assert fhirpath.evaluate(period, "start <= end", context_type="Period") == [True]
    assert fhirpath.evaluate(period, "start > end", context_type="Period") == [False]


def test_date_arithmetic_keeps_offset_and_precision() -> None:
    assert ev("@1973-12-25T00:00:00.000+10:00 + 7 days") == ["1974-01-01T00:00:00.000+10:00"]
    assert ev("@1973-12-25 + 1 month") == ["1974-01-25"]
    assert ev("@2014-01-31 + 1 month") == ["2014-02-28"]
    assert ev("@1973-12-25 + 7.7 days") == ["1974-01-01"]  # decimal part ignored
    with pytest.raises(FhirPathError):
        ev("@1973-12-25 + 1 'mo'")  # UCUM months are not calendar months
    with pytest.raises(FhirPathError):
        ev("@1974-12-25 - 1 'cm'")


def test_quantities_convert_between_ucum_units() -> None:
    obs = {"resourceType": "Observation",
           "valueQuantity": {"value": 185, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "[lb_av]"}}
    assert ev("Observation.value < 100 'kg'", obs) == [True]
    assert ev("Observation.value > 80 'kg'", obs) == [True]
    assert ev("Observation.value > 1 'm'", obs) == []  # not comparable: empty
    assert ev("1 'g' = 1000 'mg'") == [True]
    assert ev("2.0 'cm' * 2.0 'm' = 0.040 'm2'") == [True]
    assert ev("6 days < 1 week") == [True]
    assert ev("1 year = 12 months") == [True]
    assert ev("1 year = 1 'a'") == []
    assert ev("5 'mg' + 1 'g'") == [{"value": Decimal("1005"), "unit": "mg",
                                    "system": "http://unitsofmeasure.org", "code": "mg"}]


def test_ordering_of_incompatible_types_is_an_error() -> None:
    with pytest.raises(FhirPathError):
        ev("1 > 'a'")
    with pytest.raises(FhirPathError):
        ev("(1 | 2) > 1")


@pytest.mark.parametrize(("expression", "expected"), [
    ("true and {}", []), ("false and {}", [False]), ("true or {}", [True]), ("false or {}", []),
    ("{} implies true", [True]), ("false implies {}", [True]), ("true implies {}", []),
    ("true xor false", [True]), ("true and 'foo'", [True]),
])
def test_three_valued_logic(expression: str, expected: list) -> None:
    assert ev(expression) == expected


def test_boolean_operand_collections_are_errors() -> None:
    with pytest.raises(FhirPathError):
        ev("(true | false) and true")
    with pytest.raises(FhirPathError):
        ev("(1 | 2).not()")


@pytest.mark.parametrize("expression, expected", [
    ("false and (1 | 2).single()", [False]), ("true or (1 | 2).single()", [True]),
    ("false implies (1 | 2).single()", [True]),
])
def test_and_or_implies_skip_the_right_operand_when_the_left_decides(expression: str, expected: list) -> None:
    """The right operand would raise (single() of two items): it is not evaluated when the left one decides."""
    assert ev(expression) == expected


@pytest.mark.parametrize("expression", ["true and (1 | 2).single()", "false or (1 | 2).single()",
                                        "true implies (1 | 2).single()", "{} and (1 | 2).single()"])
def test_the_right_operand_is_evaluated_when_the_left_does_not_decide(expression: str) -> None:
    with pytest.raises(FhirPathError):
        ev(expression)
