"""ValueSet expansion from compose (R4 rules) and from a stored expansion, compiled once into sets."""
from __future__ import annotations

from typing import Any

import pytest

from fhir_service.terminology import Terminology
from tests.terminology.resources import TOX, TOX_VS, include_filter, toxicity_code_system, value_set


def codes(terminology: Terminology, url: str) -> set[str]:
    expansion = terminology.expand(url)
    assert expansion is not None, url
    return {code for _, code in expansion.codes}


# -- core value sets --------------------------------------------------------------------------------------
def test_whole_code_system_include(terminology: Terminology) -> None:
    assert codes(terminology, "http://hl7.org/fhir/ValueSet/administrative-gender") == {
        "male", "female", "other", "unknown"}


def test_nested_concepts_of_a_whole_code_system_are_members(terminology: Terminology) -> None:
    # condition-clinical nests recurrence/relapse under active, and remission/resolved under inactive
    members = codes(terminology, "http://hl7.org/fhir/ValueSet/condition-clinical")
    assert {"active", "recurrence", "relapse", "inactive", "remission", "resolved"} == members


def test_is_a_filter_on_a_core_hierarchy(terminology: Terminology) -> None:
    members = codes(terminology, "http://hl7.org/fhir/ValueSet/account-type")  # v3-ActCode is-a _ActAccountCode
    assert {"_ActAccountCode", "CASH", "PBILLACCT", "AE"} <= members
    assert "AMB" not in members  # an encounter code, elsewhere in v3-ActCode


def test_is_not_a_filter_on_a_core_code_system(terminology: Terminology) -> None:
    members = codes(terminology, "http://hl7.org/fhir/ValueSet/patient-contactrelationship")
    assert "O" not in members and {"C", "E", "N"} <= members


def test_stored_expansion_is_used(terminology: Terminology) -> None:
    # ValueSet/inactive carries an expansion (nested contains) besides its compose
    assert codes(terminology, "http://hl7.org/fhir/ValueSet/inactive") == {"CRT", "EXPEC", "GOL", "RSK", "OPT"}


def test_unknown_value_set_has_no_expansion(terminology: Terminology) -> None:
    assert terminology.expand("http://example.org/fhir/ValueSet/does-not-exist") is None


def test_expansions_are_compiled_once(terminology: Terminology) -> None:
    url = "http://hl7.org/fhir/ValueSet/observation-status"
    assert terminology.expand(url) is terminology.expand(url)


# -- external systems: incomplete, never guessed ------------------------------------------------------------
def test_snomed_filter_makes_the_expansion_incomplete_for_snomed(terminology: Terminology) -> None:
    expansion = terminology.expand("http://hl7.org/fhir/ValueSet/condition-code")
    assert expansion is not None
    assert "http://snomed.info/sct" in expansion.incomplete
    assert not expansion.is_complete


def test_enumerated_external_codes_are_complete(local_terminology: Any) -> None:
    vs = value_set("listed-loinc", {"include": [{"system": "http://loinc.org", "concept": [
        {"code": "8310-5", "display": "Body temperature"}]}]})
    terminology = local_terminology(vs)
    expansion = terminology.expand(TOX_VS + "listed-loinc")
    assert expansion.is_complete and expansion.contains("http://loinc.org", "8310-5")


# -- filters on a local hierarchy -----------------------------------------------------------------------------
@pytest.mark.parametrize("prop,op,value,expected", [
    ("concept", "is-a", "crs", {"crs", "crs-g1", "crs-g2", "late-crs"}),           # nesting + subsumedBy
    ("concept", "descendent-of", "crs", {"crs-g1", "crs-g2", "late-crs"}),
    ("concept", "is-a", "toxicity", {"toxicity", "crs", "crs-g1", "crs-g2", "late-crs", "icans", "iec-hs"}),
    ("concept", "is-not-a", "toxicity", {"other", "cytopenia"}),                   # `child` property
    ("concept", "generalizes", "crs-g1", {"crs-g1", "crs", "toxicity"}),
    ("concept", "in", "icans,iec-hs,nonexistent", {"icans", "iec-hs"}),
    ("concept", "regex", "crs-g[0-9]", {"crs-g1", "crs-g2"}),
    ("code", "=", "icans", {"icans"}),
    ("organ", "=", "systemic", {"crs", "iec-hs"}),
    ("organ", "in", "neuro,systemic", {"crs", "iec-hs", "icans"}),
    ("organ", "not-in", "systemic", {"toxicity", "crs-g1", "crs-g2", "icans", "late-crs", "other", "cytopenia"}),
    ("organ", "exists", "true", {"crs", "icans", "iec-hs"}),
    ("grade", "regex", "[2-4]", {"crs-g2"}),
    ("grade", "=", "1", {"crs-g1"}),
    ("notSelectable", "=", "true", {"toxicity"}),
    ("parent", "=", "toxicity", {"crs", "icans", "iec-hs"}),
    ("child", "=", "cytopenia", {"other"}),
    ("display", "regex", "CRS grade .*", {"crs-g1", "crs-g2"}),
])
def test_filter(local_terminology: Any, prop: str, op: str, value: str, expected: set[str]) -> None:
    terminology = local_terminology(toxicity_code_system(), value_set("f", include_filter(prop, op, value)))
    assert codes(terminology, TOX_VS + "f") == expected


def test_several_filters_in_one_include_intersect(local_terminology: Any) -> None:
    compose = {"include": [{"system": TOX, "filter": [{"property": "concept", "op": "is-a", "value": "toxicity"},
                                                      {"property": "organ", "op": "=", "value": "systemic"}]}]}
    terminology = local_terminology(toxicity_code_system(), value_set("two", compose))
    assert codes(terminology, TOX_VS + "two") == {"crs", "iec-hs"}


def test_unsupported_filter_leaves_the_system_incomplete(local_terminology: Any) -> None:
    terminology = local_terminology(toxicity_code_system(), value_set("bad", include_filter("organ", "is-a", "x")))
    expansion = terminology.expand(TOX_VS + "bad")
    assert TOX in expansion.incomplete and not expansion.codes


def test_invalid_regex_is_reported_not_raised(local_terminology: Any) -> None:
    terminology = local_terminology(toxicity_code_system(), value_set("re", include_filter("concept", "regex", "(")))
    assert "regex" in terminology.expand(TOX_VS + "re").incomplete[TOX]


# -- compose algebra ------------------------------------------------------------------------------------------
def test_concept_list_drops_codes_the_code_system_does_not_define(local_terminology: Any) -> None:
    compose = {"include": [{"system": TOX, "concept": [{"code": "crs"}, {"code": "made-up"}]}]}
    terminology = local_terminology(toxicity_code_system(), value_set("list", compose))
    expansion = terminology.expand(TOX_VS + "list")
    assert codes(terminology, TOX_VS + "list") == {"crs"}
    assert expansion.codes[(TOX, "crs")] == "Cytokine release syndrome"  # display taken from the CodeSystem


def test_exclude_removes_codes(local_terminology: Any) -> None:
    compose = {"include": [{"system": TOX, "filter": [{"property": "concept", "op": "is-a", "value": "crs"}]}],
               "exclude": [{"system": TOX, "concept": [{"code": "late-crs"}]}]}
    terminology = local_terminology(toxicity_code_system(), value_set("ex", compose))
    assert codes(terminology, TOX_VS + "ex") == {"crs", "crs-g1", "crs-g2"}


def test_value_set_import_and_intersection_with_a_system(local_terminology: Any) -> None:
    grades = value_set("grades", include_filter("concept", "regex", "crs-g.*"))
    union = value_set("union", {"include": [{"valueSet": [TOX_VS + "grades"]},
                                            {"system": TOX, "concept": [{"code": "icans"}]}]})
    both = value_set("both", {"include": [{"system": TOX, "filter": [
        {"property": "concept", "op": "descendent-of", "value": "crs"}], "valueSet": [TOX_VS + "grades"]}]})
    terminology = local_terminology(toxicity_code_system(), grades, union, both)
    assert codes(terminology, TOX_VS + "union") == {"crs-g1", "crs-g2", "icans"}
    assert codes(terminology, TOX_VS + "both") == {"crs-g1", "crs-g2"}


def test_versioned_canonicals(local_terminology: Any) -> None:
    old = toxicity_code_system(version="0.9.0", concept=[{"code": "crs", "display": "CRS"}])
    vs = value_set("versioned", {"include": [{"system": TOX, "version": "1.0.0"}]}, version="2.0.0")
    importer = value_set("importer", {"include": [{"valueSet": [TOX_VS + "versioned|2.0.0"]}]})
    terminology = local_terminology(old, toxicity_code_system(), vs, importer)
    assert "icans" in codes(terminology, TOX_VS + "importer")
    assert terminology.expand(TOX_VS + "versioned|2.0.0") is not None
    assert terminology.expand(TOX_VS + "versioned|9.9.9") is not None  # a known URL: the registry's version
    pinned_old = value_set("pinned-old", {"include": [{"system": TOX, "version": "0.9.0"}]})
    terminology = local_terminology(old, toxicity_code_system(), pinned_old)
    assert codes(terminology, TOX_VS + "pinned-old") == {"crs"}
    assert terminology.expand(TOX_VS + "pinned-old").codes[(TOX, "crs")] == "CRS"


def test_unknown_imported_value_set_is_unresolved(local_terminology: Any) -> None:
    vs = value_set("imports-unknown", {"include": [{"valueSet": ["http://example.org/fhir/ValueSet/nowhere"]}]})
    expansion = local_terminology(vs).expand(TOX_VS + "imports-unknown")
    assert expansion.unresolved and "nowhere" in expansion.unresolved[0]


def test_circular_imports_do_not_loop(local_terminology: Any) -> None:
    a = value_set("a", {"include": [{"valueSet": [TOX_VS + "b"]}]})
    b = value_set("b", {"include": [{"valueSet": [TOX_VS + "a"]}]})
    expansion = local_terminology(a, b).expand(TOX_VS + "a")
    assert any("circular" in reason for reason in expansion.unresolved)


def test_case_insensitive_code_system(local_terminology: Any) -> None:
    cs = toxicity_code_system(caseSensitive=False)
    terminology = local_terminology(cs, value_set("ci", {"include": [{"system": TOX}]}))
    assert terminology.validate_code(TOX_VS + "ci", TOX, "CRS").is_valid
    strict = local_terminology(toxicity_code_system(), value_set("cs", {"include": [{"system": TOX}]}))
    assert strict.validate_code(TOX_VS + "cs", TOX, "CRS").is_invalid


def test_malformed_definitions_do_not_crash(local_terminology: Any) -> None:
    cs = toxicity_code_system(concept=[{"code": "a", "designation": [{"use": "x", "value": 3}], "property": "p"},
                                       "junk", {"display": "no code"}])
    vs = value_set("junk", {"include": [{"system": TOX, "concept": "not-a-list", "filter": [None]}, "junk",
                                        {"system": TOX + "|1.0.0"}, {"valueSet": [42]}],
                            "exclude": None})
    terminology = local_terminology(cs, vs)
    assert codes(terminology, TOX_VS + "junk") == {"a"}
    assert terminology.validate_code(TOX_VS + "junk", TOX, "b").is_invalid


def test_compose_inactive_false_leaves_retired_concepts_out(local_terminology: Any) -> None:
    cs = toxicity_code_system()
    cs["concept"].append({"code": "old-crs-scale", "display": "Retired CRS scale",
                          "property": [{"code": "status", "valueCode": "retired"}]})
    active = value_set("active", {"inactive": False, "include": [{"system": TOX}]})
    everything = value_set("everything", {"include": [{"system": TOX}]})
    terminology = local_terminology(cs, active, everything)
    assert "old-crs-scale" not in codes(terminology, TOX_VS + "active")
    assert "old-crs-scale" in codes(terminology, TOX_VS + "everything")


def test_versioned_and_plain_url_share_one_expansion(terminology: Terminology) -> None:
    url = "http://hl7.org/fhir/ValueSet/encounter-status"
    assert terminology.expand(url + "|4.0.1") is terminology.expand(url)
