"""Terminology facts behind the HL7 validator test cases that need no terminology server (tx module).

The cases come from FHIR/fhir-test-cases (copied under tests/conformance/data). Here only the terminology
part is checked: the expansions of their ValueSets over their supporting CodeSystems, and the UCUM units
the Java validator rejects. Whole-resource validation is the validator's own conformance run.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from fhir_service.terminology import validate_ucum
from tests.conftest import CONFORMANCE_DATA

FILES = CONFORMANCE_DATA / "fhir-test-cases-validator" / "files"


def load(name: str) -> dict[str, Any]:
    return json.loads((FILES / name).read_text())


@pytest.mark.parametrize("value_set,expected", [
    ("vs-filter-filter.json", set()),        # filter on a property the CodeSystem does not define
    ("vs-filter-property.json", {"code1"}),  # Coding-valued property matched as system#code
    ("vs-filter-property-bad.json", set()),  # code-r-3 exists nowhere: the filter selects nothing
    ("vs-filter-int.json", set()),           # 'lt2' is not an integer value of any concept
])
def test_filter_cases(local_terminology: Any, value_set: str, expected: set[str]) -> None:
    vs = load(value_set)
    terminology = local_terminology(load("cs-filter.json"), load("cs-sub-prop.json"), vs)
    expansion = terminology.expand(vs["url"])
    assert expansion is not None and expansion.is_complete
    assert {code for _, code in expansion.codes} == expected


def test_observation_ucum_case() -> None:
    # observation-ucum.xml: the Java validator reports "Unknown code 'fmm[Hg]'" and accepts mm[Hg]{hg}
    text = (FILES / "observation-ucum.xml").read_text()
    assert "fmm[Hg]" in text
    assert validate_ucum("fmm[Hg]") is not None
    assert validate_ucum("mm[Hg]{hg}") is None


def test_cm_case_value_set_expands(local_terminology: Any) -> None:
    vs, cs = load("cm-vs.json"), load("cm-cs.json")
    expansion = local_terminology(cs, vs).expand(vs["url"])
    assert expansion is not None and expansion.is_complete and len(expansion) > 0
