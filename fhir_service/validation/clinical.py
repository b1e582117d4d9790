"""The project's clinical rules: recompute ASTCT 2019 CRS and ICANS grades from a Bundle's grading inputs.

Signature of the Validator's `rules` hook: `clinical_issues(resource, definitions) -> list[Issue]`.

For every daily grade Observation (cart-tox crs-grade-astct / icans-grade-astct, or crs-grade / icans-grade when
the report does not name its grading system) the rule gathers what the Bundle records for the same patient and
date: fever and temperature, hypotension, the vasopressor count and the vasopressor MedicationAdministrations active
that day, the oxygen support category; the ICE score and the consciousness, seizure, motor and cerebral-oedema
domains. Case reports rarely give every input, so the rule computes the *interval* of grades the recorded inputs
allow (a domain not reported could be anything), per shared/terminology/grading.md, and warns when the recorded
grade lies outside it. A warning, not an error: the grade is the authors' and is kept as reported (grading.md §5);
the rule points the curator at a transcription slip or at a grade the inputs do not support.

It also checks that a CRS/ICANS Condition's grade (its ICD-10-CM D89.83N / G92.0N code) agrees with the highest
daily grade Observation that points at it (Observation.focus).

IEC-HS grades are not recomputed: grading.md marks its criteria UNVERIFIED.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable

from fhir_service.validation.outcome import Issue

CART_TOX = "https://fhir.cart-tox.org/CodeSystem/cart-tox"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
GRADING_SYSTEM_EXT = "https://fhir.cart-tox.org/StructureDefinition/grading-system"

CRS_GRADE_CODES = {"crs-grade-astct": True, "crs-grade": False}  # code -> graded by ASTCT 2019 (as recorded)
ICANS_GRADE_CODES = {"icans-grade-astct": True, "icans-grade": False}
VASOPRESSORS = {(RXNORM, "7512"), (RXNORM, "8163"), (CART_TOX, "angiotensin-ii")}  # counted; vasopressin is not
VASOPRESSIN = (RXNORM, "11149")
ANTICYTOKINE_OR_STEROID = {(RXNORM, c) for c in ("612865", "1535218", "72435", "3264", "6902")} | {(CART_TOX, "emapalumab")}
OXYGEN_GRADE = {"o2-none": 0, "o2-low-flow": 2, "o2-high-flow": 3, "o2-positive-pressure": 4}
# hypoxia reported without its oxygen support: ASTCT grades hypoxia by the support it needs (low-flow 2 ... 4)
OXYGEN_NOT_STATED = "o2-support-not-stated"
CONSCIOUSNESS_GRADE = {"awakens-spontaneously": 1, "awakens-to-voice": 2, "awakens-to-tactile": 3, "unarousable": 4}
SEIZURE_GRADE = {"seizure-rapidly-resolving": 3, "seizure-prolonged-or-repetitive": 4}
MOTOR_GRADE = {"deep-focal-motor-weakness": 4}
EDEMA_GRADE = {"cerebral-edema-focal": 3, "cerebral-edema-diffuse": 4}
ABSENT_WORDS = {"none", "normal", "absent", "no"}
RULE_CRS = "cart-clinical-crs-astct"
RULE_ICANS = "cart-clinical-icans-astct"
RULE_CONDITION = "cart-clinical-condition-grade"


@dataclass
class Interval:
    """The grades the recorded inputs allow: `low` is what they prove, `high` what they leave possible."""

    low: int = 0
    high: int = 0
    reasons: list[str] = field(default_factory=list)

    def widen(self, low: int, high: int, reason: str | None = None) -> None:
        self.low, self.high = max(self.low, low), max(self.high, high)
        if reason:
            self.reasons.append(reason)


@dataclass
class DayInputs:
    fever: bool | None = None
    hypotension: bool | None = None
    vasopressors_low: int = 0  # proven concurrent vasopressors (excluding vasopressin)
    vasopressors_exact: int | None = None  # when an exact count is recorded
    vasopressin: bool = False
    oxygen: int | None = None
    hypoxia: bool = False  # hypoxia recorded with its oxygen support not stated (grade 2 to 4)
    ice: int | None = None
    consciousness: int | None = None
    seizure: int | None = None
    motor: int | None = None
    edema: int | None = None
    recorded: int = 0  # number of grading-input Observations seen


def _codes(concept: Any) -> set[tuple[str, str]]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(codings, list):
        return set()
    return {(str(c.get("system", "")), str(c.get("code", ""))) for c in codings if isinstance(c, dict)}


def _ref(value: Any) -> str:
    """The reference string of a Reference (empty when the shape is wrong: the structural checks report that)."""
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) else ""


def _day(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _domain_grade(concept: Any, table: dict[str, int]) -> int | None:
    """Grade of an ICANS domain value: a project code, or words meaning 'not present'; None if unreadable."""
    for system, code in _codes(concept):
        if system == CART_TOX and code in table:
            return table[code]
    text = concept.get("text") if isinstance(concept, dict) else None
    return 0 if isinstance(text, str) and text.strip().lower() in ABSENT_WORDS else None


class BundleFacts:
    """What the rule needs from a Bundle, indexed once: grading inputs per (subject, date), drugs, grades."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.inputs: dict[tuple[str, dt.date], DayInputs] = {}
        self.grades: list[tuple[int, dict[str, Any], str, bool]] = []  # (entry index, resource, toxicity, astct)
        self.conditions: dict[str, tuple[int, dict[str, Any]]] = {}
        self.drugs: list[dict[str, Any]] = []
        entries = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
        for index, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            rtype = resource.get("resourceType")
            if rtype == "Observation":
                self._observation(index, resource)
            elif rtype == "MedicationAdministration":
                self.drugs.append(resource)
            elif rtype == "Condition" and isinstance(entry.get("fullUrl"), str):
                self.conditions[entry["fullUrl"]] = (index, resource)

    def day_inputs(self, subject: str, day: dt.date) -> DayInputs:
        return self.inputs.setdefault((subject, day), DayInputs())

    def _observation(self, index: int, obs: dict[str, Any]) -> None:
        codes = _codes(obs.get("code"))
        subject = _ref(obs.get("subject"))
        day = _day(obs.get("effectiveDateTime"))
        for system, code in codes:
            if system == CART_TOX and code in CRS_GRADE_CODES:
                self.grades.append((index, obs, "crs", CRS_GRADE_CODES[code]))
                return
            if system == CART_TOX and code in ICANS_GRADE_CODES:
                self.grades.append((index, obs, "icans", ICANS_GRADE_CODES[code]))
                return
        if day is None:
            return
        inputs = self.day_inputs(subject, day)
        before = inputs.recorded
        inputs.recorded += 1
        if (SNOMED, "386661006") in codes and isinstance(obs.get("valueBoolean"), bool):
            inputs.fever = bool(inputs.fever) or obs["valueBoolean"]
        elif (LOINC, "8310-5") in codes and isinstance(obs.get("valueQuantity"), dict):
            q = obs["valueQuantity"]
            value = q.get("value")
            if isinstance(value, (int, float)):
                celsius = (value - 32) * 5 / 9 if q.get("code") == "[degF]" else value
                inputs.fever = bool(inputs.fever) or celsius >= 38.0
        elif (CART_TOX, "hypotension") in codes and isinstance(obs.get("valueBoolean"), bool):
            inputs.hypotension = bool(inputs.hypotension) or obs["valueBoolean"]
        elif (CART_TOX, "vasopressor-count") in codes:
            if isinstance(obs.get("valueInteger"), int):
                inputs.vasopressors_exact = obs["valueInteger"]
                inputs.vasopressors_low = max(inputs.vasopressors_low, obs["valueInteger"])
            elif isinstance(obs.get("valueQuantity"), dict) and isinstance(obs["valueQuantity"].get("value"), (int, float)):
                q = obs["valueQuantity"]
                inputs.vasopressors_low = max(inputs.vasopressors_low, int(q["value"]))
                if not q.get("comparator"):
                    inputs.vasopressors_exact = int(q["value"])
        elif (CART_TOX, "oxygen-support") in codes:
            grade = _domain_grade(obs.get("valueCodeableConcept"), OXYGEN_GRADE)
            if (CART_TOX, OXYGEN_NOT_STATED) in _codes(obs.get("valueCodeableConcept")):
                inputs.hypoxia = True
            elif grade is not None:
                inputs.oxygen = max(inputs.oxygen or 0, grade)
        elif (CART_TOX, "ice-score") in codes and isinstance(obs.get("valueInteger"), int):
            inputs.ice = obs["valueInteger"] if inputs.ice is None else min(inputs.ice, obs["valueInteger"])
        elif (CART_TOX, "consciousness-level") in codes:
            inputs.consciousness = _max(inputs.consciousness, _domain_grade(obs.get("valueCodeableConcept"), CONSCIOUSNESS_GRADE))
        elif (CART_TOX, "seizure") in codes:
            inputs.seizure = _max(inputs.seizure, _domain_grade(obs.get("valueCodeableConcept"), SEIZURE_GRADE))
        elif (CART_TOX, "motor-findings") in codes:
            inputs.motor = _max(inputs.motor, _domain_grade(obs.get("valueCodeableConcept"), MOTOR_GRADE))
        elif (CART_TOX, "cerebral-edema") in codes:
            inputs.edema = _max(inputs.edema, _domain_grade(obs.get("valueCodeableConcept"), EDEMA_GRADE))
        else:
            inputs.recorded = before  # not a grading input

    # -- drugs -----------------------------------------------------------------------------------------------
    def _drug_days(self, drug: dict[str, Any]) -> tuple[dt.date | None, dt.date | None]:
        if drug.get("effectiveDateTime"):
            day = _day(drug["effectiveDateTime"])
            return day, day
        period = drug.get("effectivePeriod")
        if not isinstance(period, dict):
            return None, None
        return _day(period.get("start")), _day(period.get("end"))

    def drugs_of(self, subject: str) -> Iterable[tuple[set[tuple[str, str]], dt.date | None, dt.date | None]]:
        for drug in self.drugs:
            if _ref(drug.get("subject")) != subject or drug.get("status") == "not-done":
                continue
            start, end = self._drug_days(drug)
            yield _codes(drug.get("medicationCodeableConcept")), start, end

    def vasopressors_on(self, subject: str, day: dt.date) -> tuple[int, bool]:
        """Distinct vasopressors (excluding vasopressin) certainly running on `day`, and whether vasopressin was."""
        agents: set[tuple[str, str]] = set()
        vasopressin = False
        for codes, start, end in self.drugs_of(subject):
            if start is None or not (start <= day <= (end or start)):
                continue
            agents |= codes & VASOPRESSORS
            vasopressin = vasopressin or VASOPRESSIN in codes
        return len(agents), vasopressin

    def anticytokine_before(self, subject: str, day: dt.date) -> bool | None:
        """True if an anti-cytokine drug or steroid was given on or before `day`; None if one has no known day."""
        undated = False
        for codes, start, _ in self.drugs_of(subject):
            if codes & ANTICYTOKINE_OR_STEROID:
                if start is None:
                    undated = True
                elif start <= day:
                    return True
        return None if undated else False


def _max(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def crs_interval(inputs: DayInputs, pressors_running: int, vasopressin: bool, prior: bool | None) -> Interval:
    """ASTCT 2019 CRS grade interval (grading.md §1) from partly known inputs."""
    out = Interval()
    n_low = max(inputs.vasopressors_low, pressors_running)
    n_exact = inputs.vasopressors_exact if inputs.vasopressors_exact is not None and inputs.vasopressors_exact >= pressors_running else None
    if inputs.hypotension is True:
        def hypo(n: int) -> int:
            return 4 if n >= 2 else 3 if (n == 1 or vasopressin) else 2
        out.widen(hypo(n_low), hypo(n_exact) if n_exact is not None else 4,
                  f"hypotension with {n_low}{'' if n_exact is not None else '+'} vasopressor(s) excluding vasopressin"
                  + (" and vasopressin" if vasopressin else ""))
    elif inputs.hypotension is False:
        out.reasons.append("no hypotension")
    else:
        out.widen(0, 4)
    if inputs.oxygen is not None:
        out.widen(inputs.oxygen, inputs.oxygen, f"oxygen support category grade {inputs.oxygen}")
    elif inputs.hypoxia:
        out.widen(2, 4, "hypoxia, oxygen support not stated")
    else:
        out.widen(0, 4)
    if inputs.fever is False and prior is False:
        return Interval(0, 0, ["no fever and no anti-cytokine therapy or steroid before: not CRS by ASTCT"])
    if inputs.fever is False:
        out.reasons.append("no fever (fever not required after anti-cytokine therapy, but grade 1 is fever alone)")
    if inputs.fever is True:
        out.widen(1, 1, "fever")
    elif inputs.fever is None:
        out.widen(0, 1)
    return out


def icans_interval(inputs: DayInputs) -> Interval:
    """ASTCT 2019 ICANS grade interval (grading.md §2) from partly known domains."""
    out = Interval()
    if inputs.ice is not None:
        ice = inputs.ice
        if ice == 10:
            out.widen(0, 0, "ICE 10")
        elif ice >= 7:
            out.widen(1, 1, f"ICE {ice}")
        elif ice >= 3:
            out.widen(2, 2, f"ICE {ice}")
        elif ice >= 1:
            out.widen(3, 3, f"ICE {ice}")
        elif inputs.consciousness is not None:  # consciousness known: awake (global aphasia) 3, unarousable 4
            out.widen(3, 3, "ICE 0")
        else:
            out.widen(3, 4, "ICE 0")
    else:
        out.widen(0, 4)
    for name, value in (("consciousness", inputs.consciousness), ("seizure", inputs.seizure),
                        ("motor", inputs.motor), ("cerebral edema", inputs.edema)):
        if value is None:
            out.widen(0, 4)
        else:
            out.widen(value, value, f"{name} domain grade {value}" if value else None)
    return out


def _describe(interval: Interval) -> str:
    span = str(interval.low) if interval.low == interval.high else f"{interval.low} to {interval.high}"
    why = "; ".join(interval.reasons) if interval.reasons else "no decisive input"
    return f"{span} ({why})"


def clinical_issues(resource: dict, definitions: Any = None) -> list[Issue]:
    """Warnings where a recorded CRS/ICANS grade disagrees with the grading inputs of the same Bundle."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Bundle":
        return []
    facts = BundleFacts(resource)
    issues: list[Issue] = []
    worst: dict[str, int] = {}
    for index, obs, toxicity, astct in facts.grades:
        grade = obs.get("valueInteger")
        if not isinstance(grade, int) or isinstance(grade, bool):
            continue
        focuses = obs.get("focus") if isinstance(obs.get("focus"), list) else []
        for ref in filter(None, map(_ref, focuses)):
            worst[ref] = max(worst.get(ref, 0), grade)
        day = _day(obs.get("effectiveDateTime"))
        subject = _ref(obs.get("subject"))
        inputs = facts.inputs.get((subject, day)) if day else None
        if day is None or inputs is None or inputs.recorded == 0 or grade == 5:
            continue
        if toxicity == "crs":
            running, vasopressin = facts.vasopressors_on(subject, day)
            interval = crs_interval(inputs, running, vasopressin or inputs.vasopressin, facts.anticytokine_before(subject, day))
            rule, name = RULE_CRS, "CRS"
        else:
            interval = icans_interval(inputs)
            rule, name = RULE_ICANS, "ICANS"
        if interval.low <= grade <= interval.high:
            continue
        system = "ASTCT 2019" if astct else "a grading system the report does not name"
        issues.append(Issue(
            severity="warning", code="business-rule",
            diagnostics=(f"Recorded {name} grade {grade} on {day.isoformat()} ({system}) disagrees with the ASTCT 2019 "
                         f"grade recomputed from that day's grading inputs: {_describe(interval)}"),
            expression=f"Bundle.entry[{index}].resource.value",
            location=("entry", index, "resource", "valueInteger"),
            rule=rule,
        ))
    for full_url, (index, condition) in facts.conditions.items():
        for system, code in _codes(condition.get("code")):
            if system != ICD10CM or code[:-1] not in ("D89.83", "G92.0") or code[-1] not in "12345":
                continue
            coded = int(code[-1])
            if full_url in worst and worst[full_url] != coded:
                issues.append(Issue(
                    severity="warning", code="business-rule",
                    diagnostics=(f"Condition coded {code} (grade {coded}) but the highest daily grade recorded for "
                                 f"it (Observation.focus) is {worst[full_url]}"),
                    expression=f"Bundle.entry[{index}].resource.code",
                    location=("entry", index, "resource", "code"),
                    rule=RULE_CONDITION,
                ))
    return issues
