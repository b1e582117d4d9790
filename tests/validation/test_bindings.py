"""Terminology bindings over the packages' own ValueSets and CodeSystems (no network): required -> error,
extensible -> warning, codes of external systems the packages do not enumerate (SNOMED CT, LOINC) -> information."""
from __future__ import annotations

from typing import Any

import pytest

from fhir_service.validation import Validator
from tests.validation.vhelpers import by_severity, definitions_with, errors, messages, profile

NARRATIVE = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}
BASE = "http://example.test/"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
SCT = "http://snomed.info/sct"

VITALS_ONLY = {"resourceType": "ValueSet", "url": BASE + "ValueSet/vitals-only", "status": "active",
               "compose": {"include": [{"system": CATEGORY, "concept": [{"code": "vital-signs"}]}]}}
ANY_SNOMED = {"resourceType": "ValueSet", "url": BASE + "ValueSet/any-snomed", "status": "active",
              "compose": {"include": [{"system": SCT}]}}
BOUND = profile(BASE + "StructureDefinition/bound", "Observation", [
    {"path": "Observation.category", "binding": {"strength": "extensible", "valueSet": VITALS_ONLY["url"]}},
    {"path": "Observation.code", "binding": {"strength": "required", "valueSet": ANY_SNOMED["url"]}},
])


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(definitions_with(VITALS_ONLY, ANY_SNOMED, BOUND))


def observation(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "text": NARRATIVE,
            "code": {"coding": [{"system": SCT, "code": "386725007"}]}, **fields}


def test_required_binding_on_a_code(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "text": NARRATIVE, "gender": "robot"}
    issues = errors(validator.validate(patient))
    assert [i.expression for i in issues] == ["Patient.gender"] and "robot" in issues[0].diagnostics
    patient["gender"] = "female"
    assert not errors(validator.validate(patient))


def test_required_binding_on_a_codeable_concept(validator: Validator) -> None:
    condition = {"resourceType": "Condition", "text": NARRATIVE, "subject": {"reference": "Patient/1"},
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                "code": "gone"}]}}
    assert any(i.expression == "Condition.clinicalStatus" for i in errors(validator.validate(condition)))
    condition["clinicalStatus"]["coding"][0]["code"] = "active"
    assert not errors(validator.validate(condition)), messages(validator.validate(condition))


def test_extensible_binding_gives_a_warning(validator: Validator) -> None:
    lab = observation(category=[{"coding": [{"system": CATEGORY, "code": "laboratory"}]}])
    issues = validator.validate(lab, [BOUND["url"]])
    assert not errors(issues), messages(issues)
    assert any(i.expression == "Observation.category[0]" for i in by_severity(issues, "warning"))
    vitals = observation(category=[{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}])
    assert not [i for i in validator.validate(vitals, [BOUND["url"]]) if i.expression == "Observation.category[0]"]


def test_external_code_system_is_information_not_error(validator: Validator) -> None:
    issues = validator.validate(observation(), [BOUND["url"]])
    assert not errors(issues), messages(issues)
    infos = [i for i in by_severity(issues, "information") if i.expression == "Observation.code"]
    assert infos and "386725007" in infos[0].diagnostics


def test_unknown_code_in_a_known_code_system(validator: Validator) -> None:
    obs = observation(category=[{"coding": [{"system": CATEGORY, "code": "not-a-category"}]}])
    assert any(i.expression == "Observation.category[0].coding[0].code" for i in errors(validator.validate(obs)))


def test_wrong_display_for_a_known_code(validator: Validator) -> None:
    wrong = observation(category=[{"coding": [{"system": CATEGORY, "code": "vital-signs", "display": "Lab stuff"}]}])
    issues = errors(validator.validate(wrong))
    assert [i.expression for i in issues] == ["Observation.category[0].coding[0].display"], messages(issues)
    right = observation(category=[{"coding": [{"system": CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}])
    assert not errors(validator.validate(right))


def test_an_additional_required_binding_must_be_met() -> None:
    """R5's binding.additional, carried in R4 by an extension on the binding (the example binding is not checked)."""
    additional = profile(BASE + "StructureDefinition/additional", "Observation", [
        {"path": "Observation.category", "binding": {
            "strength": "example", "valueSet": "http://hl7.org/fhir/ValueSet/observation-category",
            "extension": [{"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.binding"
                                  ".additional",
                           "extension": [{"url": "purpose", "valueCode": "required"},
                                         {"url": "valueSet", "valueCanonical": VITALS_ONLY["url"]}]}]}}])
    check = Validator(definitions_with(VITALS_ONLY, additional))

    def categorised(code: str) -> dict[str, Any]:
        return observation(category=[{"coding": [{"system": CATEGORY, "code": code}]}])

    found = errors(check.validate(categorised("laboratory"), [additional["url"]]))
    assert any("specified in an additional binding (required)" in i.diagnostics for i in found), messages(found)
    assert not errors(check.validate(categorised("vital-signs"), [additional["url"]]))


def test_a_display_the_bound_value_set_gives_the_code_is_accepted() -> None:
    """The profile's own (contained) value set lists `C` as 'alt-display': that display is valid here."""
    v2 = "http://terminology.hl7.org/CodeSystem/v2-0131"
    translated = profile(BASE + "StructureDefinition/translated", "Patient", [
        {"path": "Patient.contact.relationship", "binding": {"strength": "required", "valueSet": "#relationships"}}])
    translated["contained"] = [{"resourceType": "ValueSet", "id": "relationships", "status": "draft",
                                "url": BASE + "ValueSet/relationships",
                                "expansion": {"timestamp": "2019-05-23T10:18:03Z", "contains": [
                                    {"system": v2, "code": "C", "display": "alt-display"},
                                    {"system": v2, "code": "N", "designation": [{"value": "alt-designation"}]}]}}]
    check = Validator(definitions_with(translated))

    def patient(code: str, display: str) -> dict[str, Any]:
        return {"resourceType": "Patient", "text": NARRATIVE, "contact": [{"name": {"family": "X"}, "relationship": [
            {"coding": [{"system": v2, "code": code, "display": display}]}]}]}

    def display_errors(resource: dict[str, Any], profiles: list[str]) -> list[str]:
        return [i.diagnostics for i in errors(check.validate(resource, profiles)) if "display" in i.diagnostics]

    assert display_errors(patient("C", "alt-display"), [])  # the code system's own displays only
    assert not display_errors(patient("C", "alt-display"), [translated["url"]])
    assert not display_errors(patient("N", "alt-designation"), [translated["url"]])
    assert display_errors(patient("C", "made-up"), [translated["url"]])
