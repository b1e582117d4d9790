"""SearchParameters of the package: find resources by day relative to infusion, grade, grading system."""
from __future__ import annotations

from common import CART_TOX, EXT_GRADING_SYSTEM, EXT_RELATIVE_DAY, EXT_SOURCE_PUBLICATION, Resource, header

NUMBER_COMPARATORS = ["eq", "ne", "gt", "lt", "ge", "le"]


def _search(rid: str, name: str, description: str, base: list[str], kind: str, expression: str) -> Resource:
    sp = header("SearchParameter", rid, name, "", description)
    del sp["title"]  # SearchParameter has no title in R4
    sp.update({"code": rid, "base": base, "type": kind, "expression": expression, "xpathUsage": "normal"})
    if kind == "number":
        sp["comparator"] = NUMBER_COMPARATORS
    return sp


def _on(types: list[str], tail: str) -> str:
    return " | ".join(f"{t}.{tail}" for t in types)


def search_parameters() -> list[Resource]:
    dated = ["Observation", "Condition", "MedicationAdministration", "Procedure"]
    day = f"extension.where(url = '{EXT_RELATIVE_DAY}').value.ofType(integer)"
    grades = ("crs-grade-astct", "icans-grade-astct", "iec-hs-grade", "crs-grade", "icans-grade")
    grade_codes = " or ".join(f"code = '{c}'" for c in grades)
    return [
        _search("relative-day", "RelativeDay",
                "Day relative to CAR-T infusion (Day 0 = infusion): the relative-day extension's valueInteger. "
                "Example: Observation?relative-day=ge1&relative-day=le7.", dated, "number",
                _on(dated, f"extension.where(url = '{EXT_RELATIVE_DAY}').value.ofType(integer)")),
        _search("relative-day-end", "RelativeDayEnd",
                "Last day relative to CAR-T infusion: the relative-day extension on Condition.abatement[x] or on "
                "the end of the effective/performed Period.", ["Condition", "MedicationAdministration", "Procedure"],
                "number",
                f"Condition.abatement.{day} | MedicationAdministration.effective.ofType(Period).end.{day} | "
                f"Procedure.performed.ofType(Period).end.{day}"),
        _search("grade", "Grade",
                "The grade (1-5) of a CRS/ICANS/IEC-HS grade assessment Observation. "
                "Example: Observation?grade=ge3.", ["Observation"], "number",
                f"Observation.where(code.coding.where(system = '{CART_TOX}' and ({grade_codes})).exists())"
                ".value.ofType(integer)"),
        _search("grading-system", "GradingSystem",
                "The grading system of a toxicity grade (grading-system extension), e.g. "
                f"grading-system={CART_TOX}|astct-2019.", ["Condition", "Observation"], "token",
                _on(["Condition", "Observation"],
                    f"extension.where(url = '{EXT_GRADING_SYSTEM}').value.ofType(CodeableConcept)")),
        _search("source-publication", "SourcePublication",
                "The DOI of the source publication of a patient or cohort.", ["Patient", "Group"], "string",
                _on(["Patient", "Group"], f"extension.where(url = '{EXT_SOURCE_PUBLICATION}').value.ofType(string)")),
    ]
