"""Valid example resources for every profile of the package, drawn from the seed case reports.

Each builder returns a fresh dict so a test can break one rule of it. The values are the reports' own: e.g. the
mCRPC patient of doi:10.3389/fonc.2025.1543622 (BPX-601, CRS grade 2 on Day +2, tocilizumab 8 mg/kg) and the
38-patient paediatric cohort of doi:10.3389/fimmu.2026.1679175.
"""
from __future__ import annotations

import uuid
from typing import Any

CANONICAL = "https://fhir.cart-tox.org"
SD = CANONICAL + "/StructureDefinition/"
CART_TOX = CANONICAL + "/CodeSystem/cart-tox"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
DOI = "10.3389/fonc.2025.1543622"

Resource = dict[str, Any]


def day(n: int) -> dict[str, Any]:
    return {"url": SD + "relative-day", "valueInteger": n}


def local(code: str) -> dict[str, Any]:
    return {"coding": [{"system": CART_TOX, "code": code}]}


def grading(code: str = "astct-2019") -> dict[str, Any]:
    return {"url": SD + "grading-system", "valueCodeableConcept": local(code)}


def patient() -> Resource:
    return {"resourceType": "Patient", "id": "p1", "meta": {"profile": [SD + "cart-patient"]},
            "extension": [{"url": SD + "source-publication", "valueString": DOI},
                          {"url": SD + "age-at-infusion",
                           "valueAge": {"value": 67, "unit": "years", "system": UCUM, "code": "a"}}],
            "gender": "male", "deceasedBoolean": True}


def infusion() -> Resource:
    return {"resourceType": "MedicationAdministration", "id": "inf", "meta": {"profile": [SD + "cart-infusion"]},
            "extension": [day(0),
                          {"url": SD + "car-construct", "valueCodeableConcept": local("bpx-601")},
                          {"url": SD + "target-antigen", "valueCodeableConcept": local("psca")}],
            "status": "completed", "medicationCodeableConcept": local("bpx-601"),
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2023-01-01"}


def crs(grade: int = 2, onset: int = 2, abatement: int | None = 4) -> Resource:
    resource: Resource = {
        "resourceType": "Condition", "id": "crs1", "meta": {"profile": [SD + "cart-crs"]},
        "extension": [day(onset), grading()],
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "resolved" if abatement else "active"}]},
        "severity": local(f"grade-{grade}"),
        "code": {"coding": [{"system": ICD10CM, "code": f"D89.83{grade}"}]},
        "subject": {"reference": "Patient/p1"}, "onsetDateTime": "2023-01-03"}
    if abatement is not None:
        resource["abatementDateTime"] = "2023-01-05"
        resource["_abatementDateTime"] = {"extension": [day(abatement)]}
    return resource


def icans(grade: int = 1) -> Resource:
    return {"resourceType": "Condition", "id": "icans1", "meta": {"profile": [SD + "cart-icans"]},
            "extension": [day(3), grading()],
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "severity": local(f"grade-{grade}"),
            "code": {"coding": [{"system": ICD10CM, "code": f"G92.0{grade}"}]},
            "subject": {"reference": "Patient/p1"}, "onsetDateTime": "2023-01-04"}


def iec_hs() -> Resource:
    return {"resourceType": "Condition", "id": "iec1", "meta": {"profile": [SD + "cart-iec-hs"]},
            "extension": [day(7), grading("astct-2023-iec-hs")],
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "severity": local("grade-3"),
            "code": {"coding": [{"system": CART_TOX, "code": "iec-hs"},
                                {"system": ICD10CM, "code": "D76.1"}]},
            "subject": {"reference": "Patient/p1"}, "onsetDateTime": "2023-01-08"}


def other_toxicity() -> Resource:
    """Febrile hypotension on Day +2, resolved the same day after tocilizumab (seed 004, Case 1): a CAR-T
    toxicity the report never calls CRS."""
    return {"resourceType": "Condition", "id": "fh1", "meta": {"profile": [SD + "cart-other-toxicity"]},
            "extension": [day(2)],
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "resolved"}]},
            "category": [local("cart-other-toxicity")],
            "code": {"text": "Febrile hypotension treated with tocilizumab"},
            "subject": {"reference": "Patient/p1"}, "onsetDateTime": "2023-01-03",
            "abatementDateTime": "2023-01-03", "_abatementDateTime": {"extension": [day(2)]}}


def malignancy() -> Resource:
    return {"resourceType": "Condition", "id": "mal", "meta": {"profile": [SD + "cart-malignancy"]},
            "code": {"coding": [{"system": ICD10CM, "code": "C61"}], "text": "mCRPC"},
            "subject": {"reference": "Patient/p1"}, "onsetDateTime": "2019"}


def lymphodepletion() -> Resource:
    """Fludarabine 30 mg/m2 daily on Day -5 through Day -3 (seed 002)."""
    return {"resourceType": "MedicationAdministration", "id": "flu",
            "meta": {"profile": [SD + "cart-lymphodepletion"]}, "extension": [day(-5)], "status": "completed",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "24698"}]},
            "subject": {"reference": "Patient/p1"},
            "effectivePeriod": {"start": "2022-12-27", "end": "2022-12-29", "_end": {"extension": [day(-3)]}},
            "dosage": {"dose": {"value": 30, "unit": "mg/m2", "system": UCUM, "code": "mg/m2"}}}


def treatment(reason: str = "Condition/crs1") -> Resource:
    return {"resourceType": "MedicationAdministration", "id": "toci",
            "meta": {"profile": [SD + "cart-toxicity-treatment"]}, "extension": [day(2)], "status": "completed",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "612865"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2023-01-03",
            "reasonReference": [{"reference": reason}],
            "dosage": {"route": local("intravenous"),
                       "dose": {"value": 8, "unit": "mg/kg", "system": UCUM, "code": "mg/kg"}}}


def lab() -> Resource:
    return {"resourceType": "Observation", "id": "ferritin", "meta": {"profile": [SD + "cart-lab-observation"]},
            "extension": [day(3)], "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": "2276-4"}]}, "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2023-01-04",
            "valueQuantity": {"value": 487, "unit": "ng/mL", "system": UCUM, "code": "ng/mL"}}


def vital(code: dict[str, Any] | None = None, **value: Any) -> Resource:
    resource: Resource = {"resourceType": "Observation", "id": "temp", "meta": {"profile": [SD + "cart-vital-sign"]},
                          "extension": [day(1)], "status": "final",
                          "code": code or {"coding": [{"system": LOINC, "code": "8310-5"}]},
                          "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2023-01-02"}
    resource.update(value or {"valueQuantity": {"value": 39.5, "unit": "C", "system": UCUM, "code": "Cel"}})
    return resource


def grade_observation(value: int = 2) -> Resource:
    return {"resourceType": "Observation", "id": "g1", "meta": {"profile": [SD + "cart-toxicity-grade"]},
            "extension": [day(2), grading()], "status": "final", "code": local("crs-grade-astct"),
            "subject": {"reference": "Patient/p1"}, "focus": [{"reference": "Condition/crs1"}],
            "effectiveDateTime": "2023-01-03",
            "valueInteger": value, "method": local("grade-reported")}


def response(code: str = "disease-response", **value: Any) -> Resource:
    resource: Resource = {"resourceType": "Observation", "id": "resp",
                          "meta": {"profile": [SD + "cart-response-assessment"]}, "extension": [day(30)],
                          "status": "final", "code": local(code), "subject": {"reference": "Patient/p1"},
                          "effectiveDateTime": "2023-01-31"}
    resource.update(value or {"valueCodeableConcept": local("complete-response")})
    return resource


def cohort() -> Resource:
    return {"resourceType": "Group", "id": "cohort", "meta": {"profile": [SD + "cart-cohort"]},
            "extension": [{"url": SD + "source-publication", "valueString": "10.3389/fimmu.2026.1679175"}],
            "type": "person", "actual": True, "code": local("cart-cohort"), "quantity": 38,
            "characteristic": [{"code": local("age-group"), "valueCodeableConcept": local("pediatric"),
                                "exclude": False}]}


def cohort_observation(p_value: float = 0.001) -> Resource:
    def quantity(value: float, code: str, unit: str) -> dict[str, Any]:
        return {"value": value, "unit": unit, "system": UCUM, "code": code}
    return {"resourceType": "Observation", "id": "ifng", "meta": {"profile": [SD + "cart-cohort-observation"]},
            "status": "final", "code": {"coding": [{"system": LOINC, "code": "27415-9"}]},
            "subject": {"reference": "Group/cohort"},
            "component": [
                {"code": local("mean-before"), "valueQuantity": quantity(21984.11, "pg/mL", "pg/mL")},
                {"code": local("mean-after"), "valueQuantity": quantity(674.87, "pg/mL", "pg/mL")},
                {"code": local("p-value"), "valueQuantity": dict(quantity(p_value, "1", "1"), comparator="<")}]}


def bundle(*resources: Resource) -> Resource:
    """A collection Bundle with urn:uuid fullUrls, its `Type/id` references rewritten to them."""
    urls = {f"{r['resourceType']}/{r['id']}": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, r['resourceType'] + r['id'])}"
            for r in resources}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (urls.get(v, v) if k == "reference" else rewrite(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": urls[f"{r['resourceType']}/{r['id']}"], "resource": rewrite(r)} for r in resources]}
