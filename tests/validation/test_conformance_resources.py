"""Conformance resources and reports checked against the definitions they build on."""
from __future__ import annotations

from typing import Any

from fhir_service.validation import Validator
from tests.validation.vhelpers import definitions_with, errors, messages

NARRATIVE = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}


def search_parameter(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "SearchParameter", "text": NARRATIVE, "url": "http://example.test/SearchParameter/n",
            "name": "n", "status": "active", "description": "name", "code": "name", "base": ["Organization"],
            "type": "string", "expression": "Organization.name",
            "derivedFrom": "http://hl7.org/fhir/SearchParameter/Organization-name", **fields}


def test_derived_search_parameter_keeps_type_and_base(validator: Validator) -> None:
    assert not errors(validator.validate(search_parameter())), messages(validator.validate(search_parameter()))
    assert errors(validator.validate(search_parameter(type="token")))
    assert errors(validator.validate(search_parameter(base=["Patient"])))


def profile(differential: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"resourceType": "StructureDefinition", "text": NARRATIVE, "url": "http://example.test/sd/p",
            "name": "P", "status": "draft", "kind": "resource", "abstract": False, "type": "Observation",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Observation", "derivation": "constraint",
            "differential": {"element": differential}, **fields}


def test_profile_differential_must_produce_a_snapshot(validator: Validator) -> None:
    good = profile([{"id": "Observation.status", "path": "Observation.status", "fixedCode": "final"}])
    assert not errors(validator.validate(good)), messages(validator.validate(good))
    bad = profile([{"id": "Observation.valueBla", "path": "Observation.valueBla", "min": 1}])
    assert any("Snapshot" in i.diagnostics for i in errors(validator.validate(bad)))


def test_derived_profile_keeps_fixed_values() -> None:
    base = profile([{"id": "Observation.status", "path": "Observation.status", "fixedCode": "final"}])
    derived = profile([{"id": "Observation.status", "path": "Observation.status", "fixedCode": "amended"}],
                      url="http://example.test/sd/derived", baseDefinition=base["url"])
    validator = Validator(definitions_with(base))
    assert any("fixed" in i.diagnostics for i in errors(validator.validate(derived)))


def test_cohort_measure_report_has_no_score() -> None:
    measure = {"resourceType": "Measure", "url": "http://example.test/Measure/m", "status": "active",
               "scoring": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring",
                                       "code": "cohort"}]}}
    report = {"resourceType": "MeasureReport", "text": NARRATIVE, "status": "complete", "type": "summary",
              "measure": measure["url"], "period": {"start": "2024-01-01", "end": "2024-01-31"},
              "group": [{"population": [{"count": 3}]}]}
    validator = Validator(definitions_with(measure))
    assert not errors(validator.validate(report)), messages(validator.validate(report))
    report["group"][0]["measureScore"] = {"value": 3}
    assert errors(validator.validate(report))


POP = "http://terminology.hl7.org/CodeSystem/measure-population"


def _population(code: str, **fields: Any) -> dict[str, Any]:
    return {"code": {"coding": [{"system": POP, "code": code}]}, **fields}


def _measure_report(groups: list[dict[str, Any]], kind: str = "summary") -> dict[str, Any]:
    return {"resourceType": "MeasureReport", "text": NARRATIVE, "status": "complete", "type": kind,
            "measure": "http://example.test/Measure/groups", "period": {"start": "2024-01-01", "end": "2024-01-31"},
            "group": groups}


MEASURE_WITH_GROUPS = {"resourceType": "Measure", "url": "http://example.test/Measure/groups", "status": "active",
                       "group": [{"population": [_population("initial-population")]}]}


def test_measure_report_populations_match_the_measure_group() -> None:
    validator = Validator(definitions_with(MEASURE_WITH_GROUPS))
    good = _measure_report([{"population": [_population("initial-population", count=5)]}])
    assert not errors(validator.validate(good)), messages(validator.validate(good))
    unknown = _measure_report([{"population": [_population("initial-population", count=5),
                                               _population("numerator", count=2)]}])
    assert any("has no match in the measure" in i.diagnostics for i in errors(validator.validate(unknown)))
    missing = _measure_report([{"population": [_population("numerator", count=2)]}])
    assert any("does not include a population" in i.diagnostics for i in errors(validator.validate(missing)))


def test_measure_report_groups_need_codes_when_they_cannot_be_paired_one_to_one() -> None:
    validator = Validator(definitions_with(MEASURE_WITH_GROUPS))
    group = {"population": [_population("initial-population", count=5)]}
    two = _measure_report([group, group])
    assert any("should have a code" in i.diagnostics for i in errors(validator.validate(two)))


def test_only_subject_list_reports_list_subjects() -> None:
    validator = Validator(definitions_with(MEASURE_WITH_GROUPS))
    listed = {"population": [_population("initial-population", count=1,
                                         subjectResults={"reference": "List/l1"})]}
    assert any("don't have subjects listed" in i.diagnostics for i in errors(validator.validate(
        _measure_report([listed]))))
    assert not errors(validator.validate(_measure_report([listed], "subject-list")))
    listed["population"][0]["count"] = 2
    assert any("does not match the number" in i.diagnostics for i in errors(validator.validate(
        _measure_report([listed], "subject-list"))))


def test_a_type_profile_must_profile_that_type(validator: Validator) -> None:
    def value_profile(url: str) -> dict[str, Any]:
        return profile([{"id": "Observation.valueQuantity", "path": "Observation.valueQuantity",
                         "type": [{"code": "Quantity", "profile": [url]}]}])

    wrong = errors(validator.validate(value_profile("http://hl7.org/fhir/StructureDefinition/Count")))
    assert [i.expression for i in wrong] == ["StructureDefinition.differential.element[0].type[0].profile[0]"]
    assert "is for type Count" in wrong[0].diagnostics
    right = value_profile("http://hl7.org/fhir/StructureDefinition/SimpleQuantity")
    assert not errors(validator.validate(right)), messages(validator.validate(right))


def _logical(type_: str, paths: list[str], base: str = "http://hl7.org/fhir/StructureDefinition/Base") -> dict:
    return {"resourceType": "StructureDefinition", "text": NARRATIVE, "url": "http://example.test/sd/Boo",
            "name": "Boo", "status": "draft", "kind": "logical", "abstract": False, "type": type_,
            "baseDefinition": base, "derivation": "specialization",
            "differential": {"element": [{"id": p, "path": p} for p in paths]}}


def test_a_logical_model_type_needs_a_namespace_and_paths_start_with_its_name(validator: Validator) -> None:
    good = _logical("http://example.test/sd/Boo", ["Boo", "Boo.b"])
    assert not errors(validator.validate(good)), messages(validator.validate(good))
    no_namespace = errors(validator.validate(_logical("Boo", ["Boo", "Boo.b"])))
    assert any("Other types must have a namespace" in i.diagnostics for i in no_namespace)
    wrong_paths = errors(validator.validate(_logical("http://example.test/sd/Foo", ["Boo", "Boo.b"])))
    assert [i.expression for i in wrong_paths] == ["StructureDefinition.differential.element[0]",
                                                   "StructureDefinition.differential.element[1]"]


def test_a_specialization_defines_a_new_type() -> None:
    foo = _logical("http://example.test/sd/Foo", ["Foo"])
    foo["url"] = "http://example.test/sd/Foo"
    check = Validator(definitions_with(foo))
    same = _logical("http://example.test/sd/Foo", ["Foo"], base=foo["url"])
    assert any("must not be the same as the type in the base" in i.diagnostics
               for i in errors(check.validate(same)))


def _library(names: list[str]) -> dict[str, Any]:
    import base64
    import json

    elm = {"library": {"statements": {"def": [{"name": n} for n in names]}}}
    return {"resourceType": "Library", "url": "http://example.test/Library/Screening", "name": "Screening",
            "status": "active", "type": {"text": "logic-library"},
            "content": [{"contentType": "application/elm+json",
                         "data": base64.b64encode(json.dumps(elm).encode()).decode()}]}


def _measure(expression: str, library: str | None = "http://example.test/Library/Screening") -> dict[str, Any]:
    measure: dict[str, Any] = {
        "resourceType": "Measure", "text": NARRATIVE, "url": "http://example.test/Measure/s", "status": "active",
        "group": [{"stratifier": [{"code": {"text": "age"},
                                   "criteria": {"language": "text/cql", "expression": expression}}]}]}
    if library:
        measure["library"] = [library]
    return measure


def test_cql_stratifier_criteria_name_a_definition_of_the_measure_library() -> None:
    check = Validator(definitions_with(_library(["Initial Population", "AgesUpToNine"])))
    assert not errors(check.validate(_measure("Screening.AgesUpToNine")))
    assert not errors(check.validate(_measure("AgesUpToNine")))  # the only library
    missing = errors(check.validate(_measure("Screening.AgesUpToTen")))
    assert [i.diagnostics for i in missing] == [
        "The function AgesUpToTen does not exist in the library http://example.test/Library/Screening"]
    assert any("No CQL Libraries" in i.diagnostics for i in errors(check.validate(_measure("X.Y", None))))


def test_inherited_obligations_come_from_an_obligation_profile_on_the_same_base() -> None:
    def patient_profile(url: str, base: str, flagged: bool, inherits: str | None = None) -> dict[str, Any]:
        sd = profile([{"id": "Patient.name", "path": "Patient.name", "min": 1}], url=url, type="Patient",
                     baseDefinition=base)
        extensions = []
        if flagged:
            extensions.append({"url": "http://hl7.org/fhir/StructureDefinition/obligation-profile",
                               "valueBoolean": True})
        if inherits:
            extensions.append({"url": "http://hl7.org/fhir/StructureDefinition/inherit-obligations",
                               "valueCanonical": inherits})
        if extensions:
            sd["extension"] = extensions
        return sd

    core = "http://hl7.org/fhir/StructureDefinition/Patient"
    base = patient_profile("http://example.test/sd/base", core, True)
    obliging = patient_profile("http://example.test/sd/obliging", base["url"], True)
    unflagged = patient_profile("http://example.test/sd/plain", base["url"], False)
    elsewhere = patient_profile("http://example.test/sd/elsewhere", core, True)
    check = Validator(definitions_with(base, obliging, unflagged, elsewhere))

    def issues_inheriting(url: str) -> list[str]:
        sd = patient_profile("http://example.test/sd/derived", base["url"], False, inherits=url)
        return [i.diagnostics for i in errors(check.validate(sd)) if "obligation" in i.diagnostics
                or "different base" in i.diagnostics]

    assert issues_inheriting(obliging["url"]) == []
    assert issues_inheriting(unflagged["url"]) == [
        "The profile 'http://example.test/sd/plain' is not marked as an obligation profile"]
    assert "has a different base" in issues_inheriting(elsewhere["url"])[0]
