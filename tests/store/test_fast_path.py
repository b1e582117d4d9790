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
    "Patient.birthDate.value",
    "Patient.telecom.where(value.length() > 3)",                # functions in criteria
    "Observation.where(value = 'x')",                           # a choice in criteria: types unknown                                   # into a primitive: not provable
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


def test_index_rows_are_the_same_with_and_without_the_native_evaluator(definitions: Definitions,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every search parameter of every served type (R4 core + the project's), every case bundle resource
    and candle fixture: the rows the store writes do not depend on which evaluator produced the values."""
    from fhir_service.store import search_params
    from fhir_service.store.indexer import index_resource

    resources = sample_resources()
    native = search_params.SearchParamRegistry(definitions)
    expected_rows = {id(r): index_resource(r, native.for_type(r["resourceType"])) for r in resources}
    monkeypatch.setattr(search_params, "compile_simple", lambda expression, definitions: None)
    monkeypatch.setattr(search_params, "compile_relative", lambda expression: None)
    engine_only = search_params.SearchParamRegistry(definitions)
    native_branches = 0
    for resource in resources:
        resource_type = resource["resourceType"]
        assert index_resource(resource, engine_only.for_type(resource_type)) == expected_rows[id(resource)], \
            f"{resource_type}/{resource.get('id')}"
    for resource_type in {r["resourceType"] for r in resources}:
        native_branches += sum(1 for p in native.for_type(resource_type).values() for b in p.branches
                               if getattr(b.evaluate, "__module__", "") == "fhir_service.store.fast_path")
    assert native_branches > 100


def test_every_served_type_compiles_its_parameters(definitions: Definitions) -> None:
    """All R4 SearchParameters of every served type: a native evaluator never throws on an empty resource
    and gives what the engine gives there."""
    from fhir_service.store.search_params import SearchParamRegistry

    registry = SearchParamRegistry(definitions)
    for resource_type in sorted(definitions.resource_types):
        for param in registry.for_type(resource_type).values():
            for branch in param.branches:
                empty = {"resourceType": resource_type, "id": "x"}
                assert branch.evaluate(empty) == compile_expression(branch.expression)(empty) or \
                    param.type == "composite", (resource_type, branch.expression)


def test_a_cast_choice_can_be_followed_into_the_chosen_type(definitions: Definitions) -> None:
    text = compile_simple("(Observation.value as CodeableConcept).text", definitions)
    assert text is not None
    assert text({"resourceType": "Observation", "valueCodeableConcept": {"text": "fever"}}) == ["fever"]
    assert text({"resourceType": "Observation", "valueString": "fever"}) == []
    assert compile_simple("(Observation.value as string).length", definitions) is None


def test_extensions_of_primitives_are_read_from_their_shadow_element(definitions: Definitions) -> None:
    url = "https://fhir.cart-tox.org/StructureDefinition/relative-day"
    expression = f"Condition.abatement.extension.where(url = '{url}').value.ofType(integer)"
    native = compile_simple(expression, definitions)
    assert native is not None
    resource = {"resourceType": "Condition", "abatementDateTime": "2020-01-02",
                "_abatementDateTime": {"extension": [{"url": url, "valueInteger": 9}, {"url": "other", "valueInteger": 1}]}}
    assert native(resource) == compile_expression(expression)(resource) == [9]
    period = compile_simple(f"MedicationAdministration.effective.ofType(Period).end.extension('{url}')", definitions)
    assert period is not None
    given = {"resourceType": "MedicationAdministration",
             "effectivePeriod": {"end": "2020", "_end": {"extension": [{"url": url, "valueInteger": 3}]}}}
    assert period(given) == [{"url": url, "valueInteger": 3}]


@pytest.mark.parametrize("expression,resource,expected", [
    ("Patient.telecom.where(system='email')",
     {"resourceType": "Patient", "telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "a@b"}]},
     [{"system": "email", "value": "a@b"}]),
    ("Observation.where(code.coding.where(system = 's' and (code = 'a' or code = 'b')).exists()).value.ofType(integer)",
     {"resourceType": "Observation", "code": {"coding": [{"system": "s", "code": "b"}]}, "valueInteger": 2}, [2]),
    ("Observation.where(code.coding.where(system = 's' and (code = 'a' or code = 'b')).exists()).value.ofType(integer)",
     {"resourceType": "Observation", "code": {"coding": [{"system": "t", "code": "b"}]}, "valueInteger": 2}, []),
    ("Observation.where(code.coding.where(system = 's' and (code = 'a' or code = 'b')).exists()).value.ofType(integer)",
     {"resourceType": "Observation", "code": {"coding": [{"code": "a"}]}, "valueInteger": 2}, []),
    ("Patient.telecom.where(system != 'email')",
     {"resourceType": "Patient", "telecom": [{"value": "1"}, {"system": "email"}, {"system": "fax"}]}, [{"system": "fax"}]),
])
def test_where_filters_run_natively_with_three_valued_logic(definitions: Definitions, expression: str,
                                                           resource: dict[str, Any], expected: list[Any]) -> None:
    native = compile_simple(expression, definitions)
    assert native is not None
    assert native(resource) == compile_expression(expression)(resource) == expected
