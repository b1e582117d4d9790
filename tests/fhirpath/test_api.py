"""The public contract of fhir_service.fhirpath: compile once, evaluate over plain JSON, one error type."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from fhir_service import fhirpath
from fhir_service.fhirpath import FhirPathError

OBSERVATION = {
    "resourceType": "Observation",
    "id": "temp",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
    "subject": {"reference": "Patient/p1"},
    "valueQuantity": {"value": 39.2, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"},
    "component": [{"code": {"text": "site"}, "valueString": "oral"}],
}


def test_compile_is_cached_by_expression_text() -> None:
    assert fhirpath.compile("Observation.code") is fhirpath.compile("Observation.code")


@pytest.mark.parametrize("bad", ["2 + 2 /", "Patient.name.", "Patient.name.where(", "a b", "", "2 + 2 /* open"])
def test_syntax_error_raises_fhirpath_error(bad: str) -> None:
    with pytest.raises(FhirPathError) as info:
        fhirpath.compile(bad)
    assert isinstance(info.value, ValueError)
    assert "syntax error" in str(info.value) or "empty" in str(info.value)


def test_runtime_error_raises_fhirpath_error() -> None:
    with pytest.raises(FhirPathError, match="noSuchFunction"):
        fhirpath.evaluate(OBSERVATION, "Observation.noSuchFunction()")
    with pytest.raises(FhirPathError):
        fhirpath.evaluate(OBSERVATION, "Observation.component.code.single().text | (1 | 2).single()")


def test_evaluate_returns_the_json_values_of_the_resource() -> None:
    assert fhirpath.evaluate(OBSERVATION, "Observation.code") == [OBSERVATION["code"]]
    assert fhirpath.evaluate(OBSERVATION, "Observation.value.value") == [39.2]
    assert fhirpath.evaluate(OBSERVATION, "Patient.name") == []


def test_computed_values_become_json_like() -> None:
    assert fhirpathpy_literal("@2020-01-02") == ["2020-01-02"]
    assert fhirpathpy_literal("1.5 + 1") == [Decimal("2.5")]
    assert fhirpathpy_literal("2 'mg'") == [{"value": 2, "unit": "mg", "system": "http://unitsofmeasure.org",
                                              "code": "mg"}]


def fhirpathpy_literal(expression: str) -> list:
    return fhirpath.evaluate({}, expression)


def test_context_type_types_a_nested_focus() -> None:
    quantity = OBSERVATION["valueQuantity"]
    qty3 = "code.empty() or system.exists()"
    assert fhirpath.evaluate(quantity, qty3, context_type="Observation.valueQuantity") == [True]
    assert fhirpath.evaluate(quantity, "$this is Quantity", context_type="Quantity") == [True]
    assert fhirpath.evaluate(quantity, "$this is Quantity", context_type="Observation.valueQuantity") == [True]
    assert fhirpath.evaluate(quantity, "$this is Period", context_type="Quantity") == [False]
    component = OBSERVATION["component"][0]
    # choice types resolve under the backbone element's path
    assert fhirpath.evaluate(component, "value", context_type="Observation.component") == ["oral"]
    assert fhirpath.evaluate(component, "value is string", context_type="Observation.component") == [True]
    assert fhirpath.evaluate(component, "value", context_type=None) == []


def test_environment_variables() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": OBSERVATION}]}
    assert fhirpath.evaluate(OBSERVATION["code"], "%resource.id", resource=OBSERVATION,
                             context_type="Observation.code") == ["temp"]
    assert fhirpath.evaluate(OBSERVATION, "%rootResource.type", root_resource=bundle) == ["collection"]
    assert fhirpath.evaluate(OBSERVATION, "%resource.id | %rootResource.id") == ["temp"]
    assert fhirpath.evaluate(OBSERVATION, "%context.id") == ["temp"]
    # plain dicts as %resource / %rootResource are typed by their resourceType
    assert fhirpath.evaluate(OBSERVATION["code"], "%resource is Observation", resource=OBSERVATION,
                             context_type="Observation.code") == [True]
    assert fhirpath.evaluate(OBSERVATION, "%rootResource.type().name", root_resource=bundle) == ["Bundle"]
    assert fhirpath.evaluate({}, "%ucum | %sct | %loinc") == [
        "http://unitsofmeasure.org", "http://snomed.info/sct", "http://loinc.org"]
    assert fhirpath.evaluate({}, "%`vs-administrative-gender`") == [
        "http://hl7.org/fhir/ValueSet/administrative-gender"]
    assert fhirpath.evaluate({}, "%`ext-patient-birthTime`") == [
        "http://hl7.org/fhir/StructureDefinition/patient-birthTime"]
    assert fhirpath.evaluate({}, "%factor + 1", variables={"factor": 3}) == [4]
    with pytest.raises(FhirPathError, match="undefined"):
        fhirpath.evaluate({}, "%notDefined")


def test_resolve_uses_contained_then_callback_else_bundle() -> None:
    patient = {"resourceType": "Patient", "id": "p1"}
    obs = dict(OBSERVATION, contained=[{"resourceType": "Device", "id": "d"}], device={"reference": "#d"})
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "urn:uuid:p", "resource": patient}, {"fullUrl": "urn:uuid:o", "resource": obs}]}
    assert fhirpath.evaluate(obs, "device.resolve().id") == ["d"]
    assert fhirpath.evaluate(obs, "subject.resolve().id") == []  # unresolvable: empty, no error
    assert fhirpath.evaluate(obs, "subject.where(resolve() is Patient)", root_resource=bundle) == [
        {"reference": "Patient/p1"}]
    seen: list[str] = []

    def resolver(reference: str) -> dict | None:
        seen.append(reference)
        return patient if reference == "Patient/p1" else None

    assert fhirpath.evaluate(obs, "subject.resolve().id", resolver=resolver) == ["p1"]
    assert seen == ["Patient/p1"]


@pytest.mark.parametrize(("result", "expected"), [
    ([True], True), ([False], False), ([], False), (["text"], True), ([1, 2], True), ([0], True),
])
def test_is_true_follows_invariant_semantics(result: list, expected: bool) -> None:
    assert fhirpath.is_true(result) is expected


def test_invariants_on_a_resource() -> None:
    obs6 = fhirpath.compile("dataAbsentReason.empty() or value.empty()")
    assert fhirpath.is_true(obs6.evaluate(OBSERVATION))
    broken = dict(OBSERVATION, dataAbsentReason={"text": "lost"})
    assert not fhirpath.is_true(obs6.evaluate(broken))
    ele1 = fhirpath.compile("hasValue() or (children().count() > id.count())")
    assert fhirpath.is_true(ele1.evaluate(OBSERVATION["code"], context_type="Observation.code"))
    assert not fhirpath.is_true(ele1.evaluate({"id": "x"}, context_type="Observation.code"))


def test_compiled_path_is_safe_across_threads() -> None:
    path = fhirpath.compile("Observation.component.where(value = 'oral').exists()")
    results: list[list] = []

    def work() -> None:
        for _ in range(50):
            results.append(path.evaluate(OBSERVATION))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[True]] * 200


def test_context_type_accepts_element_ids_with_slices_and_choice_markers() -> None:
    component = OBSERVATION["component"][0]
    assert fhirpath.evaluate(component, "value is string", context_type="Observation.component:site") == [True]
    assert fhirpath.evaluate(OBSERVATION["valueQuantity"], "$this is Quantity",
                             context_type="Observation.value[x]:valueQuantity") == [True]


def test_resolver_may_come_in_the_variables() -> None:
    found = fhirpath.evaluate(OBSERVATION, "subject.resolve().id",
                              variables={"resolver": lambda ref: {"resourceType": "Patient", "id": "p1"}})
    assert found == ["p1"]


def test_resolve_in_bundle_by_full_url_type_id_and_absolute_url() -> None:
    patient = {"resourceType": "Patient", "id": "p1"}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "http://example.org/fhir/Patient/p1", "resource": patient}]}
    for reference in ("http://example.org/fhir/Patient/p1", "Patient/p1", "http://other.org/Patient/p1"):
        obs = {"resourceType": "Observation", "subject": {"reference": reference}}
        assert fhirpath.evaluate(obs, "subject.resolve().id", root_resource=bundle) == ["p1"], reference
    obs = {"resourceType": "Observation", "subject": {"reference": "Patient/p2"}}
    assert fhirpath.evaluate(obs, "subject.resolve().id", root_resource=bundle) == []
    bundle["entry"].append({"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Patient", "id": "p2"}})
    assert fhirpath.evaluate(obs, "subject.resolve().id", root_resource=bundle) == ["p2"]  # index rebuilt


def test_environment_resources_carry_their_types() -> None:
    """The HL7 validator case contained-invariant: %context, %resource and %rootResource inside contained."""
    patient = {"resourceType": "Patient", "contained": [{"resourceType": "Practitioner", "id": "p1",
                                                        "name": [{"text": "Dr Malaprop"}]}],
               "generalPractitioner": [{"reference": "#p1"}]}
    practitioner = patient["contained"][0]
    cont_1 = ("%context.type().name = 'Practitioner' and %resource.type().name = 'Patient' and "
              "%rootResource.type().name = 'Patient'")
    cont_2 = ("%context.type().name = 'HumanName' and %resource.type().name = 'Practitioner' and "
              "%rootResource.type().name = 'Patient'")
    cont_3 = ("%context.type().name = 'Reference' and %resource.type().name = 'Patient' and "
              "%rootResource.type().name = 'Patient'")
    assert fhirpath.evaluate(practitioner, cont_1, resource=patient) == [True]
    assert fhirpath.evaluate(practitioner["name"][0], cont_2, resource=practitioner, root_resource=patient,
                             context_type="Practitioner.name") == [True]
    assert fhirpath.evaluate(patient["generalPractitioner"][0], cont_3, resource=patient,
                             context_type="Patient.generalPractitioner") == [True]
    assert fhirpath.evaluate(practitioner, cont_2, resource=patient) == [False]


def test_this_at_the_top_level_is_the_focus() -> None:
    assert fhirpath.evaluate(OBSERVATION, "$this.id") == ["temp"]
    assert fhirpath.evaluate(OBSERVATION, "$this.type().name") == ["Observation"]
    assert fhirpath.evaluate(OBSERVATION["code"], "$this.type().name", context_type="Observation.code") == [
        "CodeableConcept"]


def test_context_type_through_contained_uses_the_contained_resource_type() -> None:
    practitioner = {"resourceType": "Practitioner", "id": "p1", "name": [{"text": "Dr Malaprop"}]}
    patient = {"resourceType": "Patient", "contained": [practitioner]}
    assert fhirpath.evaluate(practitioner["name"][0], "$this.type().name", resource=practitioner,
                             root_resource=patient, context_type="Patient.contained.name") == ["HumanName"]
    assert fhirpath.evaluate(practitioner["name"][0], "$this.type().name", resource=patient,
                             context_type="Patient.name") == ["HumanName"]


def test_too_deep_data_is_a_fhirpath_error_and_a_recursion_error() -> None:
    deep: dict = {"resourceType": "Questionnaire", "item": []}
    level = deep
    for _ in range(3000):
        child: dict = {"linkId": "x", "item": []}
        level["item"].append(child)
        level = child
    with pytest.raises(fhirpath.FhirPathRecursionError) as info:
        fhirpath.evaluate(deep, "item = item")  # deep structural equality
    assert isinstance(info.value, FhirPathError) and isinstance(info.value, RecursionError)


def test_caller_functions_apply_to_one_evaluation_only() -> None:
    def shout(ctx: dict, inputs: list) -> list:
        return [str(getattr(item, "data", item)).upper() for item in inputs]

    extra = {"shout": {"fn": shout}}
    path = fhirpath.compile("status.shout()")
    assert path.evaluate(OBSERVATION, functions=extra) == ["FINAL"]
    assert path.evaluate(OBSERVATION, functions=extra) == ["FINAL"]  # merged table reused
    with pytest.raises(FhirPathError, match="shout"):
        path.evaluate(OBSERVATION)


def test_empty_focus() -> None:
    assert fhirpath.evaluate([], "name.given") == []
    assert fhirpath.evaluate([], "$this.exists()") == [False]
