"""R4 <-> R5: the real differences, issues naming what R4/R5 cannot hold, and round trips that lose nothing."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_service.transform.params import VersionParams
from fhir_service.transform.r5 import to_r4, to_r5, validate_r5
from fhir_service.validation import Validator

R4_EXT = "http://hl7.org/fhir/4.0/StructureDefinition/extension-"
R5_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-"
PATIENT = {"fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
           "resource": {"resourceType": "Patient", "id": "11111111-1111-4111-8111-111111111111",
                        "gender": "female", "birthDate": "1970-02-03"}}
SUBJECT = {"reference": PATIENT["fullUrl"]}


def bundle_of(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    entries = [copy.deepcopy(PATIENT)]
    for index, resource in enumerate(resources):
        uid = f"22222222-2222-4222-8222-{index:012d}"
        entries.append({"fullUrl": f"urn:uuid:{uid}", "resource": {"id": uid, **copy.deepcopy(resource)}})
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def only(result: Any, index: int = 1) -> dict[str, Any]:
    return result.bundle["entry"][index]["resource"]


def r4_errors(bundle: dict[str, Any]) -> set[tuple[str | None, str | None]]:
    return {(i.expression, i.rule) for i in Validator().validate(bundle) if i.is_error}


# ---- round trips on the case bundles ---------------------------------------------------------------------

def test_case_bundles_round_trip_r4_r5_r4_to_equal_json(any_case: dict[str, Any]) -> None:
    r5 = to_r5(any_case)
    assert r5.ok, r5.issues
    assert validate_r5(r5.bundle) == []
    back = to_r4(r5.bundle)
    assert back.ok, back.issues
    assert back.bundle == any_case


def test_unconverted_case_bundles_are_not_valid_r5(any_case: dict[str, Any]) -> None:
    """The failing side: what the conversion fixes (R4 JSON read as R5)."""
    if any(e["resource"]["resourceType"] in ("MedicationAdministration", "Condition", "Encounter")
           for e in any_case["entry"]):
        assert validate_r5(any_case) != []


# ---- MedicationAdministration ------------------------------------------------------------------------------

MA_R4 = {
    "resourceType": "MedicationAdministration", "status": "completed",
    "instantiates": ["http://example.org/protocol/crs"],
    "statusReason": [{"text": "as planned"}],
    "category": {"text": "inpatient"},
    "medicationCodeableConcept": {"text": "tocilizumab"},
    "subject": SUBJECT,
    "context": {"reference": "Encounter/e1"},
    "effectivePeriod": {"start": "2024-01-02T10:00:00Z", "end": "2024-01-02T11:00:00Z"},
    "performer": [{"function": {"text": "nurse"}, "actor": {"reference": "Practitioner/p1"}}],
    "reasonCode": [{"text": "CRS grade 2"}],
    "reasonReference": [{"reference": "Condition/c1"}],
    "request": {"reference": "MedicationRequest/m1"},
    "device": [{"reference": "Device/pump"}],
    "note": [{"text": "over one hour"}],
    "dosage": {"text": "8 mg/kg", "dose": {"value": 8, "unit": "mg/kg"}, "rateRatio": {
        "numerator": {"value": 8, "unit": "mg"}, "denominator": {"value": 1, "unit": "h"}}},
}


def test_medication_administration_r5_shape() -> None:
    result = to_r5(bundle_of(MA_R4))
    ma = only(result)
    assert ma["medication"] == {"concept": {"text": "tocilizumab"}}
    assert ma["encounter"] == {"reference": "Encounter/e1"} and "context" not in ma
    assert ma["occurencePeriod"]["start"] == "2024-01-02T10:00:00Z" and "effectivePeriod" not in ma
    assert ma["reason"] == [{"concept": {"text": "CRS grade 2"}}, {"reference": {"reference": "Condition/c1"}}]
    assert ma["performer"][0]["actor"] == {"reference": {"reference": "Practitioner/p1"}}
    assert ma["device"] == [{"reference": {"reference": "Device/pump"}}]
    assert ma["category"] == [{"text": "inpatient"}]
    assert ma["extension"] == [{"url": R4_EXT + "MedicationAdministration.instantiates",
                                "valueUri": "http://example.org/protocol/crs"}]
    assert [i.expression for i in result.issues if i.severity == "warning"] == \
        ["Bundle.entry[1].resource.instantiates"]
    assert validate_r5(result.bundle) == []


def test_medication_administration_round_trip_with_episode_of_care_context() -> None:
    ma = {**MA_R4, "medicationReference": {"reference": "Medication/m"}, "context": {"reference": "EpisodeOfCare/x"}}
    del ma["medicationCodeableConcept"]
    source = bundle_of(ma)
    r5 = to_r5(source)
    assert "encounter" not in only(r5)
    assert any(i.expression == "Bundle.entry[1].resource.context" for i in r5.issues)
    assert validate_r5(r5.bundle) == []
    assert to_r4(r5.bundle).bundle == source


def test_strict_makes_preserved_losses_errors() -> None:
    assert to_r5(bundle_of(MA_R4)).ok
    assert not to_r5(bundle_of(MA_R4), VersionParams(strict=True)).ok


MA_R5 = {
    "resourceType": "MedicationAdministration", "status": "completed",
    "basedOn": [{"reference": "CarePlan/cp"}], "recorded": "2024-01-02T12:00:00Z", "isSubPotent": True,
    "subPotentReason": [{"text": "partial infusion"}],
    "category": [{"text": "inpatient"}, {"text": "urgent"}],
    "medication": {"concept": {"text": "tocilizumab"}, "reference": {"reference": "Medication/m"}},
    "subject": SUBJECT, "encounter": {"reference": "Encounter/e1"},
    "occurenceTiming": {"repeat": {"frequency": 1, "period": 8, "periodUnit": "h"}},
    "performer": [{"actor": {"concept": {"text": "infusion nurse"}}}],
    "device": [{"concept": {"text": "pump"}}, {"reference": {"reference": "Device/d"}}],
    "reason": [{"concept": {"text": "CRS"}}],
}


def test_r5_only_medication_administration_elements_are_named_and_kept() -> None:
    source = bundle_of(MA_R5)
    assert validate_r5(source) == []
    r4 = to_r4(source)
    ma = only(r4)
    assert ma["medicationReference"] == {"reference": "Medication/m"}
    assert ma["context"] == {"reference": "Encounter/e1"}
    assert ma["category"] == {"text": "inpatient"}
    assert ma["reasonCode"] == [{"text": "CRS"}]
    named = {i.expression for i in r4.issues if i.severity == "warning"}
    for element in ("basedOn", "recorded", "isSubPotent", "subPotentReason", "category", "medication",
                    "occurenceTiming", "device", "performer[0].actor"):
        assert f"Bundle.entry[1].resource.{element}" in named, element
    assert r4_errors(r4.bundle) == set()
    assert to_r5(r4.bundle).bundle == source


def test_a_reason_with_concept_and_reference_loses_its_pairing_in_r4() -> None:
    ma = {**MA_R5, "reason": [{"concept": {"text": "CRS"}, "reference": {"reference": "Condition/c"}}]}
    r4 = to_r4(bundle_of(ma))
    errors = [i for i in r4.issues if i.is_error]
    assert [i.expression for i in errors] == ["Bundle.entry[1].resource.reason[0]"]
    assert only(r4)["reasonCode"] == [{"text": "CRS"}]
    assert only(r4)["reasonReference"] == [{"reference": "Condition/c"}]


# ---- Observation ---------------------------------------------------------------------------------------

OBS_R4 = {
    "resourceType": "Observation", "status": "final", "code": {"text": "ECG"}, "subject": SUBJECT,
    "effectiveDateTime": "2024-01-03", "_effectiveDateTime": {"extension": [
        {"url": "https://fhir.cart-tox.org/StructureDefinition/relative-day", "valueInteger": 2}]},
    "valueSampledData": {"origin": {"value": 0}, "period": 4, "dimensions": 1, "data": "1 2 3"},
    "component": [{"code": {"text": "lead II"},
                   "valueSampledData": {"origin": {"value": 0}, "period": 2, "dimensions": 1, "data": "4"}}],
    "referenceRange": [{"low": {"value": 1}, "text": "normal"}],
}


def test_observation_sampled_data_period_becomes_interval_and_back() -> None:
    source = bundle_of(OBS_R4)
    r5 = to_r5(source)
    assert only(r5)["valueSampledData"]["interval"] == 4 and only(r5)["valueSampledData"]["intervalUnit"] == "ms"
    assert only(r5)["_effectiveDateTime"] == OBS_R4["_effectiveDateTime"]
    assert validate_r5(r5.bundle) == []
    assert to_r4(r5.bundle).bundle == source


def test_observation_r5_only_elements_go_to_extensions_and_come_back() -> None:
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "grade"}, "subject": SUBJECT,
           "triggeredBy": [{"observation": {"reference": "Observation/o0"}, "type": "reflex", "reason": "fever"}],
           "bodyStructure": {"reference": "BodyStructure/b"},
           "valueAttachment": {"contentType": "text/plain", "data": "eA=="},
           "referenceRange": [{"normalValue": {"text": "negative"}}],
           "component": [{"code": {"text": "x"}, "valueReference": {"reference": "Observation/o2"}}]}
    source = bundle_of(obs)
    assert validate_r5(source) == []
    r4 = to_r4(source)
    named = {i.expression for i in r4.issues}
    assert {"Bundle.entry[1].resource.triggeredBy", "Bundle.entry[1].resource.valueAttachment",
            "Bundle.entry[1].resource.component[0].valueReference",
            "Bundle.entry[1].resource.referenceRange[0].normalValue"} <= named
    assert not any(k.startswith("value") for k in only(r4))
    assert to_r5(r4.bundle).bundle == source


def test_a_sampled_interval_in_an_unknown_unit_is_an_error() -> None:
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
           "valueSampledData": {"origin": {"value": 0}, "interval": 1, "intervalUnit": "wk", "dimensions": 1}}
    assert [i.expression for i in to_r4(bundle_of(obs)).issues if i.is_error] == \
        ["Bundle.entry[1].resource.valueSampledData.interval"]
    obs["valueSampledData"]["intervalUnit"] = "s"
    r4 = to_r4(bundle_of(obs))
    assert r4.ok and only(r4)["valueSampledData"]["period"] == 1000


# ---- Condition -----------------------------------------------------------------------------------------

CONDITION_R4 = {
    "resourceType": "Condition",
    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                   "code": "resolved"}]},
    "code": {"text": "CRS"}, "subject": SUBJECT, "onsetDateTime": "2024-01-02",
    "asserter": {"reference": "Practitioner/a"}, "recorder": {"reference": "Practitioner/r"},
    "stage": [{"summary": {"text": "grade 2"}, "assessment": [{"reference": "Observation/g"}]}],
    "evidence": [{"code": [{"text": "fever"}], "detail": [{"reference": "Observation/t"}]}],
}


def test_condition_participants_and_evidence_in_r5() -> None:
    source = bundle_of(CONDITION_R4)
    r5 = to_r5(source)
    condition = only(r5)
    functions = [p["function"]["coding"][0]["code"] for p in condition["participant"]]
    assert functions == ["informant", "enterer"]
    assert condition["evidence"] == [{"concept": {"text": "fever"}, "reference": {"reference": "Observation/t"}}]
    assert r5.ok and [i for i in r5.issues if i.severity != "information"] == []
    assert validate_r5(r5.bundle) == []
    assert to_r4(r5.bundle).bundle == source


def test_condition_without_clinical_status_is_valid_r5_and_comes_back_without() -> None:
    condition = {k: v for k, v in CONDITION_R4.items() if k != "clinicalStatus"}
    source = bundle_of(condition)
    assert validate_r5({**condition, "evidence": []}) != []  # clinicalStatus is required in R5
    r5 = to_r5(source)
    assert [i.expression for i in r5.issues if i.severity == "warning"] == \
        ["Bundle.entry[1].resource.clinicalStatus"]
    assert validate_r5(r5.bundle) == []
    assert to_r4(r5.bundle).bundle == source


def test_grouped_evidence_survives_the_round_trip_in_an_extension() -> None:
    condition = {**CONDITION_R4, "evidence": [{"code": [{"text": "fever"}, {"text": "hypotension"}],
                                               "detail": [{"reference": "Observation/t"}]},
                                              {"code": [{"text": "hypoxia"}]}]}
    source = bundle_of(condition)
    r5 = to_r5(source)
    assert len(only(r5)["evidence"]) == 4
    assert any(e["url"] == R4_EXT + "Condition.evidence" for e in only(r5)["extension"])
    assert validate_r5(r5.bundle) == []
    assert to_r4(r5.bundle).bundle == source


def test_r5_participants_beyond_asserter_and_recorder_are_carried() -> None:
    condition = {**CONDITION_R4}
    r5_condition = to_r5(bundle_of(condition)).bundle["entry"][1]["resource"]
    r5_condition["participant"].append({"function": {"text": "verifier"}, "actor": {"reference": "Practitioner/v"}})
    source = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r5_condition}]}
    r4 = to_r4(source)
    assert [i.expression for i in r4.issues if i.severity == "warning"] == ["Bundle.entry[0].resource.participant[2]"]
    assert only(r4, 0)["asserter"] == {"reference": "Practitioner/a"}
    assert to_r5(r4.bundle).bundle == source


# ---- Encounter, Procedure, Group --------------------------------------------------------------------------

ENCOUNTER_R4 = {
    "resourceType": "Encounter", "status": "arrived",
    "statusHistory": [{"status": "planned", "period": {"start": "2024-01-01"}}],
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
    "serviceType": {"text": "haematology"}, "subject": SUBJECT,
    "participant": [{"individual": {"reference": "Practitioner/p"}}],
    "period": {"start": "2024-01-02"},
    "reasonCode": [{"text": "fever"}], "reasonReference": [{"reference": "Condition/c"}],
    "diagnosis": [{"condition": {"reference": "Condition/c"}, "use": {"text": "AD"}, "rank": 1}],
    "hospitalization": {"admitSource": {"text": "ER"}, "dietPreference": [{"text": "none"}]},
    "location": [{"location": {"reference": "Location/icu"}, "physicalType": {"text": "ward"}}],
}


def test_encounter_round_trip_and_r5_shape() -> None:
    source = bundle_of(ENCOUNTER_R4)
    r5 = to_r5(source)
    encounter = only(r5)
    assert encounter["status"] == "in-progress" and encounter["actualPeriod"] == {"start": "2024-01-02"}
    assert encounter["class"] == [{"coding": [ENCOUNTER_R4["class"]]}]
    assert encounter["reason"] == [{"value": [{"concept": {"text": "fever"}}]},
                                   {"value": [{"reference": {"reference": "Condition/c"}}]}]
    assert encounter["dietPreference"] == [{"text": "none"}] and "hospitalization" not in encounter
    assert {i.expression for i in r5.issues if i.severity == "warning"} == {
        "Bundle.entry[1].resource.status", "Bundle.entry[1].resource.statusHistory",
        "Bundle.entry[1].resource.diagnosis[0].rank"}
    assert validate_r5(r5.bundle) == []
    assert to_r4(r5.bundle).bundle == source


def test_procedure_and_group_round_trip() -> None:
    procedure = {"resourceType": "Procedure", "status": "completed", "code": {"text": "intubation"},
                 "subject": SUBJECT, "category": {"text": "airway"},
                 "performedPeriod": {"start": "2024-01-20", "end": "2024-01-21"},
                 "asserter": {"reference": "Practitioner/a"}, "reasonCode": [{"text": "hypoxia"}],
                 "complication": [{"text": "none"}], "usedCode": [{"text": "tube"}]}
    group = {"resourceType": "Group", "type": "person", "actual": True, "quantity": 38}
    source = bundle_of(procedure, group)
    r5 = to_r5(source)
    assert only(r5)["occurrencePeriod"]["start"] == "2024-01-20"
    assert only(r5, 2)["membership"] == "enumerated"
    assert validate_r5(r5.bundle) == []
    assert to_r4(r5.bundle).bundle == source


# ---- Bundle and the general rules ---------------------------------------------------------------------

def test_bundle_issues_become_an_outcome_entry_in_an_r4_searchset_and_back() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "too-costly",
                                                              "diagnostics": "truncated"}]}
    r5_bundle = {"resourceType": "Bundle", "type": "searchset", "total": 0, "issues": outcome}
    assert validate_r5(r5_bundle) == []
    r4 = to_r4(r5_bundle)
    assert r4.bundle["entry"] == [{"resource": outcome, "search": {"mode": "outcome"}}]
    assert to_r5(r4.bundle).bundle == r5_bundle


def test_bundle_issues_in_a_collection_cannot_be_r4() -> None:
    r5_bundle = {"resourceType": "Bundle", "type": "collection",
                 "issues": {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}}
    r4 = to_r4(r5_bundle)
    assert [i.expression for i in r4.issues if i.is_error] == ["Bundle.issues"] and "issues" not in r4.bundle


def test_an_element_unknown_to_the_target_is_dropped_and_named() -> None:
    patient_r5 = {"resourceType": "Patient", "gender": "male", "fooBar": True}
    r4 = to_r4({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient_r5}]})
    assert [i.expression for i in r4.issues if i.is_error] == ["Bundle.entry[0].resource.fooBar"]
    assert only(r4, 0) == {"resourceType": "Patient", "gender": "male"}


def test_types_without_converter_pass_unchanged_with_a_warning() -> None:
    device = {"resourceType": "Device", "status": "active"}
    result = to_r5({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": device}]})
    assert only(result, 0) == device
    assert [i.severity for i in result.issues] == ["warning"]


@pytest.mark.parametrize("transform", [to_r5, to_r4])
def test_not_a_bundle_is_refused(transform: Any) -> None:
    result = transform({"resourceType": "Patient"})
    assert result.bundle is None and result.issues[0].code == "structure"


def test_r4_output_of_r5_only_elements_is_valid_r4() -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "grade"}, "subject": SUBJECT,
                   "triggeredBy": [{"observation": {"reference": "Observation/o0"}, "type": "reflex"}],
                   "valueReference": {"reference": "Observation/o1"}}
    condition = dict(to_r5(bundle_of(CONDITION_R4)).bundle["entry"][1]["resource"])
    condition["participant"] = condition["participant"] + [{"function": {"text": "verifier"},
                                                            "actor": {"reference": "Practitioner/v"}}]
    r5_bundle = bundle_of(observation, condition)
    assert validate_r5(r5_bundle) == []
    r4 = to_r4(r5_bundle)
    assert r4.ok
    assert r4_errors(r4.bundle) == set()
    assert r4_errors(r5_bundle) != set()  # the failing side: R5 elements read as R4


def test_link_relations_outside_iana_are_reported_for_r5() -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "link": [{"relation": "self", "url": "http://x/Patient"}, {"relation": "nextpage", "url": "http://x/2"}]}
    result = to_r5(bundle)
    assert [i.expression for i in result.issues] == ["Bundle.link[1].relation"]
    assert result.bundle == bundle


def test_attachment_size_is_an_integer64_string_in_r5() -> None:
    patient = {"resourceType": "Patient", "photo": [{"contentType": "image/png", "size": 1024}]}
    source = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    # R5 JSON writes integer64 as a string (fhir.resources accepts a number too, so the shape is asserted)
    r5 = to_r5(source)
    assert only(r5, 0)["photo"][0]["size"] == "1024" and validate_r5(r5.bundle) == []
    assert to_r4(r5.bundle).bundle == source
    r5.bundle["entry"][0]["resource"]["photo"][0]["size"] = str(2**40)
    too_big = to_r4(r5.bundle)
    assert [i.expression for i in too_big.issues if i.is_error] == ["Bundle.entry[0].resource.photo[0].size"]


def test_r5_outputs_round_trip_r5_r4_r5(any_case: dict[str, Any]) -> None:
    r5 = to_r5(any_case).bundle
    assert to_r5(to_r4(r5).bundle).bundle == r5
