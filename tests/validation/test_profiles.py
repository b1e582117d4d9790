"""Profiles: meta.profile and explicit profiles; fixed and pattern values, cardinality, type and target-profile
constraints, slicing by value / pattern / type discriminators, extensions against their definitions."""
from __future__ import annotations

from typing import Any

import pytest

from fhir_service.validation import Validator
from tests.validation.vhelpers import definitions_with, errors, messages, profile

NARRATIVE = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}
BASE = "http://example.test/StructureDefinition/"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

OBS = profile(BASE + "temp", "Observation", [
    {"path": "Observation.status", "fixedCode": "final"},
    {"path": "Observation.code", "patternCodeableConcept": {"coding": [{"system": LOINC, "code": "8310-5"}]}},
    {"path": "Observation.subject", "min": 1,
     "type": [{"code": "Reference", "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Patient"]}]},
    {"path": "Observation.value[x]", "min": 1, "type": [{"code": "Quantity"}]},
    {"path": "Observation.note", "max": "0"},
])
SLICED = profile(BASE + "sliced", "Observation", [
    {"path": "Observation.component", "slicing": {"discriminator": [{"type": "pattern", "path": "code"}],
                                                  "rules": "closed"}},
    {"id": "Observation.component:systolic", "path": "Observation.component", "sliceName": "systolic",
     "min": 1, "max": "1"},
    {"id": "Observation.component:systolic.code", "path": "Observation.component.code",
     "patternCodeableConcept": {"coding": [{"system": LOINC, "code": "8480-6"}]}},
    {"id": "Observation.component:systolic.value[x]", "path": "Observation.component.value[x]", "min": 1,
     "type": [{"code": "Quantity"}]},
    {"path": "Observation.identifier", "slicing": {"discriminator": [{"type": "value", "path": "system"}],
                                                   "rules": "open"}},
    {"id": "Observation.identifier:lab", "path": "Observation.identifier", "sliceName": "lab", "min": 1},
    {"id": "Observation.identifier:lab.system", "path": "Observation.identifier.system",
     "fixedUri": "http://lab.test/ids"},
    {"id": "Observation.identifier:lab.value", "path": "Observation.identifier.value", "min": 1},
])
TYPED = profile(BASE + "typed", "Observation", [
    {"path": "Observation.value[x]", "slicing": {"discriminator": [{"type": "type", "path": "$this"}],
                                                 "rules": "open"}},
    {"id": "Observation.value[x]:valueQuantity", "path": "Observation.value[x]", "sliceName": "valueQuantity",
     "type": [{"code": "Quantity"}]},
    {"id": "Observation.value[x]:valueQuantity.system", "path": "Observation.value[x].system", "min": 1,
     "fixedUri": UCUM},
])
EXT = profile(BASE + "ext-grade", "Extension", [
    {"path": "Extension", "short": "a grade"},
    {"path": "Extension.extension", "max": "0"},
    {"path": "Extension.url", "fixedUri": BASE + "ext-grade"},
    {"path": "Extension.value[x]", "min": 1, "type": [{"code": "integer"}]},
], base="http://hl7.org/fhir/StructureDefinition/Extension", kind="complex-type",
    context=[{"type": "element", "expression": "Observation"}])


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(definitions_with(OBS, SLICED, TYPED, EXT))


def observation(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "text": NARRATIVE,
            "code": {"coding": [{"system": LOINC, "code": "8310-5"}]}, "subject": {"reference": "Patient/1"},
            "valueQuantity": {"value": 38.2, "system": UCUM, "code": "Cel"}, **fields}


def errs(validator: Validator, resource: dict[str, Any], *profiles: str) -> list:
    return errors(validator.validate(resource, list(profiles)))


def test_conforming_instance_passes(validator: Validator) -> None:
    assert not errs(validator, observation(), OBS["url"]), messages(validator.validate(observation(), [OBS["url"]]))


def test_meta_profile_is_honoured_like_an_explicit_profile(validator: Validator) -> None:
    bad = observation(status="preliminary", meta={"profile": [OBS["url"]]})
    assert errs(validator, bad)
    assert not errs(validator, observation(meta={"profile": [OBS["url"]]}))
    assert not errs(validator, observation(status="preliminary"))  # the base alone allows it


def test_unknown_profiles(validator: Validator) -> None:
    in_meta = validator.validate(observation(meta={"profile": [BASE + "nope"]}))
    assert not errors(in_meta) and any("nope" in i.diagnostics for i in in_meta if i.severity == "warning")
    assert errs(validator, observation(), BASE + "nope")  # asked for explicitly: an error


def test_profile_for_another_type(validator: Validator) -> None:
    assert errs(validator, {"resourceType": "Patient", "text": NARRATIVE}, OBS["url"])


def test_fixed_value(validator: Validator) -> None:
    issues = errs(validator, observation(status="amended"), OBS["url"])
    assert [i.expression for i in issues] == ["Observation.status"]


def test_pattern_value_allows_more_but_not_less(validator: Validator) -> None:
    more = observation(code={"coding": [{"system": "http://snomed.info/sct", "code": "386725007"},
                                        {"system": LOINC, "code": "8310-5", "display": "Body temperature"}]})
    assert not errs(validator, more, OBS["url"])
    other = observation(code={"coding": [{"system": LOINC, "code": "8867-4"}]})
    assert [i.expression for i in errs(validator, other, OBS["url"])] == ["Observation.code"]


def test_profile_cardinality(validator: Validator) -> None:
    no_subject = observation()
    del no_subject["subject"]
    assert any("subject" in i.diagnostics for i in errs(validator, no_subject, OBS["url"]))
    noted = observation(note=[{"text": "n"}])
    assert any("max allowed = 0" in i.diagnostics for i in errs(validator, noted, OBS["url"]))


def test_type_constraint_on_a_choice(validator: Validator) -> None:
    text_value = observation(valueString="hot")
    del text_value["valueQuantity"]
    assert errs(validator, text_value, OBS["url"])


def test_target_profile_constraint(validator: Validator) -> None:
    group = observation(subject={"reference": "Group/7"})
    issues = errs(validator, group, OBS["url"])
    assert [i.expression for i in issues] == ["Observation.subject.reference"], messages(issues)


def bp(*components: dict[str, Any], **fields: Any) -> dict[str, Any]:
    res = observation(identifier=[{"system": "http://lab.test/ids", "value": "1"}])
    if components:
        res["component"] = list(components)
    res.update(fields)
    return res


SYSTOLIC = {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
            "valueQuantity": {"value": 120, "system": UCUM, "code": "mm[Hg]"}}


def test_slicing_by_pattern(validator: Validator) -> None:
    assert not errs(validator, bp(SYSTOLIC), SLICED["url"]), messages(validator.validate(bp(SYSTOLIC), [SLICED["url"]]))
    no_value = {"code": SYSTOLIC["code"]}
    assert errs(validator, bp(no_value), SLICED["url"])  # matched the slice, which requires a value
    missing = errs(validator, bp(), SLICED["url"])
    assert any("systolic" in i.diagnostics for i in missing)


def test_closed_slicing_rejects_unmatched_items(validator: Validator) -> None:
    other = {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 80}}
    issues = errs(validator, bp(SYSTOLIC, other), SLICED["url"])
    assert [i.expression for i in issues] == ["Observation.component[1]"], messages(issues)


def test_slicing_by_value(validator: Validator) -> None:
    no_lab_id = bp(SYSTOLIC, identifier=[{"system": "http://other/ids", "value": "1"}])
    assert any("lab" in i.diagnostics for i in errs(validator, no_lab_id, SLICED["url"]))
    lab_without_value = bp(SYSTOLIC, identifier=[{"system": "http://lab.test/ids"}])
    assert errs(validator, lab_without_value, SLICED["url"])


def test_slicing_by_type(validator: Validator) -> None:
    assert not errs(validator, observation(), TYPED["url"])
    no_system = observation(valueQuantity={"value": 1})
    assert errs(validator, no_system, TYPED["url"])
    text = observation(valueString="x")
    del text["valueQuantity"]
    assert not errs(validator, text, TYPED["url"])  # another type: not in the slice, open slicing


def test_extension_checked_against_its_definition(validator: Validator) -> None:
    good = observation(extension=[{"url": EXT["url"], "valueInteger": 3}])
    assert not errs(validator, good), messages(validator.validate(good))
    wrong_type = observation(extension=[{"url": EXT["url"], "valueString": "3"}])
    assert errs(validator, wrong_type)
    no_value = observation(extension=[{"url": EXT["url"], "extension": [{"url": "x", "valueString": "y"}]}])
    assert errs(validator, no_value)


def test_extension_used_outside_its_context(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "text": NARRATIVE, "extension": [{"url": EXT["url"], "valueInteger": 1}]}
    assert any("not allowed to be used at this point" in i.diagnostics for i in errs(validator, patient))


def _flag_extension(name: str, **extra: Any) -> dict[str, Any]:
    return profile(BASE + name, "Extension", [
        {"path": "Extension.extension", "max": "0"},
        {"path": "Extension.url", "fixedUri": BASE + name},
        {"path": "Extension.value[x]", "min": 1, "type": [{"code": "boolean"}]},
    ], base="http://hl7.org/fhir/StructureDefinition/Extension", kind="complex-type", **extra)


def test_a_fhirpath_context_must_select_the_element_holding_the_extension() -> None:
    ext = _flag_extension("home-flag", context=[{"type": "fhirpath",
                                                 "expression": "Patient.address.where(use = 'home')"}])
    check = Validator(definitions_with(ext))

    def patient(use: str) -> dict[str, Any]:
        return {"resourceType": "Patient", "text": NARRATIVE, "address": [
            {"use": use, "extension": [{"url": ext["url"], "valueBoolean": True}]}]}

    assert not errs(check, patient("home")), messages(check.validate(patient("home")))
    assert any("not allowed to be used at this point" in i.diagnostics for i in errs(check, patient("work")))


def test_a_context_invariant_must_hold_on_the_element_holding_the_extension() -> None:
    ext = _flag_extension("inactive-flag", context=[{"type": "element", "expression": "Patient"}],
                          contextInvariant=["Patient.active.not()"])
    check = Validator(definitions_with(ext))

    def patient(active: bool) -> dict[str, Any]:
        return {"resourceType": "Patient", "text": NARRATIVE, "active": active,
                "extension": [{"url": ext["url"], "valueBoolean": True}]}

    assert not errs(check, patient(False))
    assert any("context invariant 'Patient.active.not()'" in i.diagnostics for i in errs(check, patient(True)))


def test_core_extension_definition_applies(validator: Validator) -> None:
    url = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
    patient = {"resourceType": "Patient", "text": NARRATIVE, "extension": [{"url": url, "valueString": "Smith"}]}
    assert not errs(validator, patient)
    patient["extension"][0] = {"url": url, "valueBoolean": True}
    assert errs(validator, patient)


def test_unknown_extension(validator: Validator) -> None:
    issues = validator.validate(observation(extension=[{"url": "http://unknown.test/ext", "valueString": "x"}]))
    assert any("could not be found" in i.diagnostics for i in errors(issues))


def test_unusable_profile_is_an_issue_not_a_crash() -> None:
    broken = profile(BASE + "broken", "Observation", [{"path": "Observation.nonsense.deeper", "min": 1}])
    validator = Validator(definitions_with(broken))
    issues = validator.validate(observation(), [broken["url"]])
    assert isinstance(issues, list)


def test_sub_extensions_must_be_defined_by_the_complex_extension(validator: Validator) -> None:
    url = "http://hl7.org/fhir/StructureDefinition/patient-animal"
    animal = {"url": url, "extension": [{"url": "species", "valueCodeableConcept": {"text": "dog"}}]}
    patient = {"resourceType": "Patient", "text": NARRATIVE, "extension": [animal]}
    assert not errs(validator, patient), messages(validator.validate(patient))
    animal["extension"].append({"url": "species-x", "valueCodeableConcept": {"text": "cat"}})
    assert any("species-x" in i.diagnostics for i in errs(validator, patient))


def test_a_type_profile_the_definitions_do_not_hold_is_an_error() -> None:
    """"Unknown profile" (as the Java validator says): the rules of that profile cannot be checked."""
    missing = "http://example.test/StructureDefinition/identifier-missing"
    org = profile(BASE + "org", "Organization", [
        {"path": "Organization.identifier", "type": [{"code": "Identifier", "profile": [missing]}]},
        {"path": "Organization.identifier.system", "min": 1},
    ])
    check = Validator(definitions_with(org))
    resource = {"resourceType": "Organization", "text": NARRATIVE, "name": "x",
                "identifier": [{"system": "http://example.test/ids", "value": "1"}]}
    found = errs(check, resource, org["url"])
    assert [(i.expression, i.diagnostics) for i in found] == [
        ("Organization.identifier[0]", f"Unknown profile {missing} for this Identifier")]
    assert not errs(check, resource)  # the base definition names no such profile


def test_a_profile_naming_an_element_its_base_lacks_still_applies_its_other_constraints() -> None:
    flawed = profile(BASE + "flawed", "Patient", [{"path": "Patient.dateOfBirth", "min": 1},
                                                 {"path": "Patient.gender", "min": 1}])
    check = Validator(definitions_with(flawed))
    patient = {"resourceType": "Patient", "text": NARRATIVE}
    assert any("Patient.gender: minimum required = 1" in i.diagnostics for i in errs(check, patient, flawed["url"]))
    assert not errs(check, dict(patient, gender="female"), flawed["url"])


def test_several_profiles_on_a_resource_type_are_alternatives() -> None:
    named = profile(BASE + "named", "Patient", [{"path": "Patient.name", "min": 1}])
    gendered = profile(BASE + "gendered", "Patient", [{"path": "Patient.gender", "min": 1}])
    params = profile(BASE + "params", "Parameters", [
        {"path": "Parameters.parameter.resource", "min": 1,
         "type": [{"code": "Resource", "profile": [named["url"], gendered["url"]]}]}])
    check = Validator(definitions_with(named, gendered, params))

    def parameters(patient: dict[str, Any]) -> dict[str, Any]:
        return {"resourceType": "Parameters", "parameter": [
            {"name": "p", "resource": {"resourceType": "Patient", "text": NARRATIVE, **patient}}]}

    assert not errs(check, parameters({"gender": "male"}), params["url"])
    assert not errs(check, parameters({"name": [{"family": "X"}]}), params["url"])
    assert errs(check, parameters({}), params["url"])


def test_duration_limits_on_a_date_are_relative_to_today() -> None:
    from datetime import date

    from fhir_service.validation.primitives import outside_duration

    century = {"value": 100, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}
    today = date(2026, 11, 21)
    assert outside_duration("1850-01-01", century, -1, today)  # before today - 100 a
    assert not outside_duration("1950-01-01", century, -1, today)
    assert outside_duration("2037", {"value": 10, "code": "a"}, 1, today)  # after today + 10 a (year precision)
    assert not outside_duration("2036-11-21", {"value": 10, "code": "a"}, 1, today)
    aged = profile(BASE + "aged", "Patient", [{"path": "Patient.birthDate", "minValueDuration": century}])
    check = Validator(definitions_with(aged))
    born = {"resourceType": "Patient", "text": NARRATIVE, "birthDate": "1850-01-01"}
    assert any("earlier than the minimum" in i.diagnostics for i in errs(check, born, aged["url"]))
    assert not errs(check, dict(born, birthDate="2000-01-01"), aged["url"])


@pytest.mark.parametrize("url,allowed", [("http://example.org/fhir/StructureDefinition/x", True),
                                         ("http://acme.com/ext/x", True),
                                         ("https://example.com/StructureDefinition/x", False),
                                         ("http://other.test/StructureDefinition/x", False)])
def test_unknown_extensions_at_example_domains_pass_as_in_the_java_validator(url: str, allowed: bool) -> None:
    patient = {"resourceType": "Patient", "text": NARRATIVE, "extension": [{"url": url, "valueString": "x"}]}
    check = Validator(definitions_with())
    assert (not errs(check, patient)) == allowed


@pytest.mark.parametrize("rule,flagged", [("Patient:0", [0]), ("Patient:1", [2]), ("Patient", [0, 2]), ("2", [2]),
                                          (None, [0, 2]), ("Practitioner", [])])
def test_bundle_rules_validate_chosen_entries_against_a_profile(rule: str | None, flagged: list[int]) -> None:
    named = profile(BASE + "named-patient", "Patient", [{"path": "Patient.name", "min": 1}])
    nameless = {"resourceType": "Patient", "text": NARRATIVE}
    entries = [nameless, {"resourceType": "Organization", "text": NARRATIVE, "name": "o"}, nameless]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{i}", "resource": dict(r)}
                        for i, r in enumerate(entries)]}
    check = Validator(definitions_with(named), bundle_rules=[(rule, named["url"])])
    found = [i for i in errs(check, bundle) if "Patient.name: minimum required" in i.diagnostics
             or ".name: minimum required" in i.diagnostics]
    assert sorted({int(i.expression.split("[")[1].split("]")[0]) for i in found}) == flagged


def _narrative_profile(name: str, url: str, code: str) -> dict[str, Any]:
    return profile(BASE + name, "Patient", [{"path": "Patient.text", "extension": [{"url": url, "valueCode": code}]}])


LANGUAGE_CONTROL = "http://hl7.org/fhir/StructureDefinition/narrative-language-control"
TWO_LANGUAGES = ('<div xmlns="http://www.w3.org/1999/xhtml"><div lang="de" xml:lang="de">Hallo</div>'
                 '<div lang="pt" xml:lang="pt">Olá</div></div>')


@pytest.mark.parametrize("control,div,language,problem", [
    ("_no", TWO_LANGUAGES, None, "some language sections (de, pt), but language sections are prohibited"),
    ("_no", '<div xmlns="http://www.w3.org/1999/xhtml">Hello</div>', None, None),
    ("_yes", '<div xmlns="http://www.w3.org/1999/xhtml">Hello</div>', None, "no language sections"),
    ("_yes", TWO_LANGUAGES, None, None),
    ("_resource", TWO_LANGUAGES, "en", "resource language (en), but it was not found (found de, pt)"),
    ("_resource", TWO_LANGUAGES, "de", None),
])
def test_narrative_language_control(control: str, div: str, language: str | None, problem: str | None) -> None:
    controlled = _narrative_profile("lang-" + control.strip("_"), LANGUAGE_CONTROL, control)
    check = Validator(definitions_with(controlled))
    patient: dict[str, Any] = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    if language:
        patient["language"] = language
    found = [i.diagnostics for i in errs(check, patient, controlled["url"]) if "language" in i.diagnostics]
    assert (problem is None and not found) or (problem is not None and problem in found[0]), found


def test_narrative_source_control_needs_a_source_class_on_each_top_level_node() -> None:
    controlled = _narrative_profile("sourced", "http://hl7.org/fhir/StructureDefinition/narrative-source-control",
                                    "warning")
    check = Validator(definitions_with(controlled))
    div = ('<div xmlns="http://www.w3.org/1999/xhtml">Loose text<h1 class="boilerplate">Title</h1>'
           '<p>No source</p><p class="generated">Made</p></div>')
    patient = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    found = [i.diagnostics for i in errs(check, patient, controlled["url"])]
    assert [m.split("'")[1] for m in found] == ["Loose text", "No source"]


def test_value_alternatives_name_the_extensions_that_may_stand_for_a_missing_value() -> None:
    absent = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
    alternative = profile(BASE + "active-or-absent", "Patient", [{
        "path": "Patient.active", "min": 1,
        "extension": [{"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition."
                              "valueAlternatives", "valueCanonical": absent}]}])
    check = Validator(definitions_with(alternative))

    def patient(url: str, code: str) -> dict[str, Any]:
        return {"resourceType": "Patient", "text": NARRATIVE,
                "_active": {"extension": [{"url": url, "valueCode": code}]}}

    assert not errs(check, patient(absent, "masked"), alternative["url"])
    flagged = errs(check, patient("http://hl7.org/fhir/StructureDefinition/iso21090-nullFlavor", "MSK"),
                   alternative["url"])
    assert any("if a value is not present, the extension" in i.diagnostics for i in flagged)
    assert not errs(check, {"resourceType": "Patient", "text": NARRATIVE, "active": True}, alternative["url"])
