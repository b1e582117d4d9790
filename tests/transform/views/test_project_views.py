"""The project's ViewDefinitions on the published case Bundles: published facts appear as rows.

Facts checked against the case reports (shared/seeds): the PSCA CAR-T case (002) had ferritin peak at
9,580 ng/mL in the Day +22 account, fibrinogen <50 mg/dL on Day +22, ASTCT grade 4 CRS on Day +21,
fludarabine 30 mg/m2 from Day -5 to -3 and tocilizumab 8 mg/kg on Day +2 for the first CRS episode; the CD22
CAR-T case (004 case 3) had ferritin over 70,000 ng/mL before etoposide and less than 20,000 after.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest

from fhir_service.transform.views import run_view, validate_view
from fhir_service.transform.views.catalog import find_project_view, project_views
from fhir_service.transform.views.sources import read_batch
from tests.transform.conftest import BUNDLES, CASE_NAMES


@lru_cache(maxsize=None)
def table(view_name: str, case: str) -> tuple[dict[str, Any], ...]:
    view = find_project_view(view_name)
    assert view is not None
    batch, issues = read_batch(str(BUNDLES / f"{case}.json"))
    assert issues == []
    return tuple(run_view(view, batch.resources, reference_map=batch.reference_map))


def test_the_project_views_are_valid_view_definitions() -> None:
    assert set(project_views()) == {"lab-values", "drug-administrations", "toxicity-grades", "conditions",
                                    "patients"}
    for name, view in project_views().items():
        assert view["resourceType"] == "ViewDefinition" and view["status"] == "active"
        assert validate_view(view) == [], name


def test_views_are_found_by_file_stem_or_name() -> None:
    assert find_project_view("lab-values") is find_project_view("lab_values") is not None
    assert find_project_view("no-such-view") is None


@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("view_name", ["lab-values", "drug-administrations", "toxicity-grades", "conditions",
                                       "patients"])
def test_every_view_runs_on_every_case_and_joins_to_its_patient(view_name: str, case: str) -> None:
    patients = {row["patient"] for row in table("patients", case)}
    for row in table(view_name, case):
        assert row["patient"] in patients


def test_ferritin_peak_with_unit_and_timing() -> None:
    ferritin = [row for row in table("lab-values", "002-psca-cart-mcrpc") if row["analyte_code"] == "2276-4"]
    peak = [row for row in ferritin if row["value"] == 9580]
    assert len(peak) == 1
    assert peak[0]["unit"] == "ng/mL" and peak[0]["comparator"] is None
    assert peak[0]["timing_as_reported"].startswith("Reported in the Day +22 account")
    assert {row["value"] for row in ferritin} == {487, 4000, 9580, 4460}


def test_lab_value_with_comparator_and_day() -> None:
    fibrinogen = [row for row in table("lab-values", "002-psca-cart-mcrpc") if row["analyte_code"] == "3255-7"]
    assert [(r["day"], r["comparator"], r["value"], r["unit"]) for r in fibrinogen] == [(22, "<", 50, "mg/dL")]


def test_ferritin_before_and_after_etoposide() -> None:
    rows = [row for row in table("lab-values", "004-case3-cd22-etoposide") if row["analyte_code"] == "2276-4"]
    assert [(r["comparator"], r["value"], r["unit"]) for r in rows] == [(">", 70000, "ng/mL"), ("<", 20000, "ng/mL")]


def test_grades_with_day_and_grading_system() -> None:
    grades = table("toxicity-grades", "002-psca-cart-mcrpc")
    assert [(r["day"], r["grade"]) for r in grades] == [(1, 1), (2, 2), (3, 2), (13, 3), (19, 3), (21, 4)]
    assert {(r["toxicity"], r["grading_system"]) for r in grades} == {("crs-grade-astct", "astct-2019")}


def test_drug_course_over_days_with_dose() -> None:
    fludarabine = [r for r in table("drug-administrations", "002-psca-cart-mcrpc") if r["agent_display"] == "fludarabine"]
    assert [(r["day"], r["end_day"], r["dose_value"], r["dose_unit"]) for r in fludarabine] == [(-5, -3, 30, "mg/m2")]


def test_treatment_reason_joins_to_the_condition_and_its_onset_day() -> None:
    tocilizumab = [r for r in table("drug-administrations", "002-psca-cart-mcrpc")
                   if r["agent_display"] == "tocilizumab" and r["day"] == 2]
    assert [(r["dose_value"], r["dose_unit"]) for r in tocilizumab] == [(8, "mg/kg")]
    conditions = {row["condition"]: row for row in table("conditions", "002-psca-cart-mcrpc")}
    (reason,) = tocilizumab[0]["reasons"]
    assert conditions[reason]["kind"] == "cart-crs"
    assert (conditions[reason]["onset_day"], conditions[reason]["abatement_day"]) == (1, 4)


def test_grade_rows_point_at_their_toxicity_condition() -> None:
    conditions = {row["condition"]: row for row in table("conditions", "004-case2-axicel-ruxolitinib")}
    for grade in table("toxicity-grades", "004-case2-axicel-ruxolitinib"):
        kind = conditions[grade["condition"]]["kind"]
        assert kind == {"crs-grade": "cart-crs", "icans-grade": "cart-icans"}[grade["toxicity"]]
