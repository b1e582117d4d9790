"""The profiles enforced end to end by the project's Validator: every report-faithful example is valid, and each
broken rule yields the expected issue (element expression + message fragment)."""
from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from fhir_service.definitions import Definitions
from fhir_service.validation import Issue, Validator
from tests.profiles import samples as s

Resource = dict[str, Any]

VALID = [s.patient, s.infusion, s.lymphodepletion, s.crs, s.icans, s.iec_hs, s.malignancy, s.treatment, s.lab, s.vital,
         s.grade_observation, s.response, s.cohort, s.cohort_observation,
         lambda: s.vital(s.local("ice-score"), valueInteger=9),
         lambda: s.vital(s.local("oxygen-support"), valueCodeableConcept=s.local("o2-high-flow")),
         lambda: s.vital(s.local("hypotension"), valueBoolean=True),
         lambda: s.response("mrd-flow", valueQuantity={"value": 0.33, "unit": "%", "system": s.UCUM, "code": "%"}),
         s.other_toxicity,
         lambda: s.vital(s.local("oxygen-support"), valueCodeableConcept=s.local("o2-support-not-stated")),
         lambda: s.response("mrd", valueCodeableConcept=s.local("mrd-negative"))]


@pytest.fixture(scope="module")
def validator(profile_definitions: Definitions) -> Validator:
    return Validator(profile_definitions)


def errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.is_error]


@pytest.mark.parametrize("example", VALID, ids=lambda f: getattr(f, "__name__", "example"))
def test_report_faithful_examples_are_valid(validator: Validator, example: Callable[[], Resource]) -> None:
    resource = example()
    assert resource["meta"]["profile"][0].startswith(s.SD)
    assert errors(validator.validate(resource)) == []


def _edit(build: Callable[[], Resource], change: Callable[[Resource], Any]) -> Callable[[], Resource]:
    def make() -> Resource:
        resource = build()
        change(resource)
        return resource
    return make


def _set(path: list[Any], value: Any) -> Callable[[Resource], None]:
    def change(resource: Resource) -> None:
        node = resource
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _without_extension(fragment: str) -> Callable[[Resource], None]:
    def change(resource: Resource) -> None:
        resource["extension"] = [e for e in resource["extension"] if fragment not in e["url"]]
        if not resource["extension"]:
            del resource["extension"]
    return change


# (name, broken example, expected expression, expected message fragment)
NEGATIVE: list[tuple[str, Callable[[], Resource], str, str]] = [
    ("grade 6", _edit(s.grade_observation, _set(["valueInteger"], 6)), "Observation", "cart-1"),
    ("grade as a Quantity", _edit(s.grade_observation, lambda r: (r.pop("valueInteger"),
                                                                  r.update(valueQuantity={"value": 2}))),
     "Observation", "valueQuantity"),
    ("dose without UCUM system", _edit(s.treatment, lambda r: r["dosage"]["dose"].pop("system")),
     "MedicationAdministration", "cart-2"),
    ("dose unit outside dose-units", _edit(s.treatment, _set(["dosage", "dose", "code"], "mg/dL")),
     "MedicationAdministration.dosage.dose.code", "dose-units"),
    ("drug outside toxicity-drugs (fludarabine is lymphodepletion)",
     _edit(s.treatment, _set(["medicationCodeableConcept"], {"coding": [{"system": s.RXNORM, "code": "24698"}]})),
     "MedicationAdministration.medication.ofType(CodeableConcept)", "toxicity-drugs"),
    ("lymphodepletion on Day 0", _edit(s.lymphodepletion, _set(["extension", 0, "valueInteger"], 0)),
     "MedicationAdministration", "cart-23"),
    ("tocilizumab as lymphodepletion", _edit(s.lymphodepletion, _set(["medicationCodeableConcept"], {
        "coding": [{"system": s.RXNORM, "code": "612865"}]})),
     "MedicationAdministration.medication.ofType(CodeableConcept)", "lymphodepletion-drugs"),
    ("treatment without a reason", _edit(s.treatment, lambda r: r.pop("reasonReference")),
     "MedicationAdministration", "reasonReference"),
    ("treatment without its day", _edit(s.treatment, _without_extension("relative-day")),
     "MedicationAdministration", "cart-21"),
    ("infusion not on Day 0", _edit(s.infusion, _set(["extension", 0, "valueInteger"], -1)),
     "MedicationAdministration", "cart-4"),
    ("infusion without target antigen", _edit(s.infusion, _without_extension("target-antigen")),
     "MedicationAdministration.extension", "targetAntigen"),
    ("CRS coded as ICANS", _edit(s.crs, _set(["code", "coding", 0, "code"], "G92.01")),
     "Condition.code", "crs-condition-codes"),
    ("CRS coded with the non-billable header", _edit(s.crs, _set(["code", "coding", 0, "code"], "D89.83")),
     "Condition.code", "crs-condition-codes"),
    ("CRS grade and ICD-10-CM grade disagree", _edit(s.crs, _set(["severity", "coding", 0, "code"], "grade-4")),
     "Condition", "cart-5"),
    ("ICANS grade and ICD-10-CM grade disagree", _edit(s.icans, _set(["code", "coding", 0, "code"], "G92.03")),
     "Condition", "cart-6"),
    ("CRS resolves before it starts", _edit(s.crs, _set(["_abatementDateTime", "extension", 0, "valueInteger"], 0)),
     "Condition", "cart-7"),
    ("CRS grade without grading system", _edit(s.crs, _without_extension("grading-system")), "Condition", "cart-8"),
    ("CRS dated without its onset day", _edit(s.crs, _without_extension("relative-day")), "Condition", "cart-21"),
    ("CRS abatement date without its day", _edit(s.crs, lambda r: r.pop("_abatementDateTime")), "Condition",
     "cart-22"),
    ("IEC-HS without the project code", _edit(s.iec_hs, lambda r: r["code"]["coding"].pop(0)),
     "Condition.code.coding", "cartTox"),
    ("severity not an ASTCT grade", _edit(s.crs, _set(["severity"], {"coding": [{"system": "http://snomed.info/sct",
                                                                                 "code": "24484000"}]})),
     "Condition.severity", "astct-grades"),
    ("grading system not in grading-systems", _edit(s.crs, _set(["extension", 1, "valueCodeableConcept"],
                                                                s.local("grade-2"))),
     "Condition.extension[1].value.ofType(CodeableConcept)", "grading-systems"),
    ("lab dated without its day", _edit(s.lab, _without_extension("relative-day")), "Observation", "cart-21"),
    ("grade without its day", _edit(s.grade_observation, _without_extension("relative-day")),
     "Observation.extension", "relativeDay"),
    ("lab without laboratory category", _edit(s.lab, lambda r: r.pop("category")), "Observation",
     "Observation.category: minimum required = 1"),
    ("lab with another category", _edit(s.lab, _set(["category", 0, "coding", 0, "code"], "vital-signs")),
     "Observation.category", "laboratory"),
    ("temperature coded as a lab", _edit(s.lab, _set(["code"], {"coding": [{"system": s.LOINC, "code": "8310-5"}]})),
     "Observation.code", "toxicity-lab-codes"),
    ("lab value without UCUM", _edit(s.lab, lambda r: r["valueQuantity"].pop("system")), "Observation", "cart-9"),
    ("sIL-2R 76039-7 in U/mL", _edit(s.lab, lambda r: r.update(
        code={"coding": [{"system": s.LOINC, "code": "76039-7"}]},
        valueQuantity={"value": 93326, "unit": "U/mL", "system": s.UCUM, "code": "U/mL"})), "Observation", "cart-10"),
    ("ICE score 11", lambda: s.vital(s.local("ice-score"), valueInteger=11), "Observation", "cart-11"),
    ("temperature in Fahrenheit", _edit(s.vital, _set(["valueQuantity", "code"], "[degF]")), "Observation",
     "cart-12"),
    ("oxygen support not an ASTCT category",
     lambda: s.vital(s.local("oxygen-support"), valueCodeableConcept=s.local("grade-2")), "Observation", "cart-13"),
    ("patient without age or birth date", _edit(s.patient, _without_extension("age-at-infusion")), "Patient",
     "cart-14"),
    ("patient without source publication", _edit(s.patient, _without_extension("source-publication")),
     "Patient.extension", "sourcePublication"),
    ("source publication not a DOI", _edit(s.patient, _set(["extension", 0, "valueString"], "PMC12996094")),
     "Patient.extension[0]", "cart-20"),
    ("age at infusion in kg", _edit(s.patient, _set(["extension", 1, "valueAge", "code"], "kg")),
     "Patient.extension[1].value.ofType(Age).code", "age-units"),
    ("overall response given as MRD", _edit(s.response, _set(["valueCodeableConcept"], s.local("mrd-positive"))),
     "Observation", "cart-16"),
    ("p-value above 1", _edit(s.cohort_observation, _set(["component", 2, "valueQuantity", "value"], 1.5)),
     "Observation", "cart-18"),
    ("cohort statistic not in cohort-statistics", _edit(s.cohort_observation, _set(["component", 0, "code"],
                                                                                   s.local("grade-1"))),
     "Observation.component[0].code", "cohort-statistics"),
    ("cohort not actual", _edit(s.cohort, _set(["actual"], False)), "Group.actual", "True"),
]


@pytest.mark.parametrize("name,example,expression,fragment", NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_each_profile_rule_fails_with_the_expected_issue(validator: Validator, name: str,
                                                         example: Callable[[], Resource], expression: str,
                                                         fragment: str) -> None:
    found = [i for i in validator.validate(example()) if i.is_error or i.severity == "warning"]
    assert any(i.expression == expression and (fragment in i.diagnostics or fragment == i.rule) for i in found), \
        [(i.expression, i.rule, i.diagnostics) for i in found]


def test_reason_pointing_to_a_non_toxicity_condition_fails_in_a_bundle(validator: Validator) -> None:
    good = s.bundle(s.patient(), s.crs(), s.malignancy(), s.treatment("Condition/crs1"))
    assert errors(validator.validate(good)) == []
    bad = s.bundle(s.patient(), s.crs(), s.malignancy(), s.treatment("Condition/mal"))
    found = errors(validator.validate(bad))
    # Two views of one fault: the invariant, and the reference's target-profile check (as the HL7 validator does
    # for references it can resolve inside a Bundle).
    assert sorted((i.expression, i.rule) for i in found) == [
        ("Bundle.entry[3].resource", "cart-3"),
        ("Bundle.entry[3].resource.reasonReference[0].reference", None),
    ]
    target = next(i for i in found if i.rule is None)
    assert "does not conform to the target profiles" in target.diagnostics and "cart-crs" in target.diagnostics


def test_a_treatment_may_be_given_for_another_car_t_toxicity(validator: Validator) -> None:
    """Seed 004 Case 1: tocilizumab "for febrile hypotension", which the report never calls CRS. The Condition
    is a cart-other-toxicity, so the treatment is valid without relabelling it."""
    good = s.bundle(s.patient(), s.other_toxicity(), s.treatment("Condition/fh1"))
    assert errors(validator.validate(good)) == []


def test_another_toxicity_needs_its_category(validator: Validator) -> None:
    """Without the cart-other-toxicity category the Condition is not that profile, and not a treatment reason."""
    condition = s.other_toxicity()
    del condition["category"]
    found = errors(validator.validate(copy.deepcopy(condition)))
    assert any("Condition.category: minimum required = 1" in i.diagnostics and "otherToxicity" in i.diagnostics
               for i in found), [(i.expression, i.diagnostics) for i in found]
    bad = s.bundle(s.patient(), condition, s.treatment("Condition/fh1"))
    rules = sorted(str(i.rule) for i in errors(validator.validate(bad)) if "entry[2]" in i.expression)
    assert "cart-3" in rules, rules


def test_another_toxicity_with_a_grade_names_its_grading_system(validator: Validator) -> None:
    condition = s.other_toxicity()
    condition["severity"] = s.local("grade-2")
    assert any(i.rule == "cart-8" for i in errors(validator.validate(condition)))
    condition["extension"].append(s.grading("ctcae-v5"))
    assert errors(validator.validate(condition)) == []


def test_validation_uses_the_declared_profile_only(validator: Validator) -> None:
    """The same resource without meta.profile is plain R4: the project rules do not apply."""
    grade = s.grade_observation(6)
    del grade["meta"]
    assert errors(validator.validate(copy.deepcopy(grade))) == []
    assert any(i.rule == "cart-1" for i in validator.validate(grade, [s.SD + "cart-toxicity-grade"]))


def test_a_patient_without_any_age_is_only_warned_about(validator: Validator) -> None:
    """Abstract-only reports (seed 000) give neither age nor birth date: cart-14 warns, it does not reject."""
    patient = s.patient()
    patient["extension"] = patient["extension"][:1]
    issues = validator.validate(patient)
    assert errors(issues) == []
    assert [i.severity for i in issues if i.rule == "cart-14"] == ["warning"]


def test_an_undated_toxicity_needs_no_relative_day(validator: Validator) -> None:
    """A report may name a toxicity without its day (seed 000): without a date there is no day to require."""
    crs = s.crs(abatement=None)
    del crs["onsetDateTime"]
    crs["extension"] = [s.grading()]
    assert errors(validator.validate(crs)) == []


def test_every_conformance_resource_of_the_package_is_valid_r4(validator: Validator,
                                                               all_resources: list[dict[str, Any]]) -> None:
    """The authored content (differentials, value sets, code system, search parameters, naming systems) is valid
    FHIR R4. Snapshots are left out: they are the snapshot generator's output, checked by `fhir-service profiles
    check`."""
    for resource in all_resources:
        authored = {k: v for k, v in resource.items() if k != "snapshot"}
        found = [(i.expression, i.diagnostics) for i in errors(validator.validate(authored))]
        assert found == [], resource["id"]
