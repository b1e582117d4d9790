"""Bundles: every entry validated as its own resource type, issues located at Bundle.entry[i].resource...;
meta.profile of an entry honoured; reference targets inside the Bundle resolved through its entries."""
from __future__ import annotations

from typing import Any

from fhir_service.validation import Validator
from tests.validation.vhelpers import errors, messages

NARRATIVE = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}
PATIENT = "urn:uuid:9d7f3c1e-2b4a-4c6d-8e0f-1a2b3c4d5e6f"
OBS = "urn:uuid:1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


def bundle(*resources: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": url, "resource": res} for url, res in resources]}


def patient(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "text": NARRATIVE, **fields}


def observation(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "text": NARRATIVE, "status": "final", "code": {"text": "x"},
            "subject": {"reference": PATIENT}, **fields}


def test_entry_issues_carry_bundle_paths(validator: Validator) -> None:
    issues = errors(validator.validate(bundle((PATIENT, patient(birthDate="2023-02-30")),
                                              (OBS, observation(status="done")))))
    where = {(i.expression, i.location) for i in issues}
    assert ("Bundle.entry[0].resource.birthDate", ("entry", 0, "resource", "birthDate")) in where
    assert ("Bundle.entry[1].resource.status", ("entry", 1, "resource", "status")) in where, messages(issues)


def test_each_entry_is_validated_as_its_own_type(validator: Validator) -> None:
    good = bundle((PATIENT, patient(gender="female")), (OBS, observation()))
    assert not errors(validator.validate(good)), messages(validator.validate(good))
    swapped = bundle((PATIENT, patient(status="final")), (OBS, observation(gender="female")))
    issues = errors(validator.validate(swapped))
    assert {i.location for i in issues} >= {("entry", 0, "resource", "status"), ("entry", 1, "resource", "gender")}


def test_entry_without_resource_type(validator: Validator) -> None:
    issues = errors(validator.validate(bundle((PATIENT, {"gender": "female"}))))
    assert any(i.location == ("entry", 0, "resource") for i in issues)


def test_reference_target_type_resolved_inside_the_bundle(validator: Validator) -> None:
    org = "urn:uuid:2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b"
    wrong = bundle((org, {"resourceType": "Organization", "text": NARRATIVE, "name": "Lab"}),
                   (OBS, observation(subject={"reference": org})))
    issues = errors(validator.validate(wrong))
    assert any(i.expression == "Bundle.entry[1].resource.subject.reference" for i in issues), messages(issues)
    right = bundle((PATIENT, patient()), (OBS, observation()))
    assert not errors(validator.validate(right))


def test_nested_bundle_entries_have_nested_paths(validator: Validator) -> None:
    inner = bundle((PATIENT, patient(active="yes")))
    outer = {"resourceType": "Bundle", "type": "collection",
             "entry": [{"fullUrl": "urn:uuid:3f4a5b6c-7d8e-4f9a-8b1c-2d3e4f5a6b7c", "resource": inner}]}
    issues = errors(validator.validate(outer))
    assert any(i.expression == "Bundle.entry[0].resource.entry[0].resource.active" for i in issues), messages(issues)


def test_large_bundle_is_linear_not_quadratic(validator: Validator) -> None:
    """Not a timing test: the resolver and the walk visit each entry once, so 2,000 entries validate at all."""
    entries = [(f"urn:uuid:00000000-0000-4000-8000-{i:012d}", patient(gender="female")) for i in range(2000)]
    assert not errors(validator.validate(bundle(*entries)))


def test_reference_target_must_conform_to_the_target_profile() -> None:
    from tests.validation.vhelpers import definitions_with, profile

    base = "http://example.test/StructureDefinition/"
    dated = profile(base + "dated-patient", "Patient", [{"path": "Patient.birthDate", "min": 1}])
    obs = profile(base + "obs-dated", "Observation", [
        {"path": "Observation.subject", "type": [{"code": "Reference", "targetProfile": [dated["url"]]}]}])
    validator = Validator(definitions_with(dated, obs))
    observation_ = observation(meta={"profile": [obs["url"]]})
    undated = bundle((PATIENT, patient()), (OBS, observation_))
    issues = errors(validator.validate(undated))
    assert [i.expression for i in issues] == ["Bundle.entry[1].resource.subject.reference"], messages(issues)
    dated_bundle = bundle((PATIENT, patient(birthDate="1970-01-01")), (OBS, observation_))
    assert not errors(validator.validate(dated_bundle))


def test_references_between_parameters_resources(definitions: Any) -> None:
    def params(reference: str) -> dict[str, Any]:
        return {"resourceType": "Parameters", "parameter": [
            {"name": "patient", "resource": patient(id="1")},
            {"name": "obs", "resource": observation(subject={"reference": reference})}]}

    strict = Validator(definitions, check_references=True)
    assert not errors(strict.validate(params("Patient/1")))
    issues = errors(strict.validate(params("Patient/2")))
    assert [i.expression for i in issues] == ["Parameters.parameter[1].resource.subject.reference"], messages(issues)
    assert not errors(Validator(definitions).validate(params("Patient/2")))  # not asked to check
