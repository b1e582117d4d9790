"""$validate-code semantics: valid / invalid / not-checkable, with clear messages and display warnings."""
from __future__ import annotations

from typing import Any

import pytest

from fhir_service.terminology import INVALID, NOT_CHECKABLE, VALID, CodeCheck, Terminology
from tests.terminology.resources import TOX, TOX_VS, toxicity_code_system, value_set

GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
GENDER = "http://hl7.org/fhir/administrative-gender"
OBS_STATUS_VS = "http://hl7.org/fhir/ValueSet/observation-status"
OBS_STATUS = "http://hl7.org/fhir/observation-status"
OBS_CATEGORY_VS = "http://hl7.org/fhir/ValueSet/observation-category"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CLINICAL_VS = "http://hl7.org/fhir/ValueSet/condition-clinical"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ALLERGY_CLINICAL_VS = "http://hl7.org/fhir/ValueSet/allergyintolerance-clinical"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
CONDITION_CODE_VS = "http://hl7.org/fhir/ValueSet/condition-code"
SNOMED = "http://snomed.info/sct"


@pytest.mark.parametrize("vs,system,code,outcome", [
    (GENDER_VS, GENDER, "female", VALID),                      # required binding of Patient.gender
    (GENDER_VS, GENDER, "xyz", INVALID),
    (OBS_STATUS_VS, OBS_STATUS, "final", VALID),
    (OBS_STATUS_VS, OBS_STATUS, "done", INVALID),
    (OBS_CATEGORY_VS, OBS_CATEGORY, "laboratory", VALID),      # preferred binding: the validator weighs it
    (OBS_CATEGORY_VS, OBS_CATEGORY, "lab", INVALID),
    (CLINICAL_VS, CLINICAL, "relapse", VALID),                 # a nested concept
    (CLINICAL_VS, CLINICAL, "cured", INVALID),
    (ALLERGY_CLINICAL_VS, ALLERGY_CLINICAL, "resolved", VALID),
    (ALLERGY_CLINICAL_VS, ALLERGY_CLINICAL, "relapse", INVALID),  # a condition-clinical code, not allergy
    (CONDITION_CODE_VS, SNOMED, "38341003", NOT_CHECKABLE),    # SNOMED CT by filter: not available offline
])
def test_membership(terminology: Terminology, vs: str, system: str, code: str, outcome: str) -> None:
    check = terminology.validate_code(vs, system, code)
    assert check.outcome == outcome, check.message
    assert (check.message is None) == (outcome == VALID)


def test_messages_say_what_is_wrong(terminology: Terminology) -> None:
    unknown = terminology.validate_code(GENDER_VS, GENDER, "xyz")
    assert unknown.message.startswith(f"Unknown code 'xyz' in the CodeSystem '{GENDER}'")
    wrong_system = terminology.validate_code(GENDER_VS, "http://example.org/gender", "male")
    assert wrong_system.message.startswith(f"The code 'male' is not in the value set '{GENDER_VS}'")
    snomed = terminology.validate_code(CONDITION_CODE_VS, SNOMED, "38341003")
    assert "could not be checked locally" in snomed.message and "SNOMED CT" in snomed.message


def test_a_known_code_outside_the_value_set(terminology: Terminology) -> None:
    # 'relapse' exists in condition-clinical, but allergyintolerance-clinical draws from another system
    check = terminology.validate_code(ALLERGY_CLINICAL_VS, CLINICAL, "relapse")
    assert check.is_invalid
    assert check.message.startswith(f"The code 'relapse' is not in the value set '{ALLERGY_CLINICAL_VS}'")


# -- code elements: the system is implied by the binding -------------------------------------------------------
def test_code_without_system_takes_the_value_sets_system(terminology: Terminology) -> None:
    check = terminology.validate_code(GENDER_VS, None, "male")
    assert check.is_valid and check.system == GENDER and check.display == "Male"


def test_code_without_system_not_in_the_value_set(terminology: Terminology) -> None:
    check = terminology.validate_code(GENDER_VS, None, "xyz")
    assert check.is_invalid
    assert check.message.startswith(f"The code 'xyz' is not in the value set '{GENDER_VS}'")
    assert "Unknown code 'xyz'" in check.message


def test_code_without_system_against_an_incomplete_value_set(terminology: Terminology) -> None:
    assert terminology.validate_code(CONDITION_CODE_VS, None, "38341003").outcome == NOT_CHECKABLE


def test_empty_code_is_invalid(terminology: Terminology) -> None:
    assert terminology.validate_code(GENDER_VS, GENDER, "").is_invalid


# -- unknown value sets --------------------------------------------------------------------------------------
def test_unknown_value_set_is_not_checkable(terminology: Terminology) -> None:
    check = terminology.validate_code("http://example.org/fhir/ValueSet/nowhere", GENDER, "male")
    assert check.outcome == NOT_CHECKABLE
    assert "'http://example.org/fhir/ValueSet/nowhere' is not known" in check.message


def test_unknown_code_of_a_complete_code_system_is_invalid_even_with_an_unknown_value_set(
        terminology: Terminology) -> None:
    check = terminology.validate_code("http://example.org/fhir/ValueSet/nowhere", GENDER, "xyz")
    assert check.is_invalid
    assert check.message == f"Unknown code 'xyz' in the CodeSystem '{GENDER}'"


def test_unknown_value_set_and_external_system(terminology: Terminology) -> None:
    check = terminology.validate_code("http://example.org/fhir/ValueSet/nowhere", SNOMED, "38341003")
    assert check.outcome == NOT_CHECKABLE


def test_unknown_import_makes_absent_codes_not_checkable(local_terminology: Any) -> None:
    vs = value_set("partly", {"include": [{"system": TOX, "concept": [{"code": "crs"}]},
                                         {"valueSet": ["http://example.org/fhir/ValueSet/nowhere"]}]})
    terminology = local_terminology(toxicity_code_system(), vs)
    assert terminology.validate_code(TOX_VS + "partly", TOX, "crs").is_valid
    assert terminology.validate_code(TOX_VS + "partly", TOX, "icans").outcome == NOT_CHECKABLE
    assert terminology.validate_code(TOX_VS + "partly", TOX, "made-up").is_invalid  # not in the CodeSystem


def test_explicitly_excluded_code_of_an_incomplete_system_is_invalid(local_terminology: Any) -> None:
    vs = value_set("snomed-but", {"include": [{"system": SNOMED}],
                                  "exclude": [{"system": SNOMED, "concept": [{"code": "38341003"}]}]})
    terminology = local_terminology(vs)
    assert terminology.validate_code(TOX_VS + "snomed-but", SNOMED, "38341003").is_invalid
    assert terminology.validate_code(TOX_VS + "snomed-but", SNOMED, "73211009").outcome == NOT_CHECKABLE


# -- displays ------------------------------------------------------------------------------------------------
def test_display_mismatch_is_a_display_issue_not_an_error(terminology: Terminology) -> None:
    check = terminology.validate_code(GENDER_VS, GENDER, "female", "Woman")
    assert check.is_valid
    assert check.display_issue == f"Wrong display 'Woman' for {GENDER}#female: the valid display is 'Female'"


def test_display_matches_case_insensitively(terminology: Terminology) -> None:
    assert terminology.validate_code(GENDER_VS, GENDER, "female", "FEMALE").display_issue is None
    assert terminology.validate_code(GENDER_VS, GENDER, "female", None).display_issue is None


def test_display_matches_a_designation(local_terminology: Any) -> None:
    terminology = local_terminology(toxicity_code_system(), value_set("all", {"include": [{"system": TOX}]}))
    assert terminology.validate_code(TOX_VS + "all", TOX, "crs", "cytokine storm").display_issue is None
    assert terminology.validate_code(TOX_VS + "all", TOX, "crs", "Zytokin-Freisetzungssyndrom").display_issue is None
    issue = terminology.validate_code(TOX_VS + "all", TOX, "crs", "Cytokine release").display_issue
    assert issue is not None and "'Cytokine release syndrome'" in issue


def test_display_of_a_listed_external_code(local_terminology: Any) -> None:
    vs = value_set("loinc", {"include": [{"system": "http://loinc.org", "concept": [
        {"code": "8310-5", "display": "Body temperature"}]}]})
    terminology = local_terminology(vs)
    loinc = "http://loinc.org"
    assert terminology.validate_code(TOX_VS + "loinc", loinc, "8310-5", "Body temperature").display_issue is None
    assert terminology.validate_code(TOX_VS + "loinc", loinc, "8310-5", "Heart rate").display_issue
    assert terminology.validate_code(TOX_VS + "loinc", loinc, "8867-4").is_invalid


# -- CodeableConcept -----------------------------------------------------------------------------------------
def test_codeable_concept_valid_when_any_coding_is_in(terminology: Terminology) -> None:
    codings = [{"system": "http://example.org/local", "code": "L1"},
               {"system": OBS_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]
    check = terminology.validate_codings(OBS_CATEGORY_VS, codings)
    assert check.is_valid and check.system == OBS_CATEGORY


def test_codeable_concept_invalid_when_no_coding_is_in(terminology: Terminology) -> None:
    codings = [{"system": "http://example.org/local", "code": "L1"}, {"system": OBS_CATEGORY, "code": "lab"}]
    check = terminology.validate_codings(OBS_CATEGORY_VS, codings)
    assert check.is_invalid
    assert check.message.startswith("None of the codings provided")
    assert f"Unknown code 'lab' in the CodeSystem '{OBS_CATEGORY}'" in check.message


def test_codeable_concept_not_checkable_with_an_external_coding(terminology: Terminology) -> None:
    codings = [{"system": SNOMED, "code": "38341003"}]
    assert terminology.validate_codings(CONDITION_CODE_VS, codings).outcome == NOT_CHECKABLE


def test_coding_without_system_is_not_a_member(terminology: Terminology) -> None:
    check = terminology.validate_codings(GENDER_VS, [{"code": "male"}])
    assert check.is_invalid and "has no system" in check.message


def test_codeable_concept_without_codings(terminology: Terminology) -> None:
    assert terminology.validate_codings(GENDER_VS, []).is_invalid


# -- code-system level check and lookup -------------------------------------------------------------------------
def test_check_coding_against_the_code_system_alone(terminology: Terminology) -> None:
    assert terminology.check_coding(GENDER, "male").is_valid
    assert terminology.check_coding(GENDER, "xyz").is_invalid
    assert terminology.check_coding(SNOMED, "38341003").outcome == NOT_CHECKABLE
    assert terminology.check_coding("http://unitsofmeasure.org", "mg/dL").is_valid
    assert terminology.check_coding("http://unitsofmeasure.org", "mg/dl/").is_invalid


def test_lookup(local_terminology: Any) -> None:
    terminology = local_terminology(toxicity_code_system())
    concept = terminology.lookup(TOX, "crs")
    assert concept.display == "Cytokine release syndrome"
    assert {d.value for d in concept.designations} == {"Zytokin-Freisetzungssyndrom", "Cytokine storm"}
    assert concept.property_values("organ") == ["systemic"]
    assert terminology.lookup(TOX, "toxicity").abstract
    assert terminology.lookup(TOX, "nope") is None
    assert terminology.lookup(SNOMED, "38341003") is None


def test_code_check_is_a_frozen_value() -> None:
    check = CodeCheck(VALID)
    with pytest.raises(AttributeError):
        check.outcome = INVALID  # type: ignore[misc]
    with pytest.raises(ValueError):
        CodeCheck("maybe")


# -- concept status and supplements ----------------------------------------------------------------------------
def test_retired_concept_is_valid_with_a_status_issue(terminology: Terminology) -> None:
    act_code = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    retired = terminology.check_coding(act_code, "FFS")  # 'fee for service': status retired
    assert retired.is_valid and "status of retired" in retired.status_issue
    assert terminology.check_coding(act_code, "AMB").status_issue is None


def test_supplement_cannot_be_a_coding_system(terminology: Terminology) -> None:
    check = terminology.check_coding("http://hl7.org/fhir/CodeSystem/example-supplement", "chol-mmol")
    assert check.is_invalid and "is a supplement" in check.message


def test_malformed_arguments_give_a_result_not_a_traceback(terminology: Terminology) -> None:
    assert terminology.validate_code(GENDER_VS, 42, "male").is_invalid  # type: ignore[arg-type]
    assert terminology.validate_code(GENDER_VS, GENDER, "male", 7).display_issue is None  # type: ignore[arg-type]
    junk: list[Any] = [{"system": 1, "code": "male"}, "junk"]
    assert terminology.validate_codings(GENDER_VS, junk).is_invalid
    assert terminology.check_coding(None, "male").is_invalid  # type: ignore[arg-type]
