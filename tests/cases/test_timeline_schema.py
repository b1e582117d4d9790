"""The timeline format: what a researcher writes, and the errors they get (file:line: path: what is wrong)."""
from __future__ import annotations

import textwrap

import pytest

from fhir_service.cases.schema import TimelineError, load_timeline, load_timeline_text

HEADER = """\
case: test-case
title: A test case
source: {doi: 10.1234/example.5678, citation: "Author A. A case. J Test. 2025."}
anchor: {infusion_date: 2024-01-01, synthetic: true, reason: The report gives only relative days.}
patient: {sex: female, age: {value: 40, unit: a}}
infusion: {product: "cart-tox:tisagenlecleucel", construct: tisagenlecleucel, target: "cart-tox:cd19"}
conditions:
  - {id: crs, kind: crs, key: condition.crs.grade2, text: CRS, grading_system: astct-2019, onset: 1}
"""


def problems(body: str, header: str = HEADER) -> list[str]:
    with pytest.raises(TimelineError) as caught:
        load_timeline_text(header + textwrap.dedent(body), "t.yaml")
    return [str(p) for p in caught.value.problems]


def test_a_complete_minimal_timeline_loads() -> None:
    timeline = load_timeline_text(HEADER + textwrap.dedent("""\
        days:
          - day: 2
            labs: [{key: lab.ferritin, value: 487, unit: ng/mL}]
            grades: [{toxicity: crs, grade: 2, system: astct-2019, condition: crs}]
            drugs: [{agent: medication.tocilizumab, dose: 8, unit: mg/kg, reason: crs}]
        """))
    assert timeline["case"] == "test-case"
    assert timeline["days"][0]["labs"][0]["value"] == 487
    assert timeline["days"][0]["drugs"][0]["reason"] == ["crs"]


def test_a_unit_in_the_wrong_case_is_refused_with_its_ucum_spelling_and_line() -> None:
    found = problems("""\
        days:
          - day: 3
            labs: [{key: lab.crp, value: 96.77, unit: mg/dl}]
        """)
    assert found == ["t.yaml:11: days[0].labs[0].unit: unknown unit 'mg/dl' (UCUM spelling: 'mg/dL')"]


def test_a_unit_that_measures_something_else_is_refused() -> None:
    found = problems("""\
        days:
          - day: 3
            labs: [{key: lab.ferritin, value: 5, unit: "%"}]
        """)
    assert "unit '%' measures fraction, but this concept is reported in 'ng/mL'" in found[0]
    assert found[0].startswith("t.yaml:11: days[0].labs[0].unit:")


def test_an_unknown_analyte_key_suggests_the_close_one() -> None:
    found = problems("""\
        days:
          - day: 3
            labs: [{key: lab.ferritine, value: 5, unit: ng/mL}]
        """)
    assert "days[0].labs[0].key: unknown concept 'lab.ferritine'" in found[0]
    assert "did you mean lab.ferritin?" in found[0]


def test_an_unverified_concept_is_never_usable() -> None:
    # medication.emapalumab is an UNVERIFIED row of codes.csv (no RxCUI confirmed): the project code is the way
    found = problems("""\
        days:
          - day: 11
            drugs: [{agent: medication.emapalumab, reason: crs}]
        """)
    assert "unknown concept 'medication.emapalumab': not a VERIFIED row of codes.csv" in found[0]
    load_timeline_text(HEADER + "days: [{day: 11, drugs: [{agent: 'cart-tox:emapalumab', reason: crs}]}]\n")


def test_an_unknown_project_code_is_refused() -> None:
    found = problems("""\
        days:
          - day: 11
            drugs: [{agent: "cart-tox:emapalumabb", reason: crs}]
        """)
    assert "unknown project code 'cart-tox:emapalumabb'" in found[0]
    assert "did you mean cart-tox:emapalumab?" in found[0]


def test_a_concept_with_several_codes_in_one_system_must_pick_one() -> None:
    header = HEADER + "malignancy: [{id: lbcl, kind: malignancy, key: condition.lbcl, text: DLBCL}]\n"
    found = problems("", header)
    assert "pick one as 'condition.lbcl@<code>'" in found[0]
    picked = load_timeline_text(HEADER + "malignancy: [{id: lbcl, kind: malignancy, key: condition.lbcl@C83.38, text: DLBCL}]\n")
    assert picked["malignancy"][0]["key"] == ["condition.lbcl@C83.38"]


def test_a_day_block_needs_a_day_or_the_reports_words() -> None:
    found = problems("""\
        days:
          - labs: [{key: lab.ferritin, value: 5, unit: ng/mL}]
        """)
    assert found == ["t.yaml:10: days[0].day: missing 'day' (or 'when', the report's words, if it gives no day)"]
    load_timeline_text(HEADER + "days: [{when: after emapalumab, labs: [{key: lab.ferritin, value: 5, unit: ng/mL}]}]\n")


def test_grades_need_a_day() -> None:
    found = problems("""\
        days:
          - when: at some point
            grades: [{toxicity: crs, grade: 2, system: astct-2019}]
        """)
    assert any("days[0].grades: grades need a 'day'" in p for p in found)


def test_a_value_needs_exactly_one_form_and_its_unit() -> None:
    found = problems("""\
        days:
          - day: 3
            labs:
              - {key: lab.ferritin, unit: ng/mL}
              - {key: lab.ferritin, value: 5, text: five}
              - {key: lab.ferritin, value: 5}
        """)
    assert "days[0].labs[0]: give exactly one value of: value, range, text, boolean, code, components (found none)" in found[0]
    assert "(found value, text)" in found[1]
    assert "days[0].labs[2].unit: a value needs its unit (this concept is reported in 'ng/mL')" in found[2]


def test_dose_units_are_ucum_and_go_with_a_dose() -> None:
    found = problems("""\
        days:
          - day: 19
            drugs:
              - {agent: medication.norepinephrine, dose: 40, unit: mcg/min, reason: crs}
              - {agent: medication.tocilizumab, dose: 8, reason: crs}
        """)
    assert "days[0].drugs[0].unit: unknown dose unit 'mcg/min' (UCUM spelling: 'ug/min')" in found[0]
    assert "days[0].drugs[1].unit: 'dose' and 'unit' go together" in found[1]


def test_a_reason_must_name_a_condition_of_the_timeline() -> None:
    found = problems("""\
        days:
          - day: 2
            drugs: [{agent: medication.tocilizumab, reason: crs-9}]
        """)
    assert found == ["t.yaml:11: days[0].drugs[0].reason: refers to condition 'crs-9', which the timeline does not define (known: crs)"]


def test_a_toxicity_drug_is_given_for_a_toxicity_condition() -> None:
    header = HEADER + "  - {id: rash, kind: other, text: Rash, onset: 5}\n"
    found = problems("""\
        days:
          - day: 5
            drugs: [{agent: medication.dexamethasone, reason: rash}]
        """, header)
    assert len(found) == 1 and "days[0].drugs[0].reason: a toxicity-directed drug is given for a toxicity" in found[0]
    assert "'rash' is of another kind" in found[0]
    # the same event, recorded as the CAR-T toxicity the report treats it as, or a drug of another role: accepted
    for body in ("drugs: [{agent: medication.dexamethasone, reason: rash}]",
                 "drugs: [{agent: medication.dexamethasone, role: supportive, reason: rash}]"):
        kind = "other-toxicity" if "role" not in body else "other"
        timeline = HEADER + f"  - {{id: rash, kind: {kind}, text: Rash, onset: 5}}\ndays:\n  - day: 5\n    {body}\n"
        assert load_timeline_text(timeline)["days"][0]["drugs"][0]["reason"] == ["rash"]


def test_hypoxia_without_its_oxygen_support_is_a_category_of_its_own() -> None:
    loaded = load_timeline_text(HEADER + "days:\n  - day: 2\n    grading: {oxygen: {support: not_stated}}\n")
    assert loaded["days"][0]["grading"]["oxygen"]["support"] == "not_stated"
    assert "support: Must be one of" in problems("days:\n  - day: 2\n    grading: {oxygen: {support: some}}\n")[0]


def test_a_synthetic_date_says_why_and_unknown_fields_are_named() -> None:
    header = HEADER.replace(", reason: The report gives only relative days.", "").replace("patient: {", "patient: {weight: 70, ")
    found = problems("", header)
    assert "t.yaml:4: anchor.reason: a synthetic infusion date needs a reason (what the report gives instead)" in found
    assert "t.yaml:5: patient.weight: Unknown field." in found


def test_toxicity_conditions_name_their_grading_system_and_days_run_forward() -> None:
    header = HEADER.replace(", grading_system: astct-2019, onset: 1}", ", onset: 4, abatement: 2}")
    found = problems("", header)
    assert any("conditions[0].abatement: abatement day 2 is before onset day 4" in p for p in found)
    assert any("conditions[0].grading_system: a CRS/ICANS/IEC-HS condition names its grading system" in p for p in found)


def test_a_cohort_holds_aggregates_and_no_individual_days() -> None:
    cohort = """\
case: a-cohort
title: A cohort
source: {doi: 10.1234/cohort, citation: c}
cohort:
  name: n
  size: 38
  characteristics: [{code: "cart-tox:age-group", value: "cart-tox:pediatric", text: children}]
"""
    found = problems("days: [{day: 1, labs: [{key: lab.ferritin, value: 5, unit: ng/mL}]}]\n", cohort)
    assert any("days: a cohort timeline holds aggregates, not individual days" in p for p in found)
    found = problems("aggregates: [{id: t, key: lab.il2, statistic: mean-before-after, before: 1, unit: pg/mL}]\n", cohort)
    assert any("aggregates[0].after: a before/after mean needs after" in p for p in found)
    loaded = load_timeline_text(cohort + "aggregates: [{id: t, key: lab.il2, statistic: mean-before-after, before: 32.35, "
                                         "after: 11.94, unit: pg/mL, p: {value: 0.001, comparator: '<'}}]\n")
    assert loaded["aggregates"][0]["p"] == {"value": 0.001, "comparator": "<"}


def test_a_timeline_is_one_patient_or_one_cohort() -> None:
    found = problems("", HEADER.replace("patient: {sex: female, age: {value: 40, unit: a}}\n", ""))
    assert any("patient: a timeline describes either one 'patient' or one 'cohort'" in p for p in found)


def test_yaml_syntax_errors_and_unreadable_files_are_reported_not_raised(tmp_path) -> None:
    with pytest.raises(TimelineError) as caught:
        load_timeline_text("case: [unclosed\n", "bad.yaml")
    assert str(caught.value.problems[0]).startswith("bad.yaml:2: (top): not valid YAML")
    with pytest.raises(TimelineError) as caught:
        load_timeline(tmp_path / "missing.yaml")
    assert "cannot read" in str(caught.value)
