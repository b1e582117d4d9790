"""The resource profiles of the package: patient, infusion, treatments, toxicity conditions, observations,
cohort. Each invariant states one clinical or coding rule the reports' data must keep (keys cart-1...)."""
from __future__ import annotations

from typing import Any

from common import (CART_TOX, EXT_AGE_AT_INFUSION, EXT_CAR_CONSTRUCT, EXT_DOSE_FREQUENCY, EXT_GRADING_SYSTEM,
                    EXT_RELATIVE_DAY, EXT_SOURCE_PUBLICATION, EXT_TARGET_ANTIGEN, ICD10CM,
                    LOINC, OBS_CATEGORY, SD, UCUM, VS, Resource, header)
from elements import (Element, binding, coding_slices, constraint, el, extension_slices, reference,
                      structure_definition)

PATIENT = SD + "cart-patient"
TOXICITY_CONDITIONS = [SD + "cart-crs", SD + "cart-icans", SD + "cart-iec-hs"]
OTHER_TOXICITY = SD + "cart-other-toxicity"
#: What a toxicity-directed drug may be given for: a graded toxicity, or another CAR-T-associated toxicity.
TREATMENT_REASONS = [*TOXICITY_CONDITIONS, OTHER_TOXICITY]
OTHER_TOXICITY_CATEGORY = "cart-other-toxicity"


def _ext(url: str) -> str:
    return f"extension.where(url = '{url}')"


# -- invariants shared by several profiles -------------------------------------------------------------
def _inv_period(src: str, end: str) -> dict[str, str]:
    """The day on the element ending the period (`end`) is not before the resource's relative day."""
    return constraint(
        "cart-7", f"The last day (relative-day on {end}) is not before the first day (relative-day)",
        f"{_ext(EXT_RELATIVE_DAY)}.exists() implies {end}.{_ext(EXT_RELATIVE_DAY)}.value.ofType(integer).all("
        f"$this >= %resource.{_ext(EXT_RELATIVE_DAY)}.value.ofType(integer).first())", src)


def _inv_ucum_value(src: str) -> dict[str, str]:
    return constraint(
        "cart-9", "A quantity result has a UCUM unit (system http://unitsofmeasure.org and a code)",
        f"value.ofType(Quantity).all(system = '{UCUM}' and code.exists()) and "
        f"component.value.ofType(Quantity).all(system = '{UCUM}' and code.exists())", src)


def _inv_dose_ucum(src: str) -> dict[str, str]:
    return constraint(
        "cart-2", "A dose has a UCUM unit (system http://unitsofmeasure.org and a code)",
        f"dosage.dose.all(system = '{UCUM}' and code.exists())", src)


def _inv_graded(src: str) -> dict[str, str]:
    return constraint(
        "cart-8", "A grade (severity) names its grading system (grading-system extension)",
        f"severity.exists() implies {_ext(EXT_GRADING_SYSTEM)}.exists()", src)


def _inv_dated(src: str, *date_paths: str) -> dict[str, str]:
    """A resource that carries a calendar date also carries its day relative to infusion."""
    dates = " | ".join(date_paths)
    return constraint(
        "cart-21", "A dated resource carries its day relative to CAR-T infusion (relative-day extension)",
        f"({dates}).where(hasValue()).exists() implies {_ext(EXT_RELATIVE_DAY)}.exists()", src)


def _inv_dated_end(src: str, end: str) -> dict[str, str]:
    """The date that ends a period carries its own day relative to infusion."""
    return constraint(
        "cart-22", "An end date (abatement, end of period) carries its day relative to CAR-T infusion "
                   "(relative-day extension on the element)",
        f"{end}.where(hasValue()).exists() implies {end}.{_ext(EXT_RELATIVE_DAY)}.exists()", src)


OBS_DATES = ("effective.ofType(dateTime)", "effective.ofType(instant)", "effective.ofType(Period).start")


def _has_code(system: str, *codes: str) -> str:
    ors = " or ".join(f"code = '{c}'" for c in codes)
    return f"coding.where(system = '{system}' and ({ors})).exists()"


def _grade_match(src: str, key: str, prefix: str, unspecified: str, digit: int, name: str) -> dict[str, str]:
    return constraint(
        key, f"A recorded severity grade agrees with the grade in the ICD-10-CM {name} code; a grade-unspecified "
             f"code ({unspecified}) only when no severity is recorded",
        f"code.coding.where(system = '{ICD10CM}' and code.startsWith('{prefix}')).all(iif(code = '{unspecified}', "
        f"%resource.severity.empty(), %resource.severity.empty() or %resource.severity.coding.where(system = "
        f"'{CART_TOX}').code contains ('grade-' + code.substring({digit}, 1))))", src)


# -- common element groups -----------------------------------------------------------------------------
def _subject(path: str, *profiles: str) -> Element:
    return el(f"{path}.subject", min=1, type=reference(*(profiles or (PATIENT,))), mustSupport=True)


def _sd(rid: str, base: str, name: str, title: str, description: str, root_short: str,
        invariants: list[dict[str, str]], elements: list[Element]) -> Resource:
    root = el(base, short=root_short, definition=description)
    if invariants:
        root["constraint"] = invariants
    return structure_definition(header("StructureDefinition", rid, name, title, description), base, "resource",
                                [root, *elements])


# -- profiles ------------------------------------------------------------------------------------------
def patient() -> Resource:
    src = PATIENT
    return _sd("cart-patient", "Patient", "CarTPatient", "CAR-T patient",
               "A patient of a published CAR-T case report: sex, age at infusion (where the report gives only "
               "an age), the source publication, and death where reported. No identifying data.",
               "Patient of a CAR-T case report",
               [constraint("cart-14", "Either a birth date or the age at infusion should be given (some reports "
                                      "give neither)",
                           f"birthDate.exists() or {_ext(EXT_AGE_AT_INFUSION)}.exists()", src, severity="warning")],
               [*extension_slices("Patient", [
                   ("sourcePublication", EXT_SOURCE_PUBLICATION, 1, "1", "DOI of the case report"),
                   ("ageAtInfusion", EXT_AGE_AT_INFUSION, 0, "1", "Age at CAR-T infusion")]),
                el("Patient.gender", min=1, mustSupport=True),
                el("Patient.birthDate", mustSupport=True),
                el("Patient.deceased[x]", mustSupport=True)])


def infusion() -> Resource:
    src = SD + "cart-infusion"
    return _sd("cart-infusion", "MedicationAdministration", "CarTInfusion", "CAR-T cell infusion",
               "The infusion of the CAR-T cell product: Day 0 of the patient's timeline, with the product, its "
               "CAR construct and target antigen, and the cell dose where reported.",
               "CAR-T cell infusion (Day 0)",
               [constraint("cart-4", "The CAR-T infusion is Day 0 (relative-day = 0)",
                           f"{_ext(EXT_RELATIVE_DAY)}.value.ofType(integer).all($this = 0)", src),
                _inv_dose_ucum(src)],
               [*extension_slices("MedicationAdministration", [
                   ("relativeDay", EXT_RELATIVE_DAY, 1, "1", "Day 0"),
                   ("carConstruct", EXT_CAR_CONSTRUCT, 1, "1", "CAR construct"),
                   ("targetAntigen", EXT_TARGET_ANTIGEN, 1, "*", "Target antigen(s)")]),
                el("MedicationAdministration.medication[x]", type=[{"code": "CodeableConcept"}], mustSupport=True,
                   binding=binding("extensible", VS + "cart-products", "CAR-T cell products")),
                _subject("MedicationAdministration"),
                el("MedicationAdministration.reasonReference", type=reference(SD + "cart-malignancy"),
                   mustSupport=True),
                el("MedicationAdministration.dosage.dose.system", fixedUri=UCUM),
                el("MedicationAdministration.dosage.dose.code",
                   binding=binding("required", VS + "dose-units", "UCUM dose units"))])


def toxicity_treatment() -> Resource:
    src = SD + "cart-toxicity-treatment"
    toxicity = (f"(system = '{ICD10CM}' and (code.startsWith('D89.83') or code.startsWith('G92.0') or "
                f"code = 'D76.1' or code.startsWith('T80.82'))) or (system = '{CART_TOX}' and code = 'iec-hs')")
    return _sd("cart-toxicity-treatment", "MedicationAdministration", "CarTToxicityTreatment",
               "Toxicity-directed treatment",
               "A drug given for a CAR-T toxicity (CRS, ICANS, IEC-HS, or another CAR-T-associated toxicity the "
               "report does not grade as one of them): the agent from the toxicity-drugs value set, the dose with "
               "a UCUM unit (mg, mg/kg, mg/m2 ...), route, frequency, the day(s) relative to infusion, and the "
               "toxicity Condition it treats as reason.",
               "Toxicity-directed drug administration",
               [_inv_dose_ucum(src),
                constraint("cart-3", "The reason is a toxicity Condition (CRS, ICANS, IEC-HS, or another "
                                     "CAR-T-associated toxicity: category cart-other-toxicity)",
                           "reasonReference.all(resolve().empty() or resolve().ofType(Condition).where("
                           f"code.coding.where({toxicity}).exists() or category.coding.where(system = "
                           f"'{CART_TOX}' and code = '{OTHER_TOXICITY_CATEGORY}').exists()).exists())", src),
                _inv_period(src, "effective.ofType(Period).end"),
                _inv_dated(src, "effective.ofType(dateTime)", "effective.ofType(Period).start"),
                _inv_dated_end(src, "effective.ofType(Period).end")],
               [*extension_slices("MedicationAdministration", [
                   ("relativeDay", EXT_RELATIVE_DAY, 0, "1", "Day of the (first) administration")]),
                el("MedicationAdministration.medication[x]", type=[{"code": "CodeableConcept"}], mustSupport=True,
                   binding=binding("required", VS + "toxicity-drugs", "Toxicity-directed drugs")),
                _subject("MedicationAdministration"),
                el("MedicationAdministration.reasonCode",
                   binding=binding("extensible", VS + "toxicity-condition-codes", "CAR-T toxicities")),
                el("MedicationAdministration.reasonReference", min=1, type=reference(*TREATMENT_REASONS),
                   mustSupport=True),
                el("MedicationAdministration.dosage", mustSupport=True),
                *extension_slices("MedicationAdministration.dosage", [
                    ("doseFrequency", EXT_DOSE_FREQUENCY, 0, "1", "How often the dose was given")]),
                el("MedicationAdministration.dosage.route", mustSupport=True,
                   binding=binding("extensible", VS + "administration-routes", "Route of administration")),
                el("MedicationAdministration.dosage.dose", mustSupport=True),
                el("MedicationAdministration.dosage.dose.system", fixedUri=UCUM),
                el("MedicationAdministration.dosage.dose.code",
                   binding=binding("required", VS + "dose-units", "UCUM dose units"))])


def lymphodepletion() -> Resource:
    src = SD + "cart-lymphodepletion"
    return _sd("cart-lymphodepletion", "MedicationAdministration", "CarTLymphodepletion",
               "Lymphodepleting chemotherapy",
               "A drug of the lymphodepleting chemotherapy before the CAR-T infusion (e.g. fludarabine 30 mg/m2 and "
               "cyclophosphamide 500 mg/m2 on Day -5 to Day -3): agent, dose per body surface area with a UCUM "
               "unit, and the days relative to infusion, which are before Day 0.",
               "Lymphodepleting chemotherapy",
               [_inv_dose_ucum(src), _inv_period(src, "effective.ofType(Period).end"),
                _inv_dated(src, "effective.ofType(dateTime)", "effective.ofType(Period).start"),
                _inv_dated_end(src, "effective.ofType(Period).end"),
                constraint("cart-23", "Lymphodepletion is given before the infusion (relative days below 0)",
                           f"({_ext(EXT_RELATIVE_DAY)} | effective.ofType(Period).end.{_ext(EXT_RELATIVE_DAY)})"
                           ".value.ofType(integer).all($this < 0)", src)],
               [*extension_slices("MedicationAdministration", [
                   ("relativeDay", EXT_RELATIVE_DAY, 0, "1", "Day of the (first) administration")]),
                el("MedicationAdministration.medication[x]", type=[{"code": "CodeableConcept"}], mustSupport=True,
                   binding=binding("required", VS + "lymphodepletion-drugs", "Lymphodepleting drugs")),
                _subject("MedicationAdministration"),
                el("MedicationAdministration.dosage", mustSupport=True),
                *extension_slices("MedicationAdministration.dosage", [
                    ("doseFrequency", EXT_DOSE_FREQUENCY, 0, "1", "How often the dose was given")]),
                el("MedicationAdministration.dosage.route",
                   binding=binding("extensible", VS + "administration-routes", "Route of administration")),
                el("MedicationAdministration.dosage.dose", mustSupport=True),
                el("MedicationAdministration.dosage.dose.system", fixedUri=UCUM),
                el("MedicationAdministration.dosage.dose.code",
                   binding=binding("required", VS + "dose-units", "UCUM dose units"))])


def _toxicity_condition(rid: str, name: str, title: str, description: str, code_vs: str,
                        invariants: list[dict[str, str]], code_slices: list[tuple[str, str, int, str, Any]]
                        ) -> Resource:
    src = SD + rid
    return _sd(rid, "Condition", name, title, description, title,
               [*invariants, _inv_graded(src), _inv_period(src, "abatement"),
                _inv_dated(src, "onset.ofType(dateTime)", "onset.ofType(Period).start"),
                _inv_dated_end(src, "abatement.ofType(dateTime)")],
               [*extension_slices("Condition", [
                   ("relativeDay", EXT_RELATIVE_DAY, 0, "1", "Day of onset"),
                   ("gradingSystem", EXT_GRADING_SYSTEM, 0, "1", "Grading system of the severity grade")]),
                el("Condition.clinicalStatus", mustSupport=True),
                el("Condition.severity", short="Toxicity grade (1-5)", mustSupport=True,
                   binding=binding("required", VS + "astct-grades", "Toxicity grade 1-5")),
                el("Condition.code", min=1, mustSupport=True,
                   binding=binding("required", VS + code_vs, title + " codes")),
                *coding_slices("Condition.code", code_slices),
                _subject("Condition"),
                el("Condition.onset[x]", mustSupport=True),
                el("Condition.abatement[x]", mustSupport=True)])


def conditions() -> list[Resource]:
    crs_codes = binding("required", VS + "crs-condition-codes", "ICD-10-CM CRS codes")
    icans_codes = binding("required", VS + "icans-condition-codes", "ICD-10-CM ICANS codes")
    iec_codes = binding("required", VS + "iec-hs-condition-codes", "IEC-HS codes")
    return [
        _toxicity_condition(
            "cart-crs", "CarTCrs", "Cytokine release syndrome",
            "An episode of cytokine release syndrome after CAR-T infusion: the ICD-10-CM code carrying the grade "
            "(D89.831-D89.835; D89.839 when the grade is unknown), the grade as severity with its grading system, "
            "onset and resolution days relative to infusion. A new Condition per episode; a change of grade "
            "within an episode is recorded by daily grade Observations.", "crs-condition-codes",
            [_grade_match(SD + "cart-crs", "cart-5", "D89.83", "D89.839", 6, "CRS")],
            [("icd10cm", ICD10CM, 1, "1", crs_codes)]),
        _toxicity_condition(
            "cart-icans", "CarTIcans", "Immune effector cell-associated neurotoxicity syndrome",
            "An episode of ICANS after CAR-T infusion: the ICD-10-CM code carrying the grade (G92.01-G92.05; "
            "G92.00 when the grade is unknown), the grade as severity with its grading system, onset and "
            "resolution days relative to infusion.", "icans-condition-codes",
            [_grade_match(SD + "cart-icans", "cart-6", "G92.0", "G92.00", 5, "ICANS")],
            [("icd10cm", ICD10CM, 1, "1", icans_codes)]),
        _toxicity_condition(
            "cart-iec-hs", "CarTIecHs", "Immune effector cell-associated HLH-like syndrome",
            "An episode of IEC-HS (Hines 2023): coded with the project code iec-hs (ICD-10-CM has none), "
            "optionally with ICD-10-CM D76.1 / T80.82X-, the grade as severity (ASTCT 2023 IEC-HS grading), onset "
            "and resolution days relative to infusion.", "iec-hs-condition-codes", [],
            [("cartTox", CART_TOX, 1, "1", "iec-hs"), ("icd10cm", ICD10CM, 0, "*", iec_codes)]),
    ]


def other_toxicity() -> Resource:
    """A CAR-T-associated toxicity the report does not call or grade as CRS, ICANS or IEC-HS.

    Why a profile of its own: reports treat such events as toxicities (tocilizumab "for febrile hypotension")
    without naming them CRS; relabelling them would invent a diagnosis. The category marks the Condition as a
    CAR-T toxicity (so it may be the reason of a toxicity-directed treatment), the code keeps the report's words,
    and the day rules are those of the graded toxicities."""
    src = OTHER_TOXICITY
    return _sd("cart-other-toxicity", "Condition", "CarTOtherToxicity", "Other CAR-T-associated toxicity",
               "A complication after CAR-T infusion that the report treats as a toxicity but does not call or "
               "grade as CRS, ICANS or IEC-HS (e.g. febrile hypotension treated with tocilizumab): category "
               "cart-other-toxicity, the code or text as reported, a severity only with its grading system, and "
               "onset and resolution days relative to infusion.", "Other CAR-T-associated toxicity",
               [_inv_graded(src), _inv_period(src, "abatement"),
                _inv_dated(src, "onset.ofType(dateTime)", "onset.ofType(Period).start"),
                _inv_dated_end(src, "abatement.ofType(dateTime)")],
               [*extension_slices("Condition", [
                   ("relativeDay", EXT_RELATIVE_DAY, 0, "1", "Day of onset"),
                   ("gradingSystem", EXT_GRADING_SYSTEM, 0, "1", "Grading system of the severity grade")]),
                el("Condition.clinicalStatus", mustSupport=True),
                el("Condition.category", min=1, mustSupport=True,
                   slicing={"discriminator": [{"type": "pattern", "path": "$this"}], "ordered": False,
                            "rules": "open"}),
                el("Condition.category:otherToxicity", sliceName="otherToxicity", min=1, max="1",
                   mustSupport=True, short="CAR-T-associated toxicity not graded as CRS, ICANS or IEC-HS",
                   patternCodeableConcept={"coding": [{"system": CART_TOX, "code": OTHER_TOXICITY_CATEGORY}]}),
                el("Condition.severity", short="Toxicity grade (1-5)", mustSupport=True,
                   binding=binding("required", VS + "astct-grades", "Toxicity grade 1-5")),
                el("Condition.code", min=1, mustSupport=True, short="The toxicity, coded where a verified code "
                   "exists, and in the report's words (text)"),
                _subject("Condition"),
                el("Condition.onset[x]", mustSupport=True),
                el("Condition.abatement[x]", mustSupport=True)])


def malignancy() -> Resource:
    return _sd("cart-malignancy", "Condition", "CarTMalignancy", "Malignancy treated with CAR-T cells",
               "The underlying malignancy the CAR-T cells were given for (B-ALL, large B-cell lymphoma, high-grade "
               "B-cell lymphoma, metastatic castration-resistant prostate cancer ...).", "Underlying malignancy",
               [],
               [*extension_slices("Condition", [
                   ("relativeDay", EXT_RELATIVE_DAY, 0, "1", "Day of diagnosis relative to infusion")]),
                el("Condition.code", min=1, mustSupport=True,
                   binding=binding("extensible", VS + "malignancy-codes", "Malignancies")),
                el("Condition.stage", mustSupport=True),
                _subject("Condition"),
                el("Condition.onset[x]", mustSupport=True)])


def _observation(rid: str, name: str, title: str, description: str, invariants: list[dict[str, str]],
                 elements: list[Element], relative_day_min: int = 0, subject: Element | None = None,
                 grading: bool = False) -> Resource:
    slices = [("relativeDay", EXT_RELATIVE_DAY, relative_day_min, "1", "Day relative to CAR-T infusion")]
    if grading:
        slices.append(("gradingSystem", EXT_GRADING_SYSTEM, 1, "1", "Grading system of the grade"))
    invariants = [*invariants, _inv_dated(SD + rid, *OBS_DATES)]
    return _sd(rid, "Observation", name, title, description, title, invariants,
               [*extension_slices("Observation", slices),
                el("Observation.status", mustSupport=True),
                subject or _subject("Observation"),
                el("Observation.effective[x]", mustSupport=True),
                *elements])


def _category_slice(code: str, display: str) -> list[Element]:
    return [el("Observation.category", slicing={"discriminator": [{"type": "pattern", "path": "$this"}],
                                                "ordered": False, "rules": "open"}, min=1),
            el(f"Observation.category:{code}", sliceName=code, min=1, max="1", mustSupport=True,
               patternCodeableConcept={"coding": [{"system": OBS_CATEGORY, "code": code}]}, short=display)]


def _code(value_set: str, loinc_vs: str | None, local_vs: str, description: str, local_min: int = 0
          ) -> list[Element]:
    slices: list[tuple[str, str, int, str, Any]] = []
    if loinc_vs:
        slices.append(("loinc", LOINC, 0, "1", binding("required", VS + loinc_vs, "LOINC codes")))
    slices.append(("cartTox", CART_TOX, local_min, "1", binding("required", VS + local_vs, "Project codes")))
    return [el("Observation.code", mustSupport=True, binding=binding("required", VS + value_set, description)),
            *coding_slices("Observation.code", slices)]


def _is(code: str) -> str:
    return f"code.{_has_code(CART_TOX, code)}"


def observations() -> list[Resource]:
    lab = SD + "cart-lab-observation"
    vital = SD + "cart-vital-sign"
    grade = SD + "cart-toxicity-grade"
    response = SD + "cart-response-assessment"
    cohort_obs = SD + "cart-cohort-observation"
    return [
        _observation(
            "cart-lab-observation", "CarTLabObservation", "CAR-T toxicity laboratory result",
            "A laboratory value monitored for CAR-T toxicity or activity (ferritin, CRP, IFN-gamma, IL-6, CXCL10, "
            "sIL-2R, fibrinogen, triglycerides, AST, LDH, INR, platelets, lymphocytes, PSA, CAR-T cells, vector "
            "copy number ...) on a day relative to infusion, with a UCUM unit.",
            [_inv_ucum_value(lab),
             constraint("cart-10", "Soluble IL-2 receptor by LOINC 76039-7 is reported in pg/mL (U/mL results "
                                   "are a different test and are never mixed with it)",
                        f"(code.{_has_code(LOINC, '76039-7')} and value.ofType(Quantity).exists()) implies "
                        "value.ofType(Quantity).code = 'pg/mL'", lab)],
            [*_category_slice("laboratory", "Laboratory"),
             *_code("toxicity-lab-codes", "toxicity-lab-loinc", "toxicity-lab-codes", "Toxicity laboratory tests"),
             el("Observation.value[x]", mustSupport=True,
                type=[{"code": "Quantity"}, {"code": "CodeableConcept"}, {"code": "string"}]),
             el("Observation.interpretation", mustSupport=True),
             el("Observation.referenceRange", mustSupport=True)]),
        _observation(
            "cart-vital-sign", "CarTVitalSign", "Vital sign or toxicity grading input",
            "An input of CRS/ICANS grading on a day relative to infusion: temperature, blood pressure, heart "
            "rate, oxygen saturation, oxygen flow and FiO2 (LOINC), the ICE or CAPD score, the number of "
            "concurrent vasopressors and the oxygen support category (project codes).",
            [_inv_ucum_value(vital),
             constraint("cart-11", "An ICE score is an integer from 0 to 10",
                        f"{_is('ice-score')} implies value.ofType(integer).all($this >= 0 and $this <= 10) and "
                        "(value.empty() or value.ofType(integer).exists())", vital),
             constraint("cart-12", "A body temperature (LOINC 8310-5) is in degrees Celsius (Cel)",
                        f"(code.{_has_code(LOINC, '8310-5')} and value.exists()) implies "
                        "value.ofType(Quantity).code = 'Cel'", vital),
             constraint("cart-13", "An oxygen support Observation has an ASTCT oxygen support category as value",
                        f"({_is('oxygen-support')} and value.exists()) implies value.ofType(CodeableConcept)."
                        f"{_has_code(CART_TOX, 'o2-none', 'o2-low-flow', 'o2-high-flow', 'o2-positive-pressure', 'o2-support-not-stated')}",
                        vital),
             constraint("cart-15", "A vasopressor count is a non-negative number (an integer, or a Quantity "
                                   "with UCUM unit '1' when a comparator such as >= is needed)",
                        f"{_is('vasopressor-count')} implies value.ofType(integer).all($this >= 0) and "
                        "value.ofType(Quantity).all(value >= 0 and code = '1') and (value.empty() or "
                        "value.ofType(integer).exists() or value.ofType(Quantity).exists())", vital)],
            [*_code("grading-input-codes", "grading-input-codes", "grading-input-codes",
                    "Vital signs and grading inputs"),
             el("Observation.value[x]", mustSupport=True,
                type=[{"code": "Quantity"}, {"code": "integer"}, {"code": "CodeableConcept"}, {"code": "boolean"}]),
             el("Observation.component", mustSupport=True),
             el("Observation.component.code",
                binding=binding("required", VS + "grading-input-codes", "Vital signs and grading inputs"))]),
        _observation(
            "cart-toxicity-grade", "CarTToxicityGrade", "Daily toxicity grade assessment",
            "The grade (1-5) of CRS, ICANS or IEC-HS on one day relative to infusion, with the grading system "
            "and whether the grade is as reported or computed; focus is the toxicity Condition episode.",
            [constraint("cart-1", "A toxicity grade lies in 1..5",
                        "value.ofType(integer).exists() implies value.ofType(integer) >= 1 and "
                        "value.ofType(integer) <= 5", grade)],
            [*_code("toxicity-grade-codes", None, "toxicity-grade-codes", "Toxicity grade assessments",
                    local_min=1),
             el("Observation.focus", type=reference(*TOXICITY_CONDITIONS), mustSupport=True),
             el("Observation.value[x]", min=1, type=[{"code": "integer"}], mustSupport=True),
             el("Observation.method", mustSupport=True,
                binding=binding("extensible", VS + "grade-derivation", "Reported or computed"))],
            relative_day_min=1, grading=True),
        _observation(
            "cart-response-assessment", "CarTResponseAssessment", "Response assessment",
            "The response of the malignancy after CAR-T therapy on a day relative to infusion: overall response "
            "(CR, PR, SD, PD), minimal residual disease (flow cytometry or NGS; % or positive/negative), B-cell "
            "aplasia.",
            [constraint("cart-16", "An overall response is CR, PR, SD or PD",
                        f"({_is('disease-response')} and value.exists()) implies value.ofType(CodeableConcept)."
                        + _has_code(CART_TOX, "complete-response", "partial-response", "stable-disease",
                                    "progressive-disease"), response),
             constraint("cart-17", "An MRD result is a percentage (UCUM %), MRD positive/negative, or the text "
                                   "as reported (e.g. '~0.05 %')",
                        f"(code.{_has_code(CART_TOX, 'mrd-flow', 'mrd-ngs', 'mrd')} and value.exists()) implies "
                        f"(value.ofType(Quantity).all(system = '{UCUM}' and code = '%') and "
                        "value.ofType(Quantity).exists()) or value.ofType(string).exists() or "
                        "value.ofType(CodeableConcept)." + _has_code(CART_TOX, "mrd-positive", "mrd-negative"),
                        response)],
            [el("Observation.code", mustSupport=True,
                binding=binding("required", VS + "response-assessment-codes", "Response assessments")),
             el("Observation.focus", type=reference(SD + "cart-malignancy"), mustSupport=True),
             el("Observation.value[x]", mustSupport=True,
                type=[{"code": "CodeableConcept"}, {"code": "Quantity"}, {"code": "boolean"}, {"code": "string"}]),
             el("Observation.method", mustSupport=True)]),
        _observation(
            "cart-cohort-observation", "CarTCohortObservation", "Cohort aggregate result",
            "An aggregate result about a cohort (Group) of CAR-T patients: means before/after an intervention "
            "with the p-value of the comparison, or a survival rate with its 95% CI, as the publication reports "
            "them.",
            [_inv_ucum_value(cohort_obs),
             constraint("cart-18", "A p-value lies in 0..1",
                        f"component.where(code.{_has_code(CART_TOX, 'p-value')}).value.ofType(Quantity).all("
                        "value >= 0 and value <= 1)", cohort_obs),
             constraint("cart-19", "A cohort Observation carries a value or at least one statistic component",
                        "value.exists() or component.exists()", cohort_obs)],
            [el("Observation.code", mustSupport=True,
                binding=binding("required", VS + "cohort-observation-codes", "Cohort observation codes")),
             el("Observation.value[x]", mustSupport=True,
                type=[{"code": "Quantity"}, {"code": "string"}, {"code": "CodeableConcept"}]),
             el("Observation.component", mustSupport=True),
             el("Observation.component.code",
                binding=binding("required", VS + "cohort-statistics", "Cohort statistics")),
             el("Observation.component.value[x]", type=[{"code": "Quantity"}, {"code": "string"}])],
            relative_day_min=0,
            subject=el("Observation.subject", min=1, type=reference(SD + "cart-cohort"), mustSupport=True)),
    ]


def cohort() -> Resource:
    return _sd("cart-cohort", "Group", "CarTCohort", "CAR-T patient cohort",
               "A cohort of CAR-T-treated patients reported together in one publication (e.g. 38 paediatric "
               "patients with high-grade CRS given emapalumab): its size, defining characteristics and source "
               "publication. Members are not enumerated when the publication reports aggregates only.",
               "Cohort of a publication", [],
               [*extension_slices("Group", [
                   ("sourcePublication", EXT_SOURCE_PUBLICATION, 1, "1", "DOI of the publication"),
                   ("targetAntigen", EXT_TARGET_ANTIGEN, 0, "*", "Target antigen(s) of the CAR-T products")]),
                el("Group.type", fixedCode="person"),
                el("Group.actual", fixedBoolean=True),
                el("Group.code", patternCodeableConcept={"coding": [{"system": CART_TOX,
                                                                            "code": "cart-cohort"}]}),
                el("Group.quantity", min=1, mustSupport=True),
                el("Group.characteristic", mustSupport=True),
                el("Group.characteristic.code",
                   binding=binding("extensible", VS + "cohort-characteristics", "Cohort characteristics"))])


def profiles() -> list[Resource]:
    return [patient(), infusion(), lymphodepletion(), toxicity_treatment(), *conditions(), other_toxicity(), malignancy(),
            *observations(), cohort()]
