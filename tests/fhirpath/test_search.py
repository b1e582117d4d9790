"""Search-parameter extraction over the R4 core SearchParameters the project indexes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_service.definitions import Definitions
from fhir_service.fhirpath import FhirPathError
from fhir_service.fhirpath.search import extract, extract_typed, stub_resolver

INPUTS = Path(__file__).resolve().parents[1] / "conformance" / "data" / "fhirpath" / "fhirpath.js" / "resources" / "r4"
RESOURCE_TYPES = ("Patient", "Observation", "Condition", "MedicationAdministration")

CONDITION = {
    "resourceType": "Condition", "id": "crs",
    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                   "code": "resolved"}]},
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "785796004"}]},
    "subject": {"reference": "Patient/p1"},
    "onsetDateTime": "2021-03-02", "abatementAge": {"value": 41, "unit": "a", "system": "http://unitsofmeasure.org",
                                                     "code": "a"},
}
MEDICATION_ADMINISTRATION = {
    "resourceType": "MedicationAdministration", "id": "toci", "status": "completed",
    "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                              "code": "612865"}]},
    "subject": {"reference": "urn:uuid:0c3d1b9e-0000-4000-8000-000000000001"},
    "effectivePeriod": {"start": "2021-03-03T10:00:00Z", "end": "2021-03-03T11:00:00Z"},
}


def _inputs() -> list[dict[str, Any]]:
    resources = [json.loads(path.read_text()) for path in sorted(INPUTS.glob("*.json"))]
    return resources + [CONDITION, MEDICATION_ADMINISTRATION]


def test_stub_resolver_reads_the_type_from_literal_references() -> None:
    assert stub_resolver("Patient/123") == {"resourceType": "Patient", "id": "123"}
    assert stub_resolver("http://example.org/fhir/Group/g1/_history/2") == {"resourceType": "Group", "id": "g1"}
    assert stub_resolver("urn:uuid:0c3d1b9e-0000-4000-8000-000000000001") is None
    assert stub_resolver("#contained") is None


def test_reference_type_filters() -> None:
    observation = {"resourceType": "Observation", "subject": {"reference": "Patient/p1"}}
    group_observation = {"resourceType": "Observation", "subject": {"reference": "Group/g1"}}
    patient_param = "Observation.subject.where(resolve() is Patient)"
    assert extract(observation, patient_param) == [{"reference": "Patient/p1"}]
    assert extract(group_observation, patient_param) == []


def test_choice_types_unions_and_indexes() -> None:
    assert extract(CONDITION, "Condition.onset.as(dateTime) | Condition.onset.as(Period)") == ["2021-03-02"]
    assert extract(CONDITION, "Condition.abatement.as(Age) | Condition.abatement.as(Range)") == [
        CONDITION["abatementAge"]]
    assert extract_typed(MEDICATION_ADMINISTRATION, "(MedicationAdministration.medication as CodeableConcept)")[0][0] \
        == "CodeableConcept"
    assert extract_typed(MEDICATION_ADMINISTRATION, "MedicationAdministration.effective")[0] == (
        "Period", MEDICATION_ADMINISTRATION["effectivePeriod"])
    bundle = {"resourceType": "Bundle", "entry": [{"resource": CONDITION}]}
    assert extract(bundle, "Bundle.entry[0].resource") == [CONDITION]
    assert extract(CONDITION, "Resource.id") == ["crs"]
    assert extract(CONDITION, "Observation.code") == []


def test_bad_expression_raises() -> None:
    with pytest.raises(FhirPathError):
        extract(CONDITION, "Condition.code.where(")


@pytest.mark.parametrize("resource_type", RESOURCE_TYPES)
def test_every_core_search_parameter_compiles_and_evaluates(definitions: Definitions, resource_type: str) -> None:
    parameters = [p for p in definitions.search_parameters(resource_type) if p.get("expression")]
    assert parameters, f"no search parameters for {resource_type}"
    resources = _inputs()
    extracted = 0
    for parameter in parameters:
        for resource in resources:
            try:
                values = extract(resource, parameter["expression"])
            except FhirPathError as exc:  # pragma: no cover - the assertion message is the point
                pytest.fail(f"{parameter.get('url')} on {resource.get('resourceType')}/{resource.get('id')}: {exc}")
            extracted += len(values)
    assert extracted > 0


def test_every_core_search_parameter_and_invariant_compiles(definitions: Definitions) -> None:
    from fhir_service import fhirpath

    expressions = {sp["expression"] for sp in definitions.resources_of_type("SearchParameter") if sp.get("expression")}
    for structure in definitions.resources_of_type("StructureDefinition"):
        for element in (structure.get("snapshot") or {}).get("element", []):
            expressions |= {c["expression"] for c in element.get("constraint") or () if c.get("expression")}
    assert len(expressions) > 500
    failures = []
    for expression in expressions:
        try:
            fhirpath.compile(expression)
        except FhirPathError as exc:
            failures.append(str(exc))
    assert failures == []
