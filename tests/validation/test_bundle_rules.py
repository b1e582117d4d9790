"""Bundle-level rules (fhir_service.validation.bundle): each rule with a failing and a passing case.

The rules that the Bundle invariants bdl-1..bdl-12 express are the validator's (FHIRPath); these tests also pin
that check_bundle does not report them a second time.
"""
from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_service.validation.bundle import check_bundle, iter_references, make_resolver

PATIENT_URL = "urn:uuid:6f1c2b4e-8a0d-4b8e-9a53-2f1a0c3d4e5f"
OBS_URL = "urn:uuid:0b7e9d6c-3a1f-4c2e-8d5b-7e6f5a4b3c2d"


def entry(full_url: str | None, resource: dict[str, Any], **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"resource": resource, **extra}
    if full_url is not None:
        out["fullUrl"] = full_url
    return out


def patient(pid: str | None = "p1") -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Patient"}
    if pid is not None:
        res["id"] = pid
    return res


def observation(subject: str, oid: str | None = "o1") -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Observation", "status": "final", "code": {"text": "CRP"},
                           "subject": {"reference": subject}}
    if oid is not None:
        res["id"] = oid
    return res


def bundle(kind: str, *entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries), **extra}


def rules(issues: list) -> list[str | None]:
    return [i.rule for i in issues]


def only(issues: list, rule: str) -> list:
    return [i for i in issues if i.rule == rule]


# -- fullUrl ----------------------------------------------------------------------------------------------------
class TestFullUrl:
    def test_entry_with_resource_needs_full_url_outside_transactions(self) -> None:
        issues = check_bundle(bundle("collection", entry(None, patient())))
        assert rules(issues) == ["bundle-fullurl-required"]
        assert issues[0].severity == "error"
        assert issues[0].location == ("entry", 0)
        assert issues[0].expression == "Bundle.entry[0]"

    @pytest.mark.parametrize("kind", ["transaction", "batch"])
    def test_transactions_may_omit_full_url(self, kind: str) -> None:
        b = bundle(kind, entry(None, patient(None), request={"method": "POST", "url": "Patient"}))
        assert check_bundle(b) == []

    def test_full_url_must_be_absolute(self) -> None:
        issues = check_bundle(bundle("collection", entry("Patient/p1", patient())))
        assert rules(issues) == ["bundle-fullurl-absolute"]
        assert issues[0].location == ("entry", 0, "fullUrl")
        assert "absolute" in issues[0].diagnostics

    @pytest.mark.parametrize("url", [PATIENT_URL, "http://example.org/fhir/Patient/p1", "urn:oid:1.2.3.4"])
    def test_absolute_full_urls_pass(self, url: str) -> None:
        assert check_bundle(bundle("collection", entry(url, patient()))) == []

    def test_restful_full_url_must_agree_with_the_resource_id(self) -> None:
        issues = check_bundle(bundle("collection", entry("http://example.org/fhir/Patient/123", patient("456"))))
        assert rules(issues) == ["bundle-fullurl-id"]
        assert "/Patient/456" in issues[0].diagnostics

    def test_restful_full_url_must_agree_with_the_resource_type(self) -> None:
        issues = check_bundle(bundle("collection", entry("http://example.org/fhir/Practitioner/p1", patient("p1"))))
        assert rules(issues) == ["bundle-fullurl-id"]

    def test_restful_full_url_needs_a_resource_id(self) -> None:
        issues = check_bundle(bundle("collection", entry("http://example.org/fhir/Patient/p1", patient(None))))
        assert rules(issues) == ["bundle-fullurl-id"]
        assert "has no id" in issues[0].diagnostics

    def test_a_create_in_a_transaction_has_no_id_yet(self) -> None:
        b = bundle("transaction", entry("http://example.org/fhir/Patient/p1", patient(None),
                                        request={"method": "POST", "url": "Patient"}))
        assert check_bundle(b) == []

    def test_non_restful_absolute_url_is_not_compared_with_the_id(self) -> None:
        assert check_bundle(bundle("collection", entry("http://nothing/nothing", patient("p9")))) == []

    def test_a_url_whose_type_segment_is_no_resource_type_is_not_restful(self) -> None:
        b = bundle("collection", entry("http://hl7.org/fhir/test/Obervation/obs1", observation(PATIENT_URL, "o1")),
                   entry(PATIENT_URL, patient()))
        assert only(check_bundle(b), "bundle-fullurl-id") == []


# -- uniqueness ---------------------------------------------------------------------------------------------------
class TestUniqueness:
    def test_duplicate_full_url_outside_history_is_left_to_bdl_7(self) -> None:
        # bdl-7 (a Bundle invariant the validator evaluates) reports it; reporting it here would be a duplicate.
        b = bundle("collection", entry(PATIENT_URL, patient()), entry(PATIENT_URL, patient()))
        assert check_bundle(b) == []

    def test_history_same_full_url_same_version_is_an_error(self) -> None:
        url = "http://example.org/fhir/Patient/p1"
        v1 = {**patient(), "meta": {"versionId": "1"}}
        b = bundle("history",
                   entry(url, v1, request={"method": "PUT", "url": "Patient/p1"}, response={"status": "200"}),
                   entry(url, copy.deepcopy(v1), request={"method": "POST", "url": "Patient"},
                         response={"status": "201"}))
        issues = check_bundle(b)
        assert rules(issues) == ["bundle-history-version"]
        assert issues[0].location == ("entry", 1, "fullUrl")

    def test_history_same_full_url_different_versions_pass(self) -> None:
        url = "http://example.org/fhir/Patient/p1"
        b = bundle("history",
                   entry(url, {**patient(), "meta": {"versionId": "2"}},
                         request={"method": "PUT", "url": "Patient/p1"}, response={"status": "200"}),
                   entry(url, {**patient(), "meta": {"versionId": "1"}},
                         request={"method": "POST", "url": "Patient"}, response={"status": "201"}),
                   {"fullUrl": url, "request": {"method": "DELETE", "url": "Patient/p1"},
                    "response": {"status": "204"}})
        assert check_bundle(b) == []


# -- references -----------------------------------------------------------------------------------------------
class TestReferences:
    def test_urn_uuid_reference_resolving_to_an_entry_passes(self) -> None:
        b = bundle("collection", entry(PATIENT_URL, patient()), entry(OBS_URL, observation(PATIENT_URL)))
        assert check_bundle(b) == []

    def test_unresolved_urn_uuid_in_a_collection_is_a_warning(self) -> None:
        b = bundle("collection", entry(OBS_URL, observation("urn:uuid:00000000-0000-4000-8000-000000000000")))
        issues = check_bundle(b)
        assert [(i.rule, i.severity) for i in issues] == [("bundle-ref-resolve", "warning")]
        assert issues[0].location == ("entry", 0, "resource", "subject", "reference")
        assert issues[0].expression == "Bundle.entry[0].resource.subject"

    def test_unresolved_urn_uuid_in_a_transaction_is_an_error(self) -> None:
        b = bundle("transaction", entry(OBS_URL, observation("urn:uuid:00000000-0000-4000-8000-000000000000", None),
                                        request={"method": "POST", "url": "Observation"}))
        issues = check_bundle(b)
        assert [(i.rule, i.severity) for i in issues] == [("bundle-ref-resolve", "error")]

    @pytest.mark.parametrize("kind", ["document", "message"])
    def test_unresolved_reference_in_a_document_or_message_is_an_error(self, kind: str) -> None:
        first = ({"resourceType": "Composition", "id": "c1", "subject": {"reference": "urn:uuid:missing"}}
                 if kind == "document" else
                 {"resourceType": "MessageHeader", "id": "m1", "focus": [{"reference": "urn:uuid:missing"}]})
        b = bundle(kind, entry("urn:uuid:11111111-1111-4111-8111-111111111111", first))
        issues = check_bundle(b)
        assert [(i.rule, i.severity) for i in issues] == [("bundle-ref-resolve", "error")]
        assert "Can't find 'urn:uuid:missing'" in issues[0].diagnostics

    def test_document_references_that_resolve_pass(self) -> None:
        comp = {"resourceType": "Composition", "id": "c1", "subject": {"reference": PATIENT_URL}}
        b = bundle("document", entry("urn:uuid:11111111-1111-4111-8111-111111111111", comp),
                   entry(PATIENT_URL, patient()))
        assert check_bundle(b) == []

    def test_relative_reference_from_a_urn_entry_means_the_urn_with_that_id(self) -> None:
        org_id = "5d9588d8-3cd6-4b32-8fb7-ad13694e069d"
        gp = {"resourceType": "Patient", "generalPractitioner": [{"reference": f"Practitioner/{org_id}"}]}
        wrong = bundle("collection", entry(PATIENT_URL, gp),
                       entry(f"urn:uuid:{org_id}", {"resourceType": "Organization", "name": "foo"}))
        issues = check_bundle(wrong)
        assert [(i.rule, i.severity) for i in issues] == [("bundle-ref-type", "error")]
        assert "has resourceType Organization" in issues[0].diagnostics
        right = copy.deepcopy(wrong)
        right["entry"][1]["resource"] = {"resourceType": "Practitioner"}
        assert check_bundle(right) == []

    def test_relative_reference_resolves_against_the_restful_base_of_the_entry(self) -> None:
        b = bundle("document",
                   entry("http://example.org/fhir/Composition/c1",
                         {"resourceType": "Composition", "id": "c1", "subject": {"reference": "Patient/p1"}}),
                   entry("http://example.org/fhir/Patient/p1", patient("p1")))
        assert check_bundle(b) == []

    def test_relative_reference_with_another_base_does_not_resolve(self) -> None:
        b = bundle("document",
                   entry("http://example.org/fhir/Composition/c1",
                         {"resourceType": "Composition", "id": "c1", "subject": {"reference": "Patient/p1"}}),
                   entry("http://other.org/fhir/Patient/p1", patient("p1")))
        issues = check_bundle(b)
        assert [(i.rule, i.severity) for i in issues] == [("bundle-ref-resolve", "error")]
        assert "same type and id" in issues[0].diagnostics

    def test_relative_reference_from_a_urn_entry_matching_only_by_type_and_id_is_a_warning(self) -> None:
        b = bundle("collection", entry(PATIENT_URL, patient("p1")), entry(OBS_URL, observation("Patient/p1")))
        issues = check_bundle(b)
        assert [(i.rule, i.severity) for i in issues] == [("bundle-ref-resolve", "warning")]
        assert "Entry 0 matches the reference Patient/p1 by type and id" in issues[0].diagnostics

    def test_relative_reference_to_the_server_is_silent_in_a_collection(self) -> None:
        b = bundle("collection", entry(OBS_URL, observation("Patient/elsewhere")))
        assert check_bundle(b) == []

    def test_relative_reference_in_an_entry_without_full_url_is_an_error(self) -> None:
        b = bundle("searchset", entry(None, observation("Patient/p1")), link=[{"relation": "self", "url": "x"}])
        found = only(check_bundle(b), "bundle-ref-resolve")
        assert len(found) == 1 and "missing a fullUrl" in found[0].diagnostics

    def test_absolute_reference_matching_a_full_url_passes(self) -> None:
        b = bundle("document",
                   entry("urn:uuid:11111111-1111-4111-8111-111111111111",
                         {"resourceType": "Composition", "id": "c1",
                          "subject": {"reference": "http://example.org/fhir/Patient/p1"}}),
                   entry("http://example.org/fhir/Patient/p1", patient("p1")))
        assert check_bundle(b) == []

    def test_versioned_reference_needs_that_version(self) -> None:
        url = "http://example.org/fhir/Patient/p1"
        comp = {"resourceType": "Composition", "id": "c1", "subject": {"reference": f"{url}/_history/2"}}
        good = bundle("document", entry("urn:uuid:11111111-1111-4111-8111-111111111111", comp),
                      entry(url, {**patient("p1"), "meta": {"versionId": "2"}}))
        assert check_bundle(good) == []
        bad = copy.deepcopy(good)
        bad["entry"][1]["resource"]["meta"]["versionId"] = "1"
        issues = check_bundle(bad)
        assert rules(issues) == ["bundle-ref-resolve"] and "versionId" in issues[0].diagnostics

    def test_two_entries_with_the_referenced_full_url_are_ambiguous(self) -> None:
        b = bundle("collection", entry(PATIENT_URL, {**patient(), "meta": {"versionId": "1"}}),
                   entry(PATIENT_URL, {**patient(), "meta": {"versionId": "2"}}),
                   entry(OBS_URL, observation(PATIENT_URL)))
        issues = check_bundle(b)
        assert rules(issues) == ["bundle-ref-ambiguous"]

    def test_contained_references_are_left_to_ref_1(self) -> None:
        obs = observation("#missing")
        assert check_bundle(bundle("collection", entry(OBS_URL, obs))) == []

    def test_references_inside_contained_resources_are_checked(self) -> None:
        obs = observation(PATIENT_URL)
        obs["contained"] = [{"resourceType": "Specimen", "id": "s1", "subject": {"reference": "urn:uuid:nope"}}]
        issues = check_bundle(bundle("collection", entry(PATIENT_URL, patient()), entry(OBS_URL, obs)))
        assert [i.location for i in issues] == [("entry", 1, "resource", "contained", 0, "subject", "reference")]

    def test_an_entry_that_is_a_bundle_is_not_resolved_against_the_outer_bundle(self) -> None:
        inner = bundle("collection", entry(OBS_URL, observation("urn:uuid:only-in-inner-scope")))
        outer = bundle("collection", entry("urn:uuid:22222222-2222-4222-8222-222222222222", inner))
        assert check_bundle(outer) == []

    def test_signature_who_must_resolve_like_any_reference(self) -> None:
        signed = bundle("collection", entry(PATIENT_URL, patient()),
                        signature={"type": [{"code": "1.2.840.10065.1.12.1.1"}], "when": "2021-01-01T00:00:00Z",
                                   "who": {"reference": "urn:uuid:40c3b2a7-e673-4f83-8dd8-2b112a88775e"}})
        issues = check_bundle(signed)
        assert [(i.severity, i.location) for i in issues] == [("warning", ("signature", "who", "reference"))]
        assert issues[0].expression == "Bundle.signature.who"
        signed["signature"]["who"]["reference"] = PATIENT_URL
        assert check_bundle(signed) == []

    def test_nested_bundle_location_prefix_is_used(self) -> None:
        inner = bundle("collection", entry(OBS_URL, observation("urn:uuid:nope")))
        issues = check_bundle(inner, "Bundle.entry[3].resource", ("entry", 3, "resource"))
        assert issues[0].location == ("entry", 3, "resource", "entry", 0, "resource", "subject", "reference")
        assert issues[0].expression == "Bundle.entry[3].resource.entry[0].resource.subject"


# -- type rules not covered by the invariants -------------------------------------------------------------------
class TestTypeRules:
    def test_post_url_must_name_the_resource_type(self) -> None:
        b = bundle("transaction", entry(PATIENT_URL, patient(None), request={"method": "POST", "url": "Observation"}))
        assert rules(check_bundle(b)) == ["bundle-request-url"]
        ok = bundle("transaction", entry(PATIENT_URL, patient(None), request={"method": "POST", "url": "Patient"}))
        assert check_bundle(ok) == []

    def test_put_url_must_name_the_resource_type_and_id(self) -> None:
        b = bundle("transaction", entry("http://example.org/fhir/Patient/p1", patient("p1"),
                                        request={"method": "PUT", "url": "Patient/p2"}))
        assert rules(check_bundle(b)) == ["bundle-request-url"]
        ok = bundle("transaction", entry("http://example.org/fhir/Patient/p1", patient("p1"),
                                         request={"method": "PUT", "url": "Patient/p1"}))
        assert check_bundle(ok) == []

    def test_conditional_put_is_accepted(self) -> None:
        b = bundle("transaction", entry(PATIENT_URL, patient(None),
                                        request={"method": "PUT", "url": "Patient?identifier=x|1"}))
        assert check_bundle(b) == []

    def test_relative_reference_in_a_transaction_names_the_put_entry_or_the_server(self) -> None:
        b = bundle("transaction",
                   entry(PATIENT_URL, patient("p1"), request={"method": "PUT", "url": "Patient/p1"}),
                   entry(OBS_URL, observation("Patient/p1", None), request={"method": "POST", "url": "Observation"}),
                   entry("urn:uuid:33333333-3333-4333-8333-333333333333", observation("Patient/on-server", None),
                         request={"method": "POST", "url": "Observation"}))
        assert check_bundle(b) == []
        assert make_resolver(b)("Patient/p1", OBS_URL)["id"] == "p1"

    def test_delete_with_a_resource_is_a_warning(self) -> None:
        b = bundle("transaction", entry(None, patient("p1"), request={"method": "DELETE", "url": "Patient/p1"}))
        assert [(i.rule, i.severity) for i in check_bundle(b)] == [("bundle-request-resource", "warning")]

    def test_missing_request_is_bdl_3_not_reported_here(self) -> None:
        assert check_bundle(bundle("transaction", entry(PATIENT_URL, patient()))) == []

    def test_collection_with_request_is_bdl_3_not_reported_here(self) -> None:
        b = bundle("collection", entry(PATIENT_URL, patient(), request={"method": "POST", "url": "Patient"}))
        assert check_bundle(b) == []

    def test_document_without_composition_identifier_timestamp_is_left_to_bdl_9_10_11(self) -> None:
        assert check_bundle(bundle("document", entry(PATIENT_URL, patient()))) == []

    def test_searchset_matches_need_ids_and_the_searched_type(self) -> None:
        b = bundle("searchset", entry("http://nothing/nothing", observation("Patient/x", None),
                                      search={"mode": "match"}),
                   link=[{"relation": "self", "url": "http://example.org/fhir/Patient?name=x"}])
        assert sorted(rules(check_bundle(b))) == ["bundle-search-id", "bundle-search-type"]
        ok = bundle("searchset", entry("http://example.org/fhir/Patient/p1", patient("p1"), search={"mode": "match"}),
                    link=[{"relation": "self", "url": "http://example.org/fhir/Patient?name=x"}])
        assert check_bundle(ok) == []

    def test_searchset_outcome_entries_are_operation_outcomes(self) -> None:
        b = bundle("searchset", entry("http://nothing/nothing", patient("p1"), search={"mode": "outcome"}),
                   link=[{"relation": "self", "url": "http://example.org/fhir/Patient"}])
        assert rules(check_bundle(b)) == ["bundle-search-outcome"]

    def test_searchset_without_self_link_or_modes_gets_warnings(self) -> None:
        b = bundle("searchset", entry("http://example.org/fhir/Patient/p1", patient("p1")))
        assert [(i.rule, i.severity) for i in check_bundle(b)] == [
            ("bundle-search-self", "warning"), ("bundle-search-mode", "warning")]

    def test_searchset_without_modes_is_fine_when_the_self_link_names_the_type(self) -> None:
        b = bundle("searchset", entry("http://example.org/fhir/Patient/p1", patient("p1")),
                   link=[{"relation": "self", "url": "http://example.org/fhir/Patient?_id=p1"}])
        assert check_bundle(b) == []

    def test_paging_links_occur_once(self) -> None:
        b = bundle("searchset", link=[{"relation": "self", "url": "a"}, {"relation": "self", "url": "b"},
                                      {"relation": "next", "url": "c"}])
        issues = check_bundle(b)
        assert rules(issues) == ["bundle-link-once"] and issues[0].location == ("link", 1)


# -- the resolver -------------------------------------------------------------------------------------------------
class TestResolver:
    def test_resolves_urn_relative_absolute_and_contained(self) -> None:
        obs = observation(PATIENT_URL)
        obs["contained"] = [{"resourceType": "Specimen", "id": "s1"}]
        restful = "http://example.org/fhir/Patient/p2"
        b = bundle("collection", entry(PATIENT_URL, patient("p1")), entry(OBS_URL, obs),
                   entry(restful, patient("p2")),
                   entry("http://example.org/fhir/Observation/o2", observation("Patient/p2", "o2")))
        resolve = make_resolver(b)
        assert resolve(PATIENT_URL, OBS_URL)["id"] == "p1"
        assert resolve(restful, None)["id"] == "p2"
        assert resolve("Patient/p2", "http://example.org/fhir/Observation/o2")["id"] == "p2"
        assert resolve("Patient/p2", OBS_URL) is None  # a urn:uuid entry has no RESTful base
        assert resolve("#s1", OBS_URL)["resourceType"] == "Specimen"
        assert resolve("#", OBS_URL) is obs
        assert resolve("#nope", OBS_URL) is None
        assert resolve("urn:uuid:unknown", None) is None

    def test_relative_reference_without_the_referrer_resolves_only_when_unambiguous(self) -> None:
        one = bundle("collection", entry("http://a.org/fhir/Patient/p1", patient("p1")),
                     entry(PATIENT_URL, patient("p2")))
        assert make_resolver(one)("Patient/p1", None)["id"] == "p1"
        assert make_resolver(one)("Patient/p2", None) is None  # a urn:uuid entry is not at any RESTful base
        two = bundle("collection", entry("http://a.org/fhir/Patient/p1", patient("p1")),
                     entry("http://b.org/fhir/Patient/p1", patient("p1")))
        assert make_resolver(two)("Patient/p1", None) is None

    def test_iter_references_skips_nested_bundles(self) -> None:
        res = {"resourceType": "Parameters", "parameter": [
            {"name": "a", "valueReference": {"reference": "Patient/1"}},
            {"name": "b", "resource": bundle("collection", entry(OBS_URL, observation("Patient/2")))}]}
        assert list(iter_references(res, ())) == [("Patient/1", ("parameter", 0, "valueReference"))]


def test_ten_thousand_entries_and_references_stay_linear() -> None:
    """10,000 entries each referring to the previous one: one dict lookup per reference (well under a second)."""
    entries = [entry(f"urn:uuid:00000000-0000-4000-8000-{0:012d}", patient("p0"))]
    for n in range(1, 10_000):
        entries.append(entry(f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
                             observation(f"urn:uuid:00000000-0000-4000-8000-{n - 1:012d}", f"o{n}")))
    assert check_bundle(bundle("collection", *entries)) == []
