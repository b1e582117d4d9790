"""Case timeline -> FHIR R4 Bundle (type collection), built through the fhir.resources R4B models.

Why R4B models: for Patient, Observation, Condition, MedicationAdministration, Procedure, Encounter and Group
R4B is R4, and the models refuse a misspelt element or a wrong type at build time, before the validator runs.

Determinism (the committed bundles are compared with a fresh build): ids are uuid5 of the case id and the
event's place in the timeline (or its explicit `id`), entries are sorted, JSON is indented by 2 with a trailing
newline, and nothing depends on the clock. Dates are the infusion anchor plus the relative day; the day itself
is kept in the relative-day extension of every dated resource.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import uuid
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from fhir_service.cases import terminology
from fhir_service.cases.schema import TimelineError, TimelineProblem, load_timeline

BASE = "https://fhir.cart-tox.org"
SD = f"{BASE}/StructureDefinition/"
EXT_RELATIVE_DAY = f"{SD}relative-day"
EXT_SOURCE = f"{SD}source-publication"
EXT_AGE = f"{SD}age-at-infusion"
EXT_CONSTRUCT = f"{SD}car-construct"
EXT_TARGET = f"{SD}target-antigen"
EXT_GRADING_SYSTEM = f"{SD}grading-system"
EXT_DOSE_FREQUENCY = f"{SD}dose-frequency"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CASE_IDENTIFIER = f"{BASE}/case"
# Business identifier of every resource the builder makes: `<case>/<key>`, the same key the id is a uuid5 of, so
# it is as stable as the id. Servers that assign their own ids (HAPI's default, most EHRs) ignore the id on
# create; a conditional create on this identifier (to-transaction) is what makes a second load create nothing.
RESOURCE_IDENTIFIER = f"{BASE}/case-resource"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, f"{BASE}/cases")

CONDITION_PROFILES = {"crs": "cart-crs", "icans": "cart-icans", "iec-hs": "cart-iec-hs", "malignancy": "cart-malignancy",
                      "other-toxicity": "cart-other-toxicity"}
GRADE_CODES = {
    ("crs", "astct-2019"): "crs-grade-astct",
    ("icans", "astct-2019"): "icans-grade-astct",
    ("iec-hs", "astct-2023-iec-hs"): "iec-hs-grade",
    ("crs", None): "crs-grade",
    ("icans", None): "icans-grade",
    ("iec-hs", None): "iec-hs-grade",
}
GRADING_SYSTEM_CODES = {
    "astct-2019": "astct-2019", "astct-2023-iec-hs": "astct-2023-iec-hs", "ctcae-v5": "ctcae-v5",
    "lee-2014": "lee-2014", "not-stated": "grading-not-stated",
}
OXYGEN_CODES = {"none": "o2-none", "low_flow": "o2-low-flow", "high_flow": "o2-high-flow",
                "positive_pressure": "o2-positive-pressure", "not_stated": "o2-support-not-stated"}
CONSCIOUSNESS_CODES = {"awakens_spontaneously": "awakens-spontaneously", "awakens_to_voice": "awakens-to-voice",
                       "awakens_to_tactile": "awakens-to-tactile", "unarousable": "unarousable"}
TYPE_ORDER = ("Patient", "Group", "Condition", "Encounter", "MedicationAdministration", "Procedure", "Observation")


def _local(code: str) -> dict[str, Any]:
    return {"coding": [terminology.resolve(terminology.LOCAL_PREFIX + code)[0].coding()]}


def _concept(key: str | list[str], text: str | None = None) -> dict[str, Any]:
    keys = [key] if isinstance(key, str) else key
    concept: dict[str, Any] = {"coding": [c.coding() for k in keys for c in terminology.resolve(k)]}
    if text:
        concept["text"] = text
    return concept


def _quantity(value: float, unit: str, comparator: str | None = None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if comparator:
        quantity["comparator"] = comparator
    quantity.update({"unit": unit, "system": terminology.UCUM, "code": unit})
    return quantity


def _number_text(value: float) -> str:
    return str(value)


ROUTES = {"IV": "intravenous", "oral": "oral", "SC": "subcutaneous"}
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "eight": 8, "twelve": 12}


def _timing(frequency: str | None) -> dict[str, Any] | None:
    """A Timing for the frequencies reports use ('every 6 hours', 'twice daily', 'daily'); None for others."""
    if not frequency:
        return None
    words = frequency.lower().replace("hrs", "hours").split()
    if len(words) >= 3 and words[0] == "every" and words[2].startswith("hour"):
        n = _WORD_NUMBERS.get(words[1]) or (int(words[1]) if words[1].isdigit() else None)
        if n:
            return {"repeat": {"frequency": 1, "period": n, "periodUnit": "h"}}
    table = {"twice daily": 2, "once daily": 1, "daily": 1, "three times daily": 3}
    if frequency.lower() in table:
        return {"repeat": {"frequency": table[frequency.lower()], "period": 1, "periodUnit": "d"}}
    return None


def _name(concept: dict[str, Any] | None) -> str:
    concept = concept or {}
    if concept.get("text"):
        return concept["text"]
    return "; ".join(c.get("display") or c.get("code", "") for c in concept.get("coding", [])) or "(not named)"


def _value_text(node: dict[str, Any]) -> str | None:
    if "valueQuantity" in node:
        q = node["valueQuantity"]
        return f"{q.get('comparator', '')}{q['value']}" + (f" {q['unit']}" if q.get("unit") not in (None, "1") else "")
    for key in ("valueInteger", "valueString"):
        if key in node:
            return str(node[key])
    if "valueBoolean" in node:
        return "yes" if node["valueBoolean"] else "no"
    if "valueCodeableConcept" in node:
        return _name(node["valueCodeableConcept"])
    if "valueRange" in node:
        r = node["valueRange"]
        return f"{r.get('low', {}).get('value', '')}-{r.get('high', {}).get('value', '')} {(r.get('low') or r.get('high'))['unit']}"
    return None


def _end_day(resource: dict[str, Any]) -> int | None:
    """The relative day on the end of a period or on an abatement, if any."""
    for holder, field in (("effectivePeriod", "_end"), ("performedPeriod", "_end"), ("period", "_end"), (None, "_abatementDateTime")):
        node = resource.get(holder) if holder else resource
        for ext in ((node or {}).get(field) or {}).get("extension", []):
            if ext.get("url") == EXT_RELATIVE_DAY:
                return ext["valueInteger"]
    return None


def _summary(resource: dict[str, Any], day: int | None) -> str:
    """One line a person can read: what, value or dose, and the day relative to infusion."""
    rtype = resource["resourceType"]
    concept = resource.get("code") or resource.get("medicationCodeableConcept") or (resource.get("type") or [None])[0]
    parts = [f"{rtype}: {_name(concept)}"]
    value = _value_text(resource)
    if value is not None:
        parts.append(f"= {value}")
    for component in resource.get("component", []):
        parts.append(f"{_name(component['code'])} {_value_text(component)}")
    if resource.get("dosage", {}).get("text"):
        parts.append(resource["dosage"]["text"])
    if resource.get("status") == "not-done":
        parts.append("(not done)")
    timing = next((n["text"] for n in resource.get("note", []) if n["text"].startswith("Timing as reported: ")), None)
    onset = resource.get("onsetString") or (resource.get("onsetDateTime") if day is None else None)
    if day is not None:
        parts.append(f"Day {day:+d}" if day else "Day 0")
    elif timing or onset:
        parts.append(f"({timing[20:] if timing else 'onset: ' + onset})")
    elif not _end_day(resource):
        parts.append("(day not reported)")
    end = _end_day(resource)
    if end is not None:
        parts.append(f"to Day {end:+d}" if end else "to Day 0")
    return " ".join(parts)


def _severity(item: dict[str, Any]) -> dict[str, Any] | None:
    """The grade carried by a CRS/ICANS condition's ICD-10-CM code (D89.83N, G92.0N), as the Condition severity."""
    if item["kind"] not in ("crs", "icans") or not item.get("key"):
        return None
    for key in item["key"]:
        for code in terminology.resolve(key):
            if code.code[:-1] in ("D89.83", "G92.0") and code.code[-1] in "12345":
                return _local(f"grade-{code.code[-1]}")
    return None


class CaseBuilder:
    """Builds the resources of one timeline; `bundle()` returns the Bundle as JSON-ready dict."""

    def __init__(self, timeline: dict[str, Any]) -> None:
        self.t = timeline
        self.case: str = timeline["case"]
        anchor = timeline.get("anchor")
        self.anchor: dt.date | None = anchor["infusion_date"] if anchor else None
        self.entries: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.subject: dict[str, str] = {}
        self.keys: set[str] = set()
        self.day_blocks: dict[int, int] = {}
        self.conditions: dict[str, dict[str, str]] = {}

    # -- helpers -------------------------------------------------------------------------------------------
    def rid(self, key: str) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.case}/{key}"))

    def identifier(self, key: str) -> dict[str, str]:
        """The resource's business identifier, as stable as its id (both come from the case and the key)."""
        return {"system": RESOURCE_IDENTIFIER, "value": f"{self.case}/{key}"}

    def ref(self, key: str) -> dict[str, str]:
        return {"reference": f"urn:uuid:{self.rid(key)}"}

    def date(self, day: int) -> str:
        assert self.anchor is not None
        return (self.anchor + dt.timedelta(days=day)).isoformat()

    @staticmethod
    def day_ext(day: int) -> dict[str, Any]:
        return {"url": EXT_RELATIVE_DAY, "valueInteger": day}

    def add(self, key: str, resource: dict[str, Any], day: int | None = None) -> dict[str, Any]:
        if key in self.keys:
            raise ValueError(f"{self.case}: two events share the key {key!r}; give one of them a distinct 'id'")
        self.keys.add(key)
        resource_id = self.rid(key)
        resource["identifier"] = [*resource.get("identifier", []), self.identifier(key)]
        if "text" not in resource:  # dom-6: a short generated narrative, for people browsing the server
            resource["text"] = self.narrative([_summary(resource, day)])
        resource = {"resourceType": resource["resourceType"], "id": resource_id,
                    **{k: v for k, v in resource.items() if k != "resourceType"}}
        model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        rendered = json.loads(model.model_dump_json())
        order = TYPE_ORDER.index(resource["resourceType"])
        self.entries.append(((order, day if day is not None else 1 << 20, key), rendered))
        return rendered

    @staticmethod
    def notes(*texts: str | None) -> list[dict[str, str]]:
        return [{"text": t} for t in texts if t]

    def dated(self, resource: dict[str, Any], day: int | None, field: str) -> None:
        """Put the date (anchor + day) in `field` and the day in the relative-day extension."""
        if day is None:
            return
        resource.setdefault("extension", []).insert(0, self.day_ext(day))
        resource[field] = self.date(day)

    # -- subject -------------------------------------------------------------------------------------------
    def build_patient(self) -> None:
        patient = self.t["patient"]
        source = self.t["source"]
        extensions: list[dict[str, Any]] = [{"url": EXT_SOURCE, "valueString": source["doi"]}]
        if patient.get("age"):
            age = patient["age"]
            value_age: dict[str, Any] = {"value": age["value"]}
            if age.get("comparator"):
                value_age["comparator"] = age["comparator"]
            value_age.update({"unit": "years" if age["unit"] == "a" else "months", "system": terminology.UCUM,
                              "code": age["unit"]})
            extensions.append({"url": EXT_AGE, "valueAge": value_age})
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "meta": {"profile": [f"{SD}cart-patient"]},
            "text": self.narrative(self.patient_summary()),
            "extension": extensions,
            "identifier": [{"system": CASE_IDENTIFIER, "value": self.case}],
            "gender": patient["sex"],
        }
        outcome = self.t.get("outcome")
        if outcome and outcome["status"] == "died":
            if outcome.get("day") is not None:  # the day of death carries its relative-day on the element
                resource["deceasedDateTime"] = self.date(outcome["day"])
                resource["_deceasedDateTime"] = {"extension": [self.day_ext(outcome["day"])]}
            else:
                resource["deceasedBoolean"] = True
        self.add("patient", resource)
        self.subject = self.ref("patient")

    def patient_summary(self) -> list[str]:
        patient, source = self.t["patient"], self.t["source"]
        lines = [f"{self.t['title']}."]
        if source.get("label"):
            lines.append(f"{source['label']} of the report.")
        if patient.get("description"):
            lines.append(patient["description"])
        if patient.get("age_text"):
            lines.append(f"Age as reported: {patient['age_text']}.")
        outcome = self.t.get("outcome")
        if outcome:
            lines.append(f"Outcome: {outcome['text']}")
        lines.append(f"Source: {source['citation']} doi:{source['doi']}")
        anchor = self.t["anchor"]
        if anchor["synthetic"]:
            lines.append(f"Dates are synthetic: Day 0 is anchored on {anchor['infusion_date'].isoformat()}. {anchor['reason']}")
        return lines

    @staticmethod
    def narrative(lines: list[str]) -> dict[str, str]:
        body = "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines)
        return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}

    def build_cohort(self) -> None:
        cohort, source = self.t["cohort"], self.t["source"]
        resource: dict[str, Any] = {
            "resourceType": "Group",
            "meta": {"profile": [f"{SD}cart-cohort"]},
            # R4 Group has no note: findings the report states without a number go into the narrative
            "text": self.narrative([f"{self.t['title']}.", *(c["text"] for c in cohort["characteristics"]),
                                    *cohort["findings"], f"Source: {source['citation']} doi:{source['doi']}"]),
            "extension": [{"url": EXT_SOURCE, "valueString": source["doi"]}],
            "identifier": [{"system": CASE_IDENTIFIER, "value": self.case}],
            "type": "person",
            "actual": True,  # real patients, not a definition; members are not enumerated (no individual data)
            "code": _local("cart-cohort"),
            "name": cohort["name"],
            "quantity": cohort["size"],
            "characteristic": [
                {"code": _concept(c["code"]),
                 "valueCodeableConcept": _concept(c["value"], c["text"]) if c.get("value") else {"text": c["text"]},
                 "exclude": False}
                for c in cohort["characteristics"]
            ],
        }
        if cohort.get("product"):
            resource["characteristic"].append({
                "code": {"text": "CAR-T cell product"}, "valueCodeableConcept": _concept(cohort["product"]),
                "exclude": False})
        if cohort.get("intervention"):  # searchable: Group?characteristic-value=...|emapalumab
            resource["characteristic"].append({
                "code": _local("intervention"),
                "valueCodeableConcept": _concept(cohort["intervention"], cohort.get("intervention_text")),
                "exclude": False})
        self.add("cohort", resource)
        self.subject = self.ref("cohort")

    # -- clinical content ----------------------------------------------------------------------------------
    def build_infusion(self) -> None:
        infusion, anchor = self.t["infusion"], self.t["anchor"]
        resource: dict[str, Any] = {
            "resourceType": "MedicationAdministration",
            "meta": {"profile": [f"{SD}cart-infusion"]},
            "extension": [
                {"url": EXT_CONSTRUCT, "valueCodeableConcept": _concept(infusion["product"], infusion["construct"])},
                {"url": EXT_TARGET, "valueCodeableConcept": _concept(infusion["target"])},
            ],
            "status": "completed",
            "medicationCodeableConcept": _concept(infusion["product"], infusion.get("product_text")),
            "subject": self.subject,
        }
        self.dated(resource, 0, "effectiveDateTime")
        synthetic = (f"Synthetic date: Day 0 anchored on {anchor['infusion_date'].isoformat()}. {anchor['reason']}"
                     if anchor["synthetic"] else None)
        resource["note"] = self.notes(synthetic, infusion.get("lymphodepletion_text"), infusion.get("note"))
        if not resource["note"]:
            del resource["note"]
        self.add("infusion", resource, 0)

    def build_condition(self, item: dict[str, Any]) -> None:
        key = f"condition/{item['id']}"
        self.conditions[item["id"]] = self.ref(key)
        resource: dict[str, Any] = {"resourceType": "Condition"}
        profile = CONDITION_PROFILES.get(item["kind"])
        if profile:
            resource["meta"] = {"profile": [f"{SD}{profile}"]}
        extensions = []
        if item.get("grading_system"):
            extensions.append({"url": EXT_GRADING_SYSTEM,
                               "valueCodeableConcept": _local(GRADING_SYSTEM_CODES[item["grading_system"]])})
        if extensions:
            resource["extension"] = extensions
        severity = _severity(item)
        ended = item.get("abatement") is not None or item.get("abatement_text")
        if ended:
            resource["clinicalStatus"] = {"coding": [{"system": CONDITION_CLINICAL, "code": "resolved"}]}
        resource["verificationStatus"] = {"coding": [{"system": CONDITION_VERIFICATION, "code": item["verification"]}]}
        if item["kind"] == "other-toxicity":  # a CAR-T toxicity in the report's words, not relabelled CRS/ICANS/IEC-HS
            resource["category"] = [_local("cart-other-toxicity")]
        if severity:
            resource["severity"] = severity
        resource["code"] = _concept(item["key"], item["text"]) if item.get("key") else {"text": item["text"]}
        resource["subject"] = self.subject
        if item.get("onset") is not None:
            self.dated(resource, item["onset"], "onsetDateTime")
        elif item.get("onset_year") is not None:
            resource["onsetDateTime"] = str(item["onset_year"])
        elif item.get("onset_text"):
            resource["onsetString"] = item["onset_text"]
        if item.get("abatement") is not None:
            resource["abatementDateTime"] = self.date(item["abatement"])
            resource["_abatementDateTime"] = {"extension": [self.day_ext(item["abatement"])]}
        elif item.get("abatement_text"):
            resource["abatementString"] = item["abatement_text"]
        notes = self.notes(item.get("note"), item.get("onset_text") if item.get("onset") is not None else None)
        if notes:
            resource["note"] = notes
        self.add(key, resource, item.get("onset"))

    def build_encounter(self, item: dict[str, Any]) -> None:
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "status": "finished" if item.get("end") is not None or item.get("end_text") else "unknown",
            "class": {"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
            "type": [{"text": item["text"]}],
            "subject": self.subject,
        }
        period: dict[str, Any] = {}
        if item.get("start") is not None:
            resource["extension"] = [self.day_ext(item["start"])]
            period["start"] = self.date(item["start"])
        if item.get("end") is not None:
            period["end"] = self.date(item["end"])
            period["_end"] = {"extension": [self.day_ext(item["end"])]}
        if period:
            resource["period"] = period
        # R4 Encounter has no note: what the report says about the stay goes into its narrative
        words = [t for t in (item.get("start_text"), item.get("end_text"), item.get("note")) if t]
        resource["text"] = self.narrative([_summary(resource, item.get("start")), *words])
        self.add(f"encounter/{item['id']}", resource, item.get("start"))

    def observation(self, key: str, profile: str | None, category: str | None, code: dict[str, Any],
                    day: int | None, when: str | None, note: str | None = None) -> dict[str, Any]:
        resource: dict[str, Any] = {"resourceType": "Observation"}
        if profile:
            resource["meta"] = {"profile": [f"{SD}{profile}"]}
        resource["status"] = "final"
        if category:
            resource["category"] = [{"coding": [{"system": OBS_CATEGORY, "code": category,
                                                 "display": "Laboratory" if category == "laboratory" else "Vital Signs"}]}]
        resource["code"] = code
        resource["subject"] = self.subject
        self.dated(resource, day, "effectiveDateTime")
        notes = self.notes(f"Timing as reported: {when}" if when else None, note)
        if notes:
            resource["note"] = notes
        return resource

    def build_measure(self, key: str, item: dict[str, Any], profile: str, category: str | None,
                      day: int | None, when: str | None) -> None:
        note = item.get("note")
        if item.get("specimen"):
            note = f"Specimen: {item['specimen']}." + (f" {note}" if note else "")
        if item.get("approx"):
            note = "Approximate value, as reported." + (f" {note}" if note else "")
        resource = self.observation(key, profile, category, _concept(item["key"]), day, when, note)
        if item.get("method"):
            resource["method"] = {"text": item["method"]}
        if item.get("approx"):
            resource["valueString"] = f"~{_number_text(item['value'])} {item['unit']}"
        elif item.get("value") is not None:
            unit = item.get("unit")
            resource["valueQuantity"] = (_quantity(item["value"], unit, item.get("comparator")) if unit
                                         else {"value": item["value"], **({"comparator": item["comparator"]} if item.get("comparator") else {})})
        elif item.get("range") is not None:
            rng = item["range"]
            resource["valueRange"] = {k: _quantity(rng[k], rng["unit"]) for k in ("low", "high") if rng.get(k) is not None}
        elif item.get("text") is not None:
            resource["valueString"] = item["text"]
        elif item.get("boolean") is not None:
            resource["valueBoolean"] = item["boolean"]
        elif item.get("code") is not None:
            resource["valueCodeableConcept"] = _concept(item["code"], item.get("code_text"))
        if item.get("components"):
            resource["component"] = [
                {"code": _concept(c["key"]), "valueQuantity": _quantity(c["value"], c["unit"], c.get("comparator"))}
                for c in item["components"]
            ]
        self.add(key, resource, day)

    def build_grading(self, prefix: str, inputs: dict[str, Any], day: int | None, when: str | None) -> None:
        note = inputs.get("note")

        def vital(name: str, code: dict[str, Any], value: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
            resource = self.observation(f"{prefix}/{name}", "cart-vital-sign", "vital-signs", code, day, when, note)
            resource.update(value)
            if extra:
                resource.update(extra)
            self.add(f"{prefix}/{name}", resource, day)

        if inputs.get("fever") is not None:
            vital("fever", _concept("finding.fever"), {"valueBoolean": inputs["fever"]})
        if inputs.get("temperature"):
            t = inputs["temperature"]
            vital("temperature", _concept("vital.body_temperature"), {"valueQuantity": _quantity(t["value"], t["unit"], t.get("comparator"))})
        if inputs.get("hypotension") is not None:
            vital("hypotension", _local("hypotension"), {"valueBoolean": inputs["hypotension"]})
        if inputs.get("vasopressors"):
            v = inputs["vasopressors"]
            # an exact count is an integer; "multiple" is a Quantity (UCUM '1') with comparator >=
            value = ({"valueQuantity": {"value": v["count"], "comparator": ">=", "unit": "1", "system": terminology.UCUM, "code": "1"}}
                     if v.get("at_least") else {"valueInteger": v["count"]})
            extra = {"note": self.notes(f"Timing as reported: {when}" if when else None, note, v.get("text"))} if v.get("text") else None
            vital("vasopressors", _local("vasopressor-count"), value, extra)
        if inputs.get("oxygen"):
            o = inputs["oxygen"]
            value = _local(OXYGEN_CODES[o["support"]])
            if o.get("device"):
                value["text"] = o["device"]
            extra = {"component": [{"code": _concept("vital.o2_flow"), "valueQuantity": _quantity(o["flow"], "L/min")}]} if o.get("flow") is not None else None
            vital("oxygen", _local("oxygen-support"), {"valueCodeableConcept": value}, extra)
        if inputs.get("ice_score") is not None:
            vital("ice", _local("ice-score"), {"valueInteger": inputs["ice_score"]})
        domains = (("consciousness", "consciousness-level", CONSCIOUSNESS_CODES),
                   ("seizure", "seizure", {"rapidly_resolving": "seizure-rapidly-resolving", "prolonged_or_repetitive": "seizure-prolonged-or-repetitive"}),
                   ("motor", "motor-findings", {"deep_focal_weakness": "deep-focal-motor-weakness"}),
                   ("edema", "cerebral-edema", {"focal": "cerebral-edema-focal", "diffuse": "cerebral-edema-diffuse"}))
        for name, code, values in domains:
            if inputs.get(name) is None:
                continue
            word = inputs[name]
            local = values.get(word)
            value = _local(local) if local and local in terminology.project_codes() else {}
            value["text"] = inputs.get(f"{name}_text") or word.replace("_", " ")
            vital(name, _local(code), {"valueCodeableConcept": value})

    def build_grade(self, key: str, grade: dict[str, Any], day: int) -> None:
        system = grade["system"]
        code = GRADE_CODES.get((grade["toxicity"], system)) or GRADE_CODES[(grade["toxicity"], None)]
        resource = self.observation(key, "cart-toxicity-grade", None, _local(code), day, None, grade.get("note"))
        resource.setdefault("extension", []).append(
            {"url": EXT_GRADING_SYSTEM, "valueCodeableConcept": _local(GRADING_SYSTEM_CODES[system])})
        if grade.get("condition"):
            resource["focus"] = [self.conditions[grade["condition"]]]
        resource["valueInteger"] = grade["grade"]
        self.add(key, resource, day)

    def build_drug(self, key: str, drug: dict[str, Any], day: int | None, when: str | None) -> None:
        resource: dict[str, Any] = {"resourceType": "MedicationAdministration"}
        if drug["role"] == "toxicity":
            resource["meta"] = {"profile": [f"{SD}cart-toxicity-treatment"]}
        elif drug["role"] == "lymphodepletion":
            resource["meta"] = {"profile": [f"{SD}cart-lymphodepletion"]}
        resource["status"] = drug["status"]
        if drug["status"] == "not-done" and drug.get("note"):
            resource["statusReason"] = [{"text": drug["note"]}]
        text = drug.get("agent_text")
        resource["medicationCodeableConcept"] = _concept(drug["agent"], text) if drug.get("agent") else {"text": text}
        resource["subject"] = self.subject
        if day is not None:
            resource["extension"] = [self.day_ext(day)]
            if drug.get("until") is not None or drug.get("until_text"):
                period: dict[str, Any] = {"start": self.date(day)}
                if drug.get("until") is not None:
                    period["end"] = self.date(drug["until"])
                    period["_end"] = {"extension": [self.day_ext(drug["until"])]}
                resource["effectivePeriod"] = period
            else:
                resource["effectiveDateTime"] = self.date(day)
        else:  # the report gives no day: say so rather than guess one
            resource["effectivePeriod"] = {"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}
        if drug.get("reason"):
            resource["reasonReference"] = [self.conditions[r] for r in drug["reason"]]
        if drug.get("reason_text"):
            resource["reasonCode"] = [{"text": drug["reason_text"]}]
        dosage = self.dosage(drug)
        # R4 mad-1: a dosage has a dose or a rate; without one, what the report says goes into a note
        as_reported = None
        if dosage and "dose" not in dosage and "rateQuantity" not in dosage:
            as_reported = f"As reported: {dosage['text']}" if dosage.get("text") else None
            dosage = {}
        notes = self.notes(f"Timing as reported: {when}" if when else None, as_reported,
                           f"Until: {drug['until_text']}" if drug.get("until_text") else None,
                           drug.get("note") if drug["status"] != "not-done" else None)
        if notes:
            resource["note"] = notes
        if dosage:
            resource["dosage"] = dosage
        self.add(key, resource, day)

    @staticmethod
    def dosage(drug: dict[str, Any]) -> dict[str, Any]:
        dosage: dict[str, Any] = {}
        words = []
        if drug.get("dose_text"):
            words.append(drug["dose_text"])
        elif drug.get("dose") is not None:
            words.append(f"{_number_text(drug['dose'])} {drug['unit']}")
        if drug.get("frequency"):
            words.append(drug["frequency"])
        if drug.get("count"):
            words.append(f"{drug['count']} administration{'s' if drug['count'] > 1 else ''} that day")
        if drug.get("route"):
            words.append(f"route {ROUTES[drug['route']]}")
        if words:
            dosage["text"] = ", ".join(words)
        timing = _timing(drug.get("frequency"))
        if timing:
            dosage["extension"] = [{"url": EXT_DOSE_FREQUENCY, "valueTiming": timing}]
        if drug.get("route"):
            dosage["route"] = _local(ROUTES[drug["route"]])
        if drug.get("dose") is not None:
            quantity = _quantity(drug["dose"], drug["unit"])
            if drug["unit"].endswith("/min"):
                dosage["rateQuantity"] = quantity
            else:
                dosage["dose"] = quantity
        return dosage

    def build_procedure(self, key: str, item: dict[str, Any], day: int | None, when: str | None) -> None:
        resource: dict[str, Any] = {
            "resourceType": "Procedure",
            "status": "completed",
            "code": _concept(item["key"], item["text"]) if item.get("key") else {"text": item["text"]},
            "subject": self.subject,
        }
        if day is not None:
            resource["extension"] = [self.day_ext(day)]
            if item.get("until") is not None:
                resource["performedPeriod"] = {"start": self.date(day), "end": self.date(item["until"]),
                                               "_end": {"extension": [self.day_ext(item["until"])]}}
            else:
                resource["performedDateTime"] = self.date(day)
        if item.get("reason"):
            resource["reasonReference"] = [self.conditions[r] for r in item["reason"]]
        notes = self.notes(f"Timing as reported: {when}" if when else None,
                           f"Until: {item['until_text']}" if item.get("until_text") else None, item.get("note"))
        if notes:
            resource["note"] = notes
        self.add(key, resource, day)

    def build_day(self, index: int, block: dict[str, Any]) -> None:
        day, when = block.get("day"), block.get("when")
        if day is not None:  # the n-th block of the same day gets its own keys (day13, day13b, ...)
            seen = self.day_blocks.get(day, 0)
            self.day_blocks[day] = seen + 1
            base = f"day{day}" + ("" if seen == 0 else chr(ord("a") + seen))
        else:
            base = f"undated{index}"
        when = when if day is None else None
        if block.get("when") and day is not None:
            when = block["when"]
        for i, item in enumerate(block["labs"]):
            self.build_measure(item.get("id") or f"{base}/lab/{i}", item, "cart-lab-observation", "laboratory", day, when)
        for i, item in enumerate(block["vitals"]):
            self.build_measure(item.get("id") or f"{base}/vital/{i}", item, "cart-vital-sign", "vital-signs", day, when)
        if block.get("grading"):
            self.build_grading(f"{base}/grading", block["grading"], day, when)
        for i, grade in enumerate(block["grades"]):
            self.build_grade(f"{base}/grade/{i}", grade, day)
        for i, drug in enumerate(block["drugs"]):
            self.build_drug(drug.get("id") or f"{base}/drug/{i}", drug, day, when)
        for i, item in enumerate(block["procedures"]):
            self.build_procedure(item.get("id") or f"{base}/procedure/{i}", item, day, when)
        for i, item in enumerate(block["responses"]):
            self.build_measure(item.get("id") or f"{base}/response/{i}", item, "cart-response-assessment", None, day, when)

    def build_aggregate(self, item: dict[str, Any]) -> None:
        resource = self.observation(f"aggregate/{item['id']}", "cart-cohort-observation", None,
                                    _concept(item["key"]), None, None, None)
        notes = self.notes(item.get("comparison"), item.get("note"))
        if notes:
            resource["note"] = notes
        components: list[dict[str, Any]] = []
        unit = item.get("unit")
        if item["statistic"] == "mean-before-after":
            treatment = (self.t.get("cohort") or {}).get("intervention_text") or "the intervention"
            resource["method"] = {"text": f"mean before vs. after {treatment}"}
            components.append({"code": _local("mean-before"), "valueQuantity": _quantity(item["before"], unit)})
            components.append({"code": _local("mean-after"), "valueQuantity": _quantity(item["after"], unit)})
        else:
            if item.get("value") is not None:
                resource["valueQuantity"] = _quantity(item["value"], unit) if unit else {"value": item["value"]}
            else:
                resource["valueString"] = item["text"]
        if item.get("p"):
            components.append({"code": _local("p-value"),
                               "valueQuantity": _quantity(item["p"]["value"], "1", item["p"].get("comparator"))})
        if item.get("ci95"):
            low, high = item["ci95"]
            components.append({"code": _local("ci95-lower"), "valueQuantity": _quantity(low, unit)})
            components.append({"code": _local("ci95-upper"), "valueQuantity": _quantity(high, unit)})
        if item.get("time_point"):
            tp = item["time_point"]
            components.append({"code": _local("time-point"), "valueQuantity": _quantity(tp["value"], tp["unit"])})
        if components:
            resource["component"] = components
        self.add(f"aggregate/{item['id']}", resource)

    # -- assembly ------------------------------------------------------------------------------------------
    def bundle(self) -> dict[str, Any]:
        if self.t.get("patient") is not None:
            self.build_patient()
            self.build_infusion()
        else:
            self.build_cohort()
        for item in self.t["malignancy"]:
            self.build_condition({**item, "kind": item.get("kind", "malignancy")})
        for item in self.t["conditions"]:
            self.build_condition(item)
        for item in self.t["encounters"]:
            self.build_encounter(item)
        for index, block in enumerate(self.t["days"]):
            self.build_day(index, block)
        for item in self.t["aggregates"]:
            self.build_aggregate(item)
        self.entries.sort(key=lambda pair: pair[0])
        bundle = {
            "resourceType": "Bundle",
            "id": self.case,
            "meta": {"source": f"https://doi.org/{self.t['source']['doi']}"},
            "identifier": {"system": CASE_IDENTIFIER, "value": self.case},
            "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource} for _, resource in self.entries],
        }
        get_fhir_model_class("Bundle").model_validate(bundle)
        return bundle


def build_bundle(timeline: dict[str, Any]) -> dict[str, Any]:
    """The Bundle for a checked timeline (see schema.load_timeline)."""
    return CaseBuilder(timeline).bundle()


def render(bundle: dict[str, Any]) -> str:
    """The stable text form of a Bundle: what bundles/<case>.json holds."""
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


def build_file(path: str | Path) -> tuple[str, str]:
    """(case id, rendered Bundle) for one timeline file; raises schema.TimelineError on a bad timeline."""
    timeline = load_timeline(path)
    try:
        return timeline["case"], render(build_bundle(timeline))
    except ValueError as exc:  # a clash the schema cannot see (e.g. two events pinned to one id)
        raise TimelineError([TimelineProblem(str(path), "", str(exc))]) from None
