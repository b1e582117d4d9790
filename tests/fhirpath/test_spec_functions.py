"""FHIRPath functions added on top of fhirpathpy: boundaries, precision, strings, FHIR functions."""
from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_service import fhirpath
from fhir_service.fhirpath import temporal, ucum


def ev(expression: str, node: object = None) -> list:
    return fhirpath.evaluate({} if node is None else node, expression)


@pytest.mark.parametrize(("expression", "expected"), [
    ("1.587.lowBoundary()", "1.58650000"), ("1.587.highBoundary(2)", "1.59"), ("(-1.587).lowBoundary(0)", "-2"),
    ("120.lowBoundary(2)", "119.50"), ("1.587.lowBoundary(-1)", None), ("1.587.lowBoundary(32)", None),
])
def test_decimal_boundaries(expression: str, expected: str | None) -> None:
    assert ev(expression) == ([] if expected is None else [Decimal(expected)])
    if expected is not None:
        assert str(ev(expression)[0]) == expected


def test_date_boundaries_and_precision() -> None:
    assert ev("@2014.lowBoundary(6)") == ["2014-01"]
    assert ev("@2014.highBoundary(6)") == ["2014-12"]
    low = temporal.boundary(temporal.parse("2014-01-01T08:05"), 17, high=False)
    assert low is not None and low.render() == "2014-01-01T08:05:00.000+14:00"
    assert ev("@2014-01-05T10:30:00.000.precision()") == [17]
    assert ev("1.58700.precision()") == [5]
    patient = {"resourceType": "Patient", "birthDate": "1974-12"}
    assert ev("birthDate.highBoundary()", patient) == ["1974-12-31"]


def test_string_functions() -> None:
    assert ev("'abc'.matchesFull('b')") == [False]
    assert ev("'abc'.matchesFull('a.c')") == [True]
    assert ev("'\"1<2\"'.escape('html')") == ["&quot;1&lt;2&quot;"]
    assert ev("'&lt;p&gt;'.unescape('html')") == ["<p>"]


def test_comparable_uses_ucum_dimensions() -> None:
    assert ev("1 'cm'.comparable(1 '[in_i]')") == [True]
    assert ev("1 'cm'.comparable(1 's')") == [False]
    assert ucum.convert(Decimal(1), "mg/dL", "g/L") == Decimal("0.01")
    assert ucum.convert(Decimal(5), "10*9/L", "10*3/uL") == Decimal(5)
    assert ucum.convert(Decimal(1), "mg", "mL") is None
    with pytest.raises(ValueError):
        ucum.parse("notAUnit")


def test_has_value_and_html_checks() -> None:
    assert ev("hasValue()", "text") == [True]
    assert fhirpath.evaluate({"text": "x"}, "hasValue()", context_type="Narrative") == [False]
    narrative = {"div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">hi</div>"}
    assert fhirpath.evaluate(narrative, "`div`.htmlChecks()", context_type="Narrative") == [True]
    assert fhirpath.evaluate({"div": "hi"}, "`div`.htmlChecks()", context_type="Narrative") == [False]


def test_member_of_and_conforms_to_use_callbacks_or_yield_empty() -> None:
    coding = {"system": "http://loinc.org", "code": "8310-5"}
    assert fhirpath.evaluate(coding, "memberOf('http://x/vs')", context_type="Coding") == []
    member = fhirpath.evaluate(coding, "memberOf('http://x/vs')", context_type="Coding",
                               variables={"memberOf": lambda value, vs: value["code"] == "8310-5"})
    assert member == [True]
