"""Codes a timeline may use, and the units each measured concept accepts.

A timeline names concepts by key, never by code, so that a code is chosen in one place:
- a dotted key of the project terminology table (`lab.ferritin`, `medication.tocilizumab`): every VERIFIED row of
  that concept becomes a Coding (the committed `codes.csv` next to this module holds only the VERIFIED rows of
  shared/terminology/codes.csv, so an UNVERIFIED code cannot reach a Bundle); `concept@code` picks one row where a
  concept has several codes in one system (`condition.lbcl@C83.38`);
- `cart-tox:<code>`: a concept of the project CodeSystem https://fhir.cart-tox.org/CodeSystem/cart-tox, for
  concepts without a verified standard code (ICE score, CAR-T products, IEC-HS, cohort statistics, ...).
"""
from __future__ import annotations

import csv
import difflib
import json
import functools
from dataclasses import dataclass
from pathlib import Path

from fhir_service.paths import profiles_dir

CODES_CSV = Path(__file__).resolve().parent / "codes.csv"
CART_TOX = "https://fhir.cart-tox.org/CodeSystem/cart-tox"
UCUM = "http://unitsofmeasure.org"
LOCAL_PREFIX = "cart-tox:"


@dataclass(frozen=True, slots=True)
class Code:
    system: str
    code: str
    display: str
    unit: str = ""  # the UCUM unit the concept is reported in ("" when not a measured quantity)

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


# Fallback list of the project CodeSystem concepts these timelines use: code -> (display, UCUM unit or "").
# The CodeSystem itself is profiles/CodeSystem-cart-tox.json (owned by the profiles engineer): when it is there, a
# code must be defined in it and its display is used, so that bundles and the IG never disagree. The unit is ours:
# it is what a value of that concept is checked against.
LOCAL_CODES: dict[str, tuple[str, str]] = {
    # measurements without a LOINC code (codes.csv caveat 6)
    "ice-score": ("Immune effector cell-associated encephalopathy (ICE) score", "{score}"),
    "cart-cells-blood": ("CAR-T cells [#/volume] in blood", "{cells}/uL"),
    "cart-pct-t-cells": ("CAR-T cells per 100 T cells in blood", "%"),
    "cart-vcn": ("CAR transgene vector copy number in blood", "{copies}/ug"),
    "mrd-flow": ("Minimal residual disease by flow cytometry", "%"),
    "mrd-ngs": ("Minimal residual disease by next-generation sequencing", "%"),
    "cxcl10": ("CXCL10 (IP-10) in serum or plasma", "pg/mL"),
    # toxicity grades (Observation.code) and the grading systems they were assessed with
    "crs-grade-astct": ("CRS grade (ASTCT consensus)", ""),
    "icans-grade-astct": ("ICANS grade (ASTCT consensus)", ""),
    "iec-hs-grade": ("IEC-HS grade (ASTCT 2023)", ""),
    "crs-grade": ("CRS grade (grading system as recorded)", ""),
    "icans-grade": ("ICANS grade (grading system as recorded)", ""),
    "astct-2019": ("ASTCT consensus grading 2019 (Lee et al.)", ""),
    "astct-2023-iec-hs": ("ASTCT IEC-HS grading 2023 (Hines et al.)", ""),
    "ctcae-v5": ("CTCAE version 5.0", ""),
    "lee-2014": ("Lee 2014 CRS grading", ""),
    "grading-not-stated": ("Grading system not stated in the report", ""),
    # grading inputs (ASTCT CRS / ICANS) that have no standard code
    "hypotension": ("Hypotension", ""),
    "vasopressor-count": ("Number of concurrent vasopressors, excluding vasopressin", ""),
    "oxygen-support": ("Oxygen support category (ASTCT)", ""),
    "o2-none": ("No supplemental oxygen", ""),
    "o2-low-flow": ("Low-flow oxygen (nasal cannula <= 6 L/min or blow-by)", ""),
    "o2-high-flow": ("High-flow oxygen (nasal cannula > 6 L/min, facemask, non-rebreather, Venturi)", ""),
    "o2-positive-pressure": ("Positive pressure (CPAP, BiPAP, intubation and mechanical ventilation)", ""),
    "consciousness-level": ("Depressed level of consciousness (ASTCT ICANS domain)", ""),
    "awakens-spontaneously": ("Awakens spontaneously", ""),
    "awakens-to-voice": ("Awakens to voice", ""),
    "awakens-to-tactile": ("Awakens only to tactile stimulus", ""),
    "unarousable": ("Unarousable or requires vigorous or repetitive tactile stimuli; stupor or coma", ""),
    "seizure": ("Seizure (ASTCT ICANS domain)", ""),
    "seizure-rapidly-resolving": ("Clinical seizure that resolves rapidly, or non-convulsive seizure on EEG resolving with intervention", ""),
    "seizure-prolonged-or-repetitive": ("Life-threatening prolonged seizure (> 5 min) or repetitive seizures without return to baseline", ""),
    "motor-findings": ("Motor findings (ASTCT ICANS domain)", ""),
    "deep-focal-motor-weakness": ("Deep focal motor weakness (hemiparesis, paraparesis)", ""),
    "cerebral-edema": ("Raised intracranial pressure / cerebral edema (ASTCT ICANS domain)", ""),
    "cerebral-edema-focal": ("Focal/local edema on neuroimaging", ""),
    "cerebral-edema-diffuse": ("Diffuse cerebral edema, posturing, CN VI palsy, papilledema or Cushing's triad", ""),
    # responses
    "disease-response": ("Disease response assessment", ""),
    "complete-response": ("Complete response", ""),
    "partial-response": ("Partial response", ""),
    "progressive-disease": ("Progressive disease or relapse", ""),
    "mrd-negative": ("MRD negative", ""),
    "mrd-positive": ("MRD positive", ""),
    "b-cell-aplasia": ("B-cell aplasia", ""),
    "cart-persistence": ("CAR-T cell persistence", ""),
    # conditions without a standard code
    "iec-hs": ("Immune effector cell-associated HLH-like syndrome (IEC-HS)", ""),
    "hgbl": ("High-grade B-cell lymphoma", ""),
    "mcrpc": ("Metastatic castration-resistant prostate cancer", ""),
    "ph-like-b-all": ("Ph-like B-cell acute lymphoblastic leukemia", ""),
    # severity of a toxicity Condition, and whether a grade was reported or computed
    "grade-1": ("Grade 1", ""), "grade-2": ("Grade 2", ""), "grade-3": ("Grade 3", ""), "grade-4": ("Grade 4", ""),
    "grade-5": ("Grade 5", ""),
    "grade-reported": ("Grade as reported", ""),
    # routes
    "intravenous": ("Intravenous", ""), "oral": ("Oral", ""), "subcutaneous": ("Subcutaneous", ""),
    # CAR-T products and target antigens (no RxNorm codes confirmed)
    "tisagenlecleucel": ("tisagenlecleucel", ""),
    "axicabtagene-ciloleucel": ("axicabtagene ciloleucel", ""),
    "brexucabtagene-autoleucel": ("brexucabtagene autoleucel", ""),
    "bpx-601": ("BPX-601 (investigational PSCA-directed CAR-T cells with rimiducid-inducible switch)", ""),
    "cd22-cart-investigational": ("Investigational CD22 CAR T cells", ""),
    "cart-investigational": ("Investigational CAR-T cell product", ""),
    "cd19": ("CD19", ""),
    "cd22": ("CD22", ""),
    "psca": ("Prostate stem cell antigen (PSCA)", ""),
    # drugs without a verified RxNorm code
    "emapalumab": ("emapalumab", ""),
    "angiotensin-ii": ("angiotensin II", ""),
    "rimiducid": ("rimiducid", ""),
    # cohort description and statistics (aggregate Observations about a Group)
    "cart-cohort": ("CAR-T treated cohort", ""),
    "age-group": ("Age group", ""),
    "pediatric": ("Pediatric", ""),
    "prior-therapy": ("Prior toxicity-directed therapy", ""),
    "high-grade-crs": ("High-grade cytokine release syndrome", ""),
    "mean-before": ("Mean before intervention", ""),
    "mean-after": ("Mean after intervention", ""),
    "p-value": ("p-value", "1"),
    "event-free-survival-rate": ("Event-free survival rate", "%"),
    "overall-survival-rate": ("Overall survival rate", "%"),
    "median-event-free-survival": ("Median event-free survival", "mo"),
    "median-overall-survival": ("Median overall survival", "mo"),
    "ci95-lower": ("Lower bound of the 95% confidence interval", ""),
    "ci95-upper": ("Upper bound of the 95% confidence interval", ""),
    "time-point": ("Time point of the estimate", "mo"),
}

# UCUM units grouped by what they measure: a value's unit must measure what its concept's unit measures.
UNIT_DIMENSIONS: dict[str, frozenset[str]] = {
    "mass concentration": frozenset({"pg/mL", "ng/mL", "ug/mL", "mg/mL", "ng/L", "ug/L", "mg/L", "g/L", "mg/dL", "g/dL"}),
    "number concentration": frozenset({"10*3/uL", "10*9/L", "10*6/L", "/uL", "{cells}/uL", "/mm3"}),
    "catalytic concentration": frozenset({"U/L"}),
    "arbitrary concentration": frozenset({"U/mL", "[IU]/mL"}),
    "substance concentration": frozenset({"mmol/L", "umol/L"}),
    "acidity": frozenset({"[pH]"}),
    "fraction": frozenset({"%"}),
    "dimensionless": frozenset({"1"}),
    "temperature": frozenset({"Cel", "[degF]"}),
    "pressure": frozenset({"mm[Hg]"}),
    "flow": frozenset({"L/min"}),
    "rate": frozenset({"/min"}),
    "ratio": frozenset({"{INR}"}),
    "copies per mass": frozenset({"{copies}/ug"}),
    "score": frozenset({"{score}"}),
    "duration": frozenset({"mo", "a", "wk", "d", "h"}),
    "count": frozenset({"{cells}"}),
}

DOSE_UNITS = frozenset(
    {"mg", "g", "ug", "mg/kg", "ug/kg", "mg/m2", "g/m2", "ug/min", "ug/kg/min", "U/min", "[iU]", "mL", "mL/kg",
     "{cells}", "{cells}/kg", "{dose}"}
)

# Common non-UCUM spellings, for "did you mean" hints (UCUM is case-sensitive).
UNIT_HINTS: dict[str, str] = {
    "mcg": "ug", "µg": "ug", "μg": "ug", "mg/dl": "mg/dL", "pg/ml": "pg/mL", "ng/ml": "ng/mL", "mg/l": "mg/L",
    "mg/m²": "mg/m2", "°C": "Cel", "C": "Cel", "degC": "Cel", "/mcL": "/uL", "/µL": "/uL", "/μL": "/uL",
    "cell/μl": "{cells}/uL", "cells/uL": "{cells}/uL", "copies/ug": "{copies}/ug", "copies/μg": "{copies}/ug",
    "mcg/min": "ug/min", "L/min ": "L/min", "l/min": "L/min", "mmHg": "mm[Hg]", "u/l": "U/L", "IU/L": "U/L",
    "months": "mo", "years": "a", "yr": "a",
}


PROFILES_CODESYSTEM = profiles_dir() / "CodeSystem-cart-tox.json"


@functools.lru_cache(maxsize=1)
def project_codes() -> dict[str, str]:
    """code -> display of the project CodeSystem (profiles/), or of the fallback list when it is absent."""
    if not PROFILES_CODESYSTEM.is_file():
        return {code: display for code, (display, _) in LOCAL_CODES.items()}
    codes: dict[str, str] = {}

    def walk(concepts: list[dict]) -> None:
        for concept in concepts:
            if not concept["code"].startswith("_"):  # grouping concepts (_assessments, ...) are not for data
                codes[concept["code"]] = concept.get("display", concept["code"])
            walk(concept.get("concept", []))

    walk(json.loads(PROFILES_CODESYSTEM.read_text(encoding="utf-8")).get("concept", []))
    return codes


def unit_dimension(unit: str) -> str | None:
    for name, units in UNIT_DIMENSIONS.items():
        if unit in units:
            return name
    return None


def unit_problem(unit: str, expected: str) -> str | None:
    """Why `unit` cannot carry a value of a concept reported in `expected`, or None when it can."""
    hint = UNIT_HINTS.get(unit)
    dimension = unit_dimension(unit)
    if dimension is None:
        return f"unknown unit {unit!r}" + (f" (UCUM spelling: {hint!r})" if hint else " (write a UCUM unit)")
    if expected and unit_dimension(expected) != dimension:
        return f"unit {unit!r} measures {dimension}, but this concept is reported in {expected!r} ({unit_dimension(expected)})"
    return None


def dose_unit_problem(unit: str) -> str | None:
    if unit in DOSE_UNITS:
        return None
    hint = UNIT_HINTS.get(unit)
    return f"unknown dose unit {unit!r}" + (f" (UCUM spelling: {hint!r})" if hint else f"; expected one of {sorted(DOSE_UNITS)}")


@functools.lru_cache(maxsize=1)
def verified_codes() -> dict[str, tuple[Code, ...]]:
    """concept key -> its VERIFIED codes, in the table's order."""
    table: dict[str, list[Code]] = {}
    with CODES_CSV.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["status"] != "VERIFIED" or not row["code"]:
                continue
            table.setdefault(row["concept"], []).append(
                Code(row["system"], row["code"], row["display"], row["unit_ucum"])
            )
    return {key: tuple(codes) for key, codes in table.items()}


class UnknownKey(ValueError):
    """A key that names no verified concept and no project code (the message says what would)."""


def resolve(key: str) -> tuple[Code, ...]:
    """The codes a timeline key stands for; raises UnknownKey with a helpful message."""
    if key.startswith(LOCAL_PREFIX):
        code = key[len(LOCAL_PREFIX):]
        known = project_codes()
        if code not in known:
            close = difflib.get_close_matches(code, list(known), n=3, cutoff=0.7)
            raise UnknownKey(
                f"unknown project code {key!r}: not in the CodeSystem {CART_TOX}"
                + (f"; did you mean {' or '.join(LOCAL_PREFIX + c for c in close)}?" if close
                   else " (ask the profiles owner to add it, or use text)")
            )
        unit = LOCAL_CODES.get(code, ("", ""))[1]
        return (Code(CART_TOX, code, known[code], unit),)
    concept, _, pick = key.partition("@")
    table = verified_codes()
    codes = table.get(concept)
    if codes is None:
        close = difflib.get_close_matches(concept, list(table), n=3, cutoff=0.75)
        raise UnknownKey(
            f"unknown concept {concept!r}: not a VERIFIED row of codes.csv (UNVERIFIED rows are never used; "
            f"use a 'cart-tox:' project code or text)" + (f"; did you mean {' or '.join(close)}?" if close else "")
        )
    if pick:
        chosen = tuple(c for c in codes if c.code == pick)
        if not chosen:
            raise UnknownKey(f"concept {concept!r} has no verified code {pick!r}; its codes: {', '.join(c.code for c in codes)}")
        return chosen
    systems = [c.system for c in codes]
    if len(set(systems)) != len(systems):
        raise UnknownKey(
            f"concept {concept!r} has several codes in one system ({', '.join(c.code for c in codes)}): "
            f"pick one as '{concept}@<code>'"
        )
    return codes


def concept_unit(key: str) -> str:
    """The unit the concept is reported in ('' when none is recorded)."""
    for code in resolve(key):
        if code.unit:
            return code.unit
    return ""
