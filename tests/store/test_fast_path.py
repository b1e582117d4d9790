"""The native path evaluator gives exactly what the FHIRPath engine gives, on real resources."""
from __future__ import annotations

from typing import Any

import pytest

from fhir_service.definitions import Definitions
from fhir_service.store import fhirjson
from fhir_service.store.fast_path import compile_simple
from fhir_service.store.fhirpath_adapter import compile_expression
from fhir_service.store.search_params import branches_for
from tests.conftest import CONFORMANCE_DATA, REPO


def sample_resources() -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    files = sorted((REPO / "bundles").glob("*.json")) + \
        sorted((CONFORMANCE_DATA / "fhir-candle-search" / "fixtures-r4").glob("*.json"))
    for path in files:
        data = fhirjson.loads(path.read_bytes())
        entries = [e.get("resource") for e in data.get("entry", [])] if data.get("resourceType") == "Bundle" else []
        resources += [r for r in [data, *entries] if isinstance(r, dict)]
    return resources


def test_simple_paths_agree_with_the_engine(definitions: Definitions) -> None:
    resources = sample_resources()
    assert len(resources) > 50
    compared = 0
    for resource in resources:
        resource_type = resource["resourceType"]
        for sp in definitions.search_parameters(resource_type):
            for expression, _ in branches_for(sp.get("expression") or "", resource_type):
                fast = compile_simple(expression, definitions)
                if fast is None:
                    continue
                try:
                    expected = compile_expression(expression)(resource)
                except Exception:
                    continue
                assert fast(resource) == expected, (expression, resource.get("id"))
                compared += 1
    assert compared > 1000


@pytest.mark.parametrize("expression", [
    "Patient.deceased.exists() and Patient.deceased != false",  # logic: the engine's job
    "Patient.telecom.where(system='email')",
    "Patient.birthDate.value",                                   # into a primitive: not provable
    "Observation.nonsense",
])
def test_what_is_not_provably_simple_is_left_to_the_engine(definitions: Definitions, expression: str) -> None:
    assert compile_simple(expression, definitions) is None


def test_choice_elements_come_from_the_definitions(definitions: Definitions) -> None:
    effective = compile_simple("Observation.effective", definitions)
    assert effective({"resourceType": "Observation", "effectivePeriod": {"start": "2020"}}) == [{"start": "2020"}]
    klass = compile_simple("Encounter.class", definitions)
    assert klass({"resourceType": "Encounter", "classHistory": [{"class": {"code": "x"}}]}) == []
    quantity = compile_simple("(Observation.value as Quantity)", definitions)
    assert quantity({"resourceType": "Observation", "valueString": "x"}) == []


def test_presence_guard_only_skips_what_the_engine_finds_empty(definitions: Definitions) -> None:
    from fhir_service.store.fast_path import presence_guard

    guarded = 0
    for resource in sample_resources():
        resource_type = resource["resourceType"]
        for sp in definitions.search_parameters(resource_type):
            for expression, _ in branches_for(sp.get("expression") or "", resource_type):
                guard = presence_guard(expression, resource_type)
                if guard is None or guard(resource):
                    continue
                try:
                    result = compile_expression(expression)(resource)
                except Exception:
                    continue
                assert result == [], (expression, resource.get("id"))
                guarded += 1
    assert guarded > 50


@pytest.mark.parametrize("expression", [
    "Patient.deceased.exists() and Patient.deceased != false",
    "Patient.name.exists()",           # exists() turns empty into false: no guard
    "Patient.name | Patient.address",
])
def test_no_guard_where_empty_input_can_give_a_value(expression: str) -> None:
    from fhir_service.store.fast_path import presence_guard

    assert presence_guard(expression, "Patient") is None
