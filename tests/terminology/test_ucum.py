"""UCUM units are checked by the UCUM grammar and atom table, never by a list of codes."""
from __future__ import annotations

import pytest

from fhir_service.terminology import NOT_CHECKABLE, Terminology, validate_ucum

UCUM = "http://unitsofmeasure.org"
UCUM_UNITS_VS = "http://hl7.org/fhir/ValueSet/ucum-units"

VALID_UNITS = [
    "mg/kg", "mg/m2", "mg/kg/d", "mg/(kg.d)", "ug/kg/min", "10*9/L", "10*3/uL", "/uL", "[iU]/mL", "[IU]/L",
    "pg/mL", "ng/mL", "%", "Cel", "[degF]", "mm[Hg]", "L/min", "{score}", "[pH]", "mmol/L", "g/dL", "U/L",
    "kg/m2", "/min", "{beats}/min", "1", "h", "d", "wk", "mo", "a", "cm[H2O]", "fL", "meq/L", "%{saturation}",
    "10*6/kg", "mL/min/{1.73_m2}", "s", "ms", "kU/L", "umol/L", "[lb_av]", "[in_i]",
]
INVALID_UNITS = [
    ("mcg/kg", "'ug'"),       # micro is 'u'
    ("mg/kg/", None),         # dangling operator
    ("mg//kg", None),
    ("Kg", "'kg'"),           # UCUM is case-sensitive: K is kelvin, no 'g' after it
    ("mmHg", "'mm[Hg]'"),
    ("deg C", "no spaces"),
    ("", "empty"),
    ("°C", "ASCII"),
    ("{a{b}}", None),         # braces do not nest
    ("m[Hg", None),
    ("cells", None),
]


@pytest.mark.parametrize("unit", VALID_UNITS)
def test_valid_ucum(unit: str) -> None:
    assert validate_ucum(unit) is None


@pytest.mark.parametrize("unit,hint", INVALID_UNITS)
def test_invalid_ucum(unit: str, hint: str | None) -> None:
    message = validate_ucum(unit)
    assert message is not None and "UCUM unit" in message
    if hint:
        assert hint in message


def test_values_bound_to_ucum_units_are_parsed(terminology: Terminology) -> None:
    assert len(terminology.expand(UCUM_UNITS_VS)) == 0  # no enumeration: decided by the grammar
    assert terminology.validate_code(UCUM_UNITS_VS, UCUM, "mg/kg/d").is_valid
    check = terminology.validate_code(UCUM_UNITS_VS, UCUM, "mcg/kg/d")
    assert check.is_invalid and "not a valid UCUM unit" in check.message


def test_enumerated_ucum_value_set_uses_its_list(terminology: Terminology) -> None:
    # ucum-bodytemp lists Cel and [degF]: a valid UCUM unit outside the list is not a member
    vs = "http://hl7.org/fhir/ValueSet/ucum-bodytemp"
    assert terminology.validate_code(vs, UCUM, "Cel").is_valid
    assert terminology.validate_code(vs, UCUM, "K").is_invalid


def test_canonical_filter_checks_the_dimension(terminology: Terminology) -> None:
    vs = "http://hl7.org/fhir/ValueSet/all-distance-units"  # filter canonical = m
    assert terminology.validate_code(vs, UCUM, "mm").is_valid
    assert terminology.validate_code(vs, UCUM, "[in_i]").is_valid
    wrong = terminology.validate_code(vs, UCUM, "mg")
    assert wrong.is_invalid and "[mass]" in wrong.message
    assert terminology.validate_code(vs, UCUM, "{score}").outcome == NOT_CHECKABLE
