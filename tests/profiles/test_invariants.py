"""Every invariant of the package evaluates as its human text says: true on a report-faithful example, false
on the same example with the rule broken. Evaluated with the project's FHIRPath engine, straight from the
StructureDefinitions in profiles/ (so a typo in an expression fails here)."""
from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from fhir_service import fhirpath
from tests.profiles import samples as s

Resource = dict[str, Any]
Case = tuple[str, str, Callable[[], Resource], Callable[[Resource], None]]


def _set(path: list[Any], value: Any) -> Callable[[Resource], None]:
    def change(resource: Resource) -> None:
        node = resource
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _drop(path: list[Any]) -> Callable[[Resource], None]:
    def change(resource: Resource) -> None:
        node = resource
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return change


def _treatment_period(resource: Resource) -> None:
    resource.pop("effectiveDateTime", None)
    resource["effectivePeriod"] = {"start": "2023-01-22", "_end": {"extension": [s.day(1)]}}


def _course(resource: Resource) -> Resource:
    """The treatment as a course from Day +21 to Day +23 (start and end dates with their days)."""
    del resource["effectiveDateTime"]
    resource["extension"] = [s.day(21)]
    resource["effectivePeriod"] = {"start": "2023-01-22", "end": "2023-01-24", "_end": {"extension": [s.day(23)]}}
    return resource


def _no_day(resource: Resource) -> None:
    resource["extension"] = []


# (profile id, key, valid example, change that breaks the rule)
CASES: list[Case] = [
    ("cart-toxicity-grade", "cart-1", s.grade_observation, _set(["valueInteger"], 6)),
    ("cart-toxicity-grade", "cart-1", s.grade_observation, _set(["valueInteger"], 0)),
    ("cart-toxicity-treatment", "cart-2", s.treatment, _drop(["dosage", "dose", "system"])),
    ("cart-toxicity-treatment", "cart-2", s.treatment, _drop(["dosage", "dose", "code"])),
    ("cart-infusion", "cart-2", s.infusion, _set(["dosage"], {"dose": {"value": 2e6, "unit": "cells/kg"}})),
    ("cart-infusion", "cart-4", s.infusion, _set(["extension", 0, "valueInteger"], 1)),
    ("cart-crs", "cart-5", s.crs, _set(["severity", "coding", 0, "code"], "grade-3")),
    ("cart-crs", "cart-5", s.crs, _set(["code", "coding", 0, "code"], "D89.839")),
    ("cart-crs", "cart-5", s.crs, lambda r: r.update(code={"coding": [{"system": s.ICD10CM, "code": "D89.839"}]},
                                                     severity=s.local("grade-2"))),
    ("cart-icans", "cart-6", s.icans, _set(["code", "coding", 0, "code"], "G92.02")),
    ("cart-icans", "cart-6", s.icans, _set(["code", "coding", 0, "code"], "G92.00")),
    ("cart-crs", "cart-7", s.crs, _set(["_abatementDateTime", "extension", 0, "valueInteger"], 1)),
    ("cart-toxicity-treatment", "cart-7", s.treatment, _treatment_period),
    ("cart-icans", "cart-7", s.icans, lambda r: r.update(_abatementDateTime={"extension": [s.day(2)]})),
    ("cart-iec-hs", "cart-7", s.iec_hs, lambda r: r.update(_abatementDateTime={"extension": [s.day(-1)]})),
    ("cart-crs", "cart-8", s.crs, _set(["extension"], [s.day(2)])),
    ("cart-icans", "cart-8", s.icans, _set(["extension"], [s.day(3)])),
    ("cart-iec-hs", "cart-8", s.iec_hs, _set(["extension"], [s.day(7)])),
    ("cart-lab-observation", "cart-9", s.lab, _drop(["valueQuantity", "system"])),
    ("cart-vital-sign", "cart-9", s.vital, _drop(["valueQuantity", "code"])),
    ("cart-cohort-observation", "cart-9", s.cohort_observation, _drop(["component", 0, "valueQuantity", "system"])),
    ("cart-lab-observation", "cart-10", s.lab, lambda r: r.update(
        code={"coding": [{"system": s.LOINC, "code": "76039-7"}]},
        valueQuantity={"value": 2400, "unit": "U/mL", "system": s.UCUM, "code": "U/mL"})),
    ("cart-vital-sign", "cart-11", lambda: s.vital(s.local("ice-score"), valueInteger=9),
     _set(["valueInteger"], 11)),
    ("cart-vital-sign", "cart-11", lambda: s.vital(s.local("ice-score"), valueInteger=9),
     lambda r: (r.pop("valueInteger"), r.update(valueQuantity={"value": 9, "system": s.UCUM, "code": "1"}))),
    ("cart-vital-sign", "cart-12", s.vital, _set(["valueQuantity", "code"], "[degF]")),
    ("cart-vital-sign", "cart-13",
     lambda: s.vital(s.local("oxygen-support"), valueCodeableConcept=s.local("o2-low-flow")),
     _set(["valueCodeableConcept"], s.local("grade-2"))),
    ("cart-vital-sign", "cart-13",
     lambda: s.vital(s.local("oxygen-support"), valueCodeableConcept=s.local("o2-support-not-stated")),
     _set(["valueCodeableConcept"], s.local("hypotension"))),
    ("cart-response-assessment", "cart-17",
     lambda: s.response("mrd", valueCodeableConcept=s.local("mrd-negative")),
     _set(["valueCodeableConcept"], s.local("complete-response"))),
    ("cart-vital-sign", "cart-15", lambda: s.vital(s.local("vasopressor-count"), valueInteger=2),
     _set(["valueInteger"], -1)),
    ("cart-vital-sign", "cart-15",
     lambda: s.vital(s.local("vasopressor-count"), valueQuantity={"value": 4, "comparator": ">=", "system": s.UCUM,
                                                                 "code": "1"}),
     _set(["valueQuantity", "code"], "mg")),
    ("cart-patient", "cart-14", s.patient, _set(["extension"], [{"url": s.SD + "source-publication",
                                                                 "valueString": s.DOI}])),
    ("cart-response-assessment", "cart-16", s.response, _set(["valueCodeableConcept"], s.local("mrd-positive"))),
    ("cart-response-assessment", "cart-17",
     lambda: s.response("mrd-flow", valueQuantity={"value": 0.33, "unit": "%", "system": s.UCUM, "code": "%"}),
     _set(["valueQuantity", "code"], "mg")),
    ("cart-response-assessment", "cart-17",
     lambda: s.response("mrd-flow", valueCodeableConcept=s.local("mrd-negative")),
     _set(["valueCodeableConcept"], s.local("complete-response"))),
    ("cart-cohort-observation", "cart-18", s.cohort_observation,
     _set(["component", 2, "valueQuantity", "value"], 1.5)),
    ("cart-cohort-observation", "cart-19", s.cohort_observation, _drop(["component"])),
    ("cart-toxicity-treatment", "cart-21", s.treatment, _no_day),
    ("cart-lymphodepletion", "cart-2", s.lymphodepletion, lambda r: r["dosage"]["dose"].pop("system")),
    ("cart-lymphodepletion", "cart-7", s.lymphodepletion,
     _set(["effectivePeriod", "_end", "extension", 0, "valueInteger"], -6)),
    ("cart-lymphodepletion", "cart-21", s.lymphodepletion, _no_day),
    ("cart-lymphodepletion", "cart-22", s.lymphodepletion, lambda r: r["effectivePeriod"].pop("_end")),
    ("cart-lymphodepletion", "cart-23", s.lymphodepletion, _set(["extension", 0, "valueInteger"], 0)),
    ("cart-lymphodepletion", "cart-23", s.lymphodepletion,
     _set(["effectivePeriod", "_end", "extension", 0, "valueInteger"], 1)),
    ("cart-crs", "cart-21", s.crs, _set(["extension"], [s.grading()])),
    ("cart-icans", "cart-21", s.icans, _set(["extension"], [s.grading()])),
    ("cart-iec-hs", "cart-21", s.iec_hs, _set(["extension"], [s.grading("astct-2023-iec-hs")])),
    ("cart-lab-observation", "cart-21", s.lab, _no_day),
    ("cart-vital-sign", "cart-21", s.vital, _no_day),
    ("cart-toxicity-grade", "cart-21", s.grade_observation, _set(["extension"], [s.grading()])),
    ("cart-response-assessment", "cart-21", s.response, _no_day),
    ("cart-cohort-observation", "cart-21", lambda: dict(s.cohort_observation(), extension=[s.day(180)],
                                                        effectiveDateTime="2025-01-01"), _no_day),
    ("cart-crs", "cart-22", s.crs, lambda r: r.pop("_abatementDateTime")),
    ("cart-icans", "cart-22", lambda: dict(s.icans(), abatementDateTime="2023-01-06",
                                           _abatementDateTime={"extension": [s.day(5)]}),
     lambda r: r.update(_abatementDateTime={"extension": [s.grading()]})),
    ("cart-iec-hs", "cart-22", lambda: dict(s.iec_hs(), abatementDateTime="2023-01-20",
                                            _abatementDateTime={"extension": [s.day(19)]}),
     lambda r: r.pop("_abatementDateTime")),
    ("cart-other-toxicity", "cart-7", s.other_toxicity,
     _set(["_abatementDateTime", "extension", 0, "valueInteger"], 1)),
    ("cart-other-toxicity", "cart-8", s.other_toxicity, lambda r: r.update(severity=s.local("grade-2"))),
    ("cart-other-toxicity", "cart-21", s.other_toxicity, _set(["extension"], [])),
    ("cart-other-toxicity", "cart-22", s.other_toxicity, lambda r: r.pop("_abatementDateTime")),
    ("cart-toxicity-treatment", "cart-22",
     lambda: _course(s.treatment()), lambda r: r["effectivePeriod"].pop("_end")),
]


def expression(by_url: dict[str, Any], sd_id: str, key: str) -> str:
    sd = by_url[s.SD + sd_id]
    found = [c["expression"] for e in sd["differential"]["element"] for c in e.get("constraint", [])
             if c["key"] == key]
    assert len(found) == 1, f"{sd_id} has {len(found)} invariants {key}"
    return found[0]


def holds(expr: str, resource: Resource, **kw: Any) -> bool:
    return fhirpath.is_true(fhirpath.evaluate(resource, expr, **kw))


@pytest.mark.parametrize("sd_id,key,example,breaks", CASES, ids=[f"{c[0]}:{c[1]}:{i}" for i, c in enumerate(CASES)])
def test_invariant_holds_on_the_example_and_fails_when_broken(by_url: dict[str, Any], sd_id: str, key: str,
                                                              example: Callable[[], Resource],
                                                              breaks: Callable[[Resource], None]) -> None:
    expr = expression(by_url, sd_id, key)
    valid = example()
    assert holds(expr, valid), f"{key} should hold on the valid example"
    broken = copy.deepcopy(valid)
    breaks(broken)
    assert not holds(expr, broken), f"{key} should fail on the broken example"


def test_every_invariant_of_the_package_has_a_case(by_url: dict[str, Any]) -> None:
    keys = {(sd["id"], c["key"]) for sd in by_url.values() if sd["resourceType"] == "StructureDefinition"
            for e in sd["differential"]["element"] for c in e.get("constraint", [])}
    covered = {(c[0], c[1]) for c in CASES} | {("source-publication", "cart-20"),
                                                ("cart-toxicity-treatment", "cart-3")}
    assert sorted(k for k in keys if k not in covered) == []


def test_cart_3_reason_must_resolve_to_a_toxicity_condition(by_url: dict[str, Any]) -> None:
    expr = expression(by_url, "cart-toxicity-treatment", "cart-3")
    targets = {"Condition/crs1": s.crs(), "Condition/icans1": s.icans(), "Condition/iec1": s.iec_hs(),
               "Condition/mal": s.malignancy()}
    resolver = targets.get
    targets["Condition/fh1"] = s.other_toxicity()
    uncategorised = s.other_toxicity()
    del uncategorised["category"]
    targets["Condition/fh2"] = uncategorised
    for ref in ("Condition/crs1", "Condition/icans1", "Condition/iec1", "Condition/fh1"):
        assert holds(expr, s.treatment(ref), resolver=resolver), ref
    assert not holds(expr, s.treatment("Condition/mal"), resolver=resolver)
    # the same febrile hypotension without the cart-other-toxicity category is not a toxicity reason
    assert not holds(expr, s.treatment("Condition/fh2"), resolver=resolver)
    assert not holds(expr, s.treatment("Observation/ferritin"), resolver={"Observation/ferritin": s.lab()}.get)
    # outside a Bundle the reference cannot be resolved: the rule is left to the targetProfile check
    assert holds(expr, s.treatment("Condition/elsewhere"), resolver=lambda ref: None)


def test_cart_20_source_publication_is_a_doi(by_url: dict[str, Any]) -> None:
    expr = expression(by_url, "source-publication", "cart-20")
    ext = {"url": s.SD + "source-publication", "valueString": s.DOI}
    assert holds(expr, ext, context_type="Extension")
    assert not holds(expr, dict(ext, valueString="PMC12996094"), context_type="Extension")
    assert not holds(expr, dict(ext, valueString="doi:10.3389/fonc.2025.1543622"), context_type="Extension")


def test_cart_21_accepts_an_administration_whose_time_is_recorded_unknown(by_url: dict[str, Any]) -> None:
    expr = expression(by_url, "cart-toxicity-treatment", "cart-21")
    unknown = s.treatment()
    unknown["extension"] = []
    del unknown["effectiveDateTime"]
    unknown["effectivePeriod"] = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                                 "valueCode": "unknown"}]}
    assert holds(expr, unknown)
