"""Any JSON shape yields issues, never an exception: wrong types in every place the validator reads."""
from __future__ import annotations

import random
from typing import Any

from fhir_service.validation import Validator

NARRATIVE = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}
WEIRD: list[Any] = [None, 1, -1.5, True, "", "x", [], {}, [None], [{}], {"a": 1}, "2023-02-30", 10**30, [1, "a"],
                    {"reference": 5}, {"url": 3}, {"linkId": {}}, {"resourceType": {}}]
SEEDS: list[dict[str, Any]] = [
    {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:0a0b0c0d-0000-4000-8000-000000000001", "resource": {
            "resourceType": "Patient", "text": NARRATIVE, "name": [{"given": ["A"], "_given": [{"id": "g"}]}],
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-animal", "extension": [
                {"url": "species", "valueCodeableConcept": {"text": "dog"}}]}]}},
        {"fullUrl": "urn:uuid:0a0b0c0d-0000-4000-8000-000000000002", "resource": {
            "resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "http://loinc.org",
                                                                                   "code": "8310-5"}]},
            "subject": {"reference": "urn:uuid:0a0b0c0d-0000-4000-8000-000000000001"},
            "contained": [{"resourceType": "Device", "id": "d"}], "device": {"reference": "#d"},
            "component": [{"code": {"text": "c"}, "valueQuantity": {"value": 1, "code": "mg",
                                                                     "system": "http://unitsofmeasure.org"}}]}}]},
    {"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": "#q", "contained": [
        {"resourceType": "Questionnaire", "id": "q", "status": "active", "item": [
            {"linkId": "a", "type": "integer", "enableWhen": [{"question": "b", "operator": "=",
                                                                "answerInteger": 1}]}]}],
     "item": [{"linkId": "a", "answer": [{"valueInteger": 1}]}]},
    {"resourceType": "StructureDefinition", "url": "http://example.test/sd", "name": "X", "status": "draft",
     "kind": "resource", "abstract": False, "type": "Patient", "derivation": "constraint",
     "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient", "differential": {"element": [
         {"id": "Patient.identifier", "path": "Patient.identifier",
          "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}}]}},
]


def mutate(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        out = dict(value)
        if out and rng.random() < 0.3:
            out[rng.choice(list(out))] = rng.choice(WEIRD)
        return {k: mutate(v, rng) if rng.random() < 0.5 else v for k, v in out.items()}
    if isinstance(value, list):
        return [mutate(v, rng) for v in value]
    return value


def test_mutated_resources_give_issues_not_exceptions(validator: Validator) -> None:
    rng = random.Random(20240601)
    for _ in range(60):
        for seed in SEEDS:
            issues = validator.validate(mutate(seed, rng))
            assert not [i for i in issues if i.code == "exception"], [i.diagnostics for i in issues]
