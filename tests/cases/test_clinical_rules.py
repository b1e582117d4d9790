"""Clinical rules: a recorded CRS/ICANS grade that the same day's ASTCT 2019 grading inputs contradict is flagged."""
from __future__ import annotations

import textwrap

from fhir_service.cases.build import build_bundle
from fhir_service.cases.schema import load_timeline_text
from fhir_service.validation import Validator
from fhir_service.validation.clinical import clinical_issues

HEADER = """\
case: rule-case
title: Rule case
source: {doi: 10.1234/rules, citation: c}
anchor: {infusion_date: 2024-01-01, synthetic: true, reason: relative days only}
patient: {sex: male, age: {value: 60, unit: a}}
infusion: {product: "cart-tox:axicabtagene-ciloleucel", construct: axi-cel, target: "cart-tox:cd19"}
conditions:
  - {id: crs, kind: crs, key: condition.crs.grade3, text: CRS, grading_system: astct-2019, onset: 1}
  - {id: icans, kind: icans, key: condition.icans.grade3, text: ICANS, grading_system: astct-2019, onset: 4}
"""


def bundle(days: str, header: str = HEADER) -> dict:
    return build_bundle(load_timeline_text(header + "days:\n" + textwrap.indent(textwrap.dedent(days), "  ")))


def day_grade_issues(b: dict) -> list:
    """Issues of the daily-grade rules only (the Condition-vs-daily-grade rule is tested on its own)."""
    return [i for i in clinical_issues(b, None) if i.rule != "cart-clinical-condition-grade"]


def crs_day(grade: int, oxygen: str = "low_flow") -> str:
    return f"""\
    - day: 5
      grading:
        fever: true
        hypotension: true
        vasopressors: {{count: 1}}
        oxygen: {{support: {oxygen}, device: nasal cannula, flow: 4}}
      grades: [{{toxicity: crs, grade: {grade}, system: astct-2019, condition: crs}}]
    """


def test_crs_grade_that_matches_the_inputs_passes() -> None:
    # 1 vasopressor and low-flow oxygen: the more severe of hypotension (3) and hypoxia (2) is grade 3
    assert clinical_issues(bundle(crs_day(3)), None) == []


def test_crs_grade_below_what_the_inputs_prove_is_flagged_at_the_grade() -> None:
    b = bundle(crs_day(2))
    issues = day_grade_issues(b)
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.severity, issue.code, issue.rule) == ("warning", "business-rule", "cart-clinical-crs-astct")
    assert "Recorded CRS grade 2 on 2024-01-06 (ASTCT 2019)" in issue.diagnostics
    assert "grading inputs: 3 (hypotension with 1 vasopressor(s)" in issue.diagnostics
    index = issue.location[1]
    assert issue.expression == f"Bundle.entry[{index}].resource.value"
    flagged = b["entry"][index]["resource"]
    assert flagged["valueInteger"] == 2 and flagged["code"]["coding"][0]["code"] == "crs-grade-astct"


def test_crs_grade_above_what_fully_known_inputs_allow_is_flagged() -> None:
    # every domain known: hypotension with 1 vasopressor (exactly) and low flow oxygen -> exactly 3
    issues = day_grade_issues(bundle(crs_day(4)))
    assert [i.rule for i in issues] == ["cart-clinical-crs-astct"]
    assert "grading inputs: 3 (" in issues[0].diagnostics


def _hypoxia_day(grade: int) -> str:
    # seed 002 D+2: "Grade 2 (fever with hypoxia)"; the oxygen support is not stated; no hypotension that day
    return f"""\
    - day: 2
      grading: {{fever: true, hypotension: false, oxygen: {{support: not_stated, device: hypoxia}}}}
      grades: [{{toxicity: crs, grade: {grade}, system: astct-2019, condition: crs}}]
    """


def test_hypoxia_without_its_oxygen_support_allows_grades_2_to_4() -> None:
    for grade in (2, 3, 4):
        assert day_grade_issues(bundle(_hypoxia_day(grade))) == [], grade
    issues = day_grade_issues(bundle(_hypoxia_day(1)))
    assert [i.rule for i in issues] == ["cart-clinical-crs-astct"]
    assert "2 to 4 (" in issues[0].diagnostics and "hypoxia, oxygen support not stated" in issues[0].diagnostics


def test_running_vasopressor_administrations_count_and_vasopressin_does_not() -> None:
    days = """\
    - day: 5
      grading: {fever: true, hypotension: true, oxygen: {support: none}}
      grades: [{toxicity: crs, grade: 3, system: astct-2019, condition: crs}]
      drugs:
        - {agent: medication.norepinephrine, until: 6, reason: crs}
        - {agent: medication.phenylephrine, reason: crs}
        - {agent: medication.vasopressin, reason: crs}
    """
    issues = day_grade_issues(bundle(days))
    assert len(issues) == 1 and "2+ vasopressor(s) excluding vasopressin and vasopressin" in issues[0].diagnostics
    assert "4 (" in issues[0].diagnostics or "4 to 4" in issues[0].diagnostics


def test_without_fever_or_prior_anticytokine_there_is_no_crs() -> None:
    days = """\
    - day: 5
      grading: {fever: false, hypotension: false, oxygen: {support: none}}
      grades: [{toxicity: crs, grade: 1, system: astct-2019, condition: crs}]
    """
    issues = day_grade_issues(bundle(days))
    assert len(issues) == 1 and "not CRS by ASTCT" in issues[0].diagnostics
    after_tocilizumab = days.replace("      grades:", "      drugs: [{agent: medication.tocilizumab, reason: crs}]\n      grades:")
    assert "no fever" in day_grade_issues(bundle(after_tocilizumab))[0].diagnostics  # grade 1 needs fever still


def test_missing_inputs_never_produce_a_warning() -> None:
    days = """\
    - day: 5
      grading: {fever: true}
      grades: [{toxicity: crs, grade: 4, system: astct-2019, condition: crs}]
    """
    assert day_grade_issues(bundle(days)) == []


def test_icans_grade_follows_the_most_severe_domain() -> None:
    consistent = """\
    - day: 6
      grading: {ice_score: 3, seizure: rapidly_resolving}
      grades: [{toxicity: icans, grade: 3, system: astct-2019, condition: icans}]
    """
    assert day_grade_issues(bundle(consistent)) == []
    issues = day_grade_issues(bundle(consistent.replace("grade: 3", "grade: 2")))
    assert [i.rule for i in issues] == ["cart-clinical-icans-astct"]
    assert "ICE 3" in issues[0].diagnostics and "seizure domain grade 3" in issues[0].diagnostics


def test_a_condition_coded_with_another_grade_than_its_daily_grades_is_flagged() -> None:
    days = """\
    - day: 5
      grades: [{toxicity: crs, grade: 2, system: astct-2019, condition: crs}]
    """
    issues = clinical_issues(bundle(days), None)
    assert [i.rule for i in issues] == ["cart-clinical-condition-grade"]
    assert "coded D89.833 (grade 3) but the highest daily grade recorded for it" in issues[0].diagnostics
    assert issues[0].expression.endswith(".resource.code")


def test_grades_of_an_unnamed_system_are_compared_and_say_so() -> None:
    days = crs_day(2).replace("astct-2019", "not-stated")
    header = HEADER.replace("condition.crs.grade3, text: CRS, grading_system: astct-2019", "condition.crs.grade2, text: CRS, grading_system: not-stated")
    issues = clinical_issues(bundle(days, header), None)
    assert len(issues) == 1 and "a grading system the report does not name" in issues[0].diagnostics


def test_only_bundles_are_examined() -> None:
    assert clinical_issues({"resourceType": "Observation"}, None) == []
    assert clinical_issues({"resourceType": "Bundle", "type": "collection"}, None) == []


def test_malformed_bundles_give_no_exception_and_no_warning() -> None:
    weird = {"resourceType": "Bundle", "entry": [
        None, "x", {"resource": None}, {"resource": {"resourceType": "Observation", "code": "crs", "subject": "Patient/1"}},
        {"resource": {"resourceType": "Observation", "code": {"coding": [{"system": "https://fhir.cart-tox.org/CodeSystem/cart-tox",
                                                                          "code": "crs-grade-astct"}]},
                      "valueInteger": True, "focus": "x", "subject": 3, "effectiveDateTime": 12}},
        {"resource": {"resourceType": "Observation", "code": {"coding": "oops"}, "effectiveDateTime": "2024-13-45"}},
        {"resource": {"resourceType": "MedicationAdministration", "effectivePeriod": "soon", "subject": []}},
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Condition", "code": {"coding": [{"system": 1, "code": None}]}}},
    ]}
    assert clinical_issues(weird, None) == []


def test_the_rule_plugs_into_the_validator_as_a_rules_layer() -> None:
    validator = Validator(rules=[clinical_issues])
    issues = validator.validate(bundle(crs_day(2)))
    assert any(i.rule == "cart-clinical-crs-astct" and i.severity == "warning" for i in issues)


def test_the_published_cases_are_consistent_with_their_inputs(bundles: dict) -> None:
    for name, case in bundles.items():
        assert clinical_issues(case, None) == [], name


# -- the interval computation agrees with grading.md's pseudo-code whenever every input is known ---------------
def reference_crs_grade(fever: bool, prior: bool, hypotension: bool, n: int, vasopressin: bool, o2: str) -> int:
    """grading.md §1 pseudo-code, transcribed."""
    if not (fever or prior):
        return 0
    hypo_g = 0
    if hypotension:
        hypo_g = 4 if n >= 2 else 3 if (n == 1 or vasopressin) else 2
    oxy_g = {"none": 0, "low_flow": 2, "high_flow": 3, "positive_pressure": 4}[o2]
    g = max(hypo_g, oxy_g)
    return (1 if fever else 0) if g == 0 else g


def test_fully_known_crs_inputs_give_exactly_the_reference_grade() -> None:
    from itertools import product

    from fhir_service.validation.clinical import DayInputs, crs_interval
    o2_grade = {"none": 0, "low_flow": 2, "high_flow": 3, "positive_pressure": 4}
    for fever, prior, hypotension, n, vasopressin, o2 in product((True, False), (True, False), (True, False),
                                                                (0, 1, 2, 3), (True, False), o2_grade):
        inputs = DayInputs(fever=fever, hypotension=hypotension, vasopressors_low=n, vasopressors_exact=n,
                           oxygen=o2_grade[o2], recorded=1)
        interval = crs_interval(inputs, 0, vasopressin, prior)
        expected = reference_crs_grade(fever, prior, hypotension, n, vasopressin, o2)
        assert (interval.low, interval.high) == (expected, expected), (fever, prior, hypotension, n, vasopressin, o2)


def reference_icans_grade(ice: int, consciousness: int, seizure: int, motor: int, edema: int, awake: bool) -> int:
    """grading.md §2 pseudo-code, transcribed (domains given as their grades)."""
    g = 0 if ice == 10 else 1 if ice >= 7 else 2 if ice >= 3 else 3 if ice >= 1 else (3 if awake else 4)
    return max(g, consciousness, seizure, motor, edema)


def test_fully_known_icans_domains_give_exactly_the_reference_grade() -> None:
    from itertools import product

    from fhir_service.validation.clinical import DayInputs, icans_interval
    for ice, consciousness, seizure, motor, edema in product(range(11), (0, 1, 2, 3, 4), (0, 3, 4), (0, 4), (0, 3, 4)):
        interval = icans_interval(DayInputs(ice=ice, consciousness=consciousness, seizure=seizure, motor=motor,
                                            edema=edema, recorded=1))
        # consciousness known: ICE 0 is grade 3 awake with global aphasia, 4 unarousable (the consciousness domain)
        expected = reference_icans_grade(ice, consciousness, seizure, motor, edema, awake=consciousness < 4)
        assert (interval.low, interval.high) == (expected, expected)
    unknown_consciousness = icans_interval(DayInputs(ice=0, seizure=0, motor=0, edema=0, recorded=1))
    assert (unknown_consciousness.low, unknown_consciousness.high) == (3, 4)


def test_the_validate_command_runs_the_clinical_rules(tmp_path, capsys) -> None:
    """`fhir-service validate` is the project's validator: a grade its own inputs contradict is a warning there."""
    import json

    from fhir_service.cli.main import main

    path = tmp_path / "case.json"
    path.write_text(json.dumps(bundle(crs_day(2))))
    assert main(["validate", "--output", "json", str(path)]) == 0  # a warning, not an error
    outcome = json.loads(capsys.readouterr().out)
    rules = [ext["valueString"] for issue in outcome["issue"] for ext in issue.get("extension", [])
             if ext["url"].endswith("issue-source")]
    assert "cart-clinical-crs-astct" in rules
    path.write_text(json.dumps(bundle(crs_day(3))))
    assert main(["validate", "--output", "json", str(path)]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert not any("cart-clinical" in json.dumps(issue) for issue in outcome["issue"])
