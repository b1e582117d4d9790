"""collection -> transaction/batch: urn:uuid fullUrls, rewritten references, conditional creates, idempotent load."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_service.rest import FhirRest
from fhir_service.store.sql_repository import SqlRepository
from fhir_service.transform.params import TransactionParams
from fhir_service.transform.references import is_urn_uuid, references_in
from fhir_service.transform.transaction import identifier_query, transform
from tests.transform.conftest import case_bundle

HEADERS = {"Content-Type": "application/fhir+json"}


def small_bundle() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "http://example.org/fhir/Patient/p1",
         "resource": {"resourceType": "Patient", "id": "p1",
                      "identifier": [{"system": "http://example.org/mrn", "value": "a|b,c"}]}},
        {"fullUrl": "http://example.org/fhir/Observation/o1",
         "resource": {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
                      "subject": {"reference": "Patient/p1"},
                      "hasMember": [{"reference": "http://example.org/fhir/Observation/o2/_history/3"}]}},
        {"resource": {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "y"},
                      "subject": {"reference": "http://example.org/fhir/Patient/p1"}}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "no id"},
                      "subject": {"reference": "Patient/elsewhere"}}},
    ]}


def test_every_entry_gets_a_urn_uuid_and_existing_ones_are_kept(any_case: dict[str, Any]) -> None:
    result = transform(any_case)
    assert result.ok, result.issues
    for before, after in zip(any_case["entry"], result.bundle["entry"]):
        assert is_urn_uuid(after["fullUrl"])
        if is_urn_uuid(before.get("fullUrl")):
            assert after["fullUrl"] == before["fullUrl"]


def test_fullurls_are_deterministic_and_unique() -> None:
    first, second = transform(small_bundle()).bundle, transform(small_bundle()).bundle
    urls = [e["fullUrl"] for e in first["entry"]]
    assert urls == [e["fullUrl"] for e in second["entry"]]
    assert len(set(urls)) == len(urls) and all(is_urn_uuid(u) for u in urls)


def test_relative_absolute_and_versioned_references_point_at_the_urns() -> None:
    result = transform(small_bundle())
    entries = result.bundle["entry"]
    patient_urn, o2_urn = entries[0]["fullUrl"], entries[2]["fullUrl"]
    assert entries[1]["resource"]["subject"]["reference"] == patient_urn
    assert entries[1]["resource"]["hasMember"][0]["reference"] == o2_urn
    assert entries[2]["resource"]["subject"]["reference"] == patient_urn
    # a reference to something outside the Bundle is left alone
    assert entries[3]["resource"]["subject"]["reference"] == "Patient/elsewhere"
    assert any("version-specific" in i.diagnostics for i in result.issues)


def test_request_conditional_create_on_identifier_put_on_id_post_otherwise() -> None:
    result = transform(small_bundle())
    requests = [e["request"] for e in result.bundle["entry"]]
    assert requests[0] == {"method": "POST", "url": "Patient",
                           "ifNoneExist": "identifier=http://example.org/mrn|a%5C%7Cb%5C%2Cc"}
    assert "id" not in result.bundle["entry"][0]["resource"]  # ignored on create: dropped
    assert requests[1] == {"method": "PUT", "url": "Observation/o1"}
    assert requests[3] == {"method": "POST", "url": "Observation"}
    assert [i.severity for i in result.issues if "plain POST" in i.diagnostics] == ["warning"]


def test_identifier_query_escapes_search_special_characters() -> None:
    assert identifier_query({"system": "urn:x", "value": "plain"}) == "identifier=urn:x|plain"
    assert identifier_query({"system": "urn:x", "value": "a b$"}) == "identifier=urn:x|a%20b%5C%24"


def test_an_unresolvable_urn_uuid_is_an_error() -> None:
    bundle = small_bundle()
    bundle["entry"][2]["resource"]["subject"]["reference"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    result = transform(bundle)
    assert not result.ok
    assert [i.expression for i in result.issues if i.is_error] == ["Bundle.entry[2].resource"]


def test_batch_uses_literal_references_and_put_by_id() -> None:
    result = transform(small_bundle(), TransactionParams(batch=True))
    entries = result.bundle["entry"]
    assert result.bundle["type"] == "batch"
    assert entries[0]["request"] == {"method": "PUT", "url": "Patient/p1"}
    assert entries[1]["resource"]["subject"]["reference"] == "Patient/p1"
    assert entries[1]["resource"]["hasMember"][0]["reference"] == "Observation/o2"


def test_batch_refers_to_identifier_only_entries_conditionally_and_rejects_anonymous_targets() -> None:
    bundle = small_bundle()
    del bundle["entry"][0]["resource"]["id"]
    bundle["entry"][0]["fullUrl"] = "urn:uuid:6d1c1f0e-1111-4222-8333-944455556666"
    bundle["entry"][1]["resource"]["subject"]["reference"] = bundle["entry"][0]["fullUrl"]
    bundle["entry"][3]["fullUrl"] = "urn:uuid:7d1c1f0e-1111-4222-8333-944455556666"
    bundle["entry"][2]["resource"]["subject"]["reference"] = bundle["entry"][3]["fullUrl"]
    result = transform(bundle, TransactionParams(batch=True))
    assert result.bundle["entry"][1]["resource"]["subject"]["reference"] == \
        "Patient?identifier=http://example.org/mrn|a%5C%7Cb%5C%2Cc"
    assert [i.expression for i in result.issues if i.is_error] == ["Bundle.entry[2].resource"]


def test_not_a_bundle_is_refused_with_an_issue() -> None:
    result = transform({"resourceType": "Patient"})  # type: ignore[arg-type]
    assert result.bundle is None and result.issues[0].code == "structure"
    assert transform(case_bundle("000-brexucel-b-all-iec-hs")).bundle is not None


def test_output_adds_no_validation_error_to_the_input() -> None:
    """bdl rules (request on every entry, unique fullUrls, references resolve) hold; the profile rules the
    input already breaks (if any) are the cases' business, not the transform's."""
    from fhir_service.validation import Validator

    case = case_bundle("004-case1-tisacel-emapalumab")
    bundle = transform(case).bundle
    before = {(i.expression, i.rule) for i in Validator().validate(case) if i.is_error}
    after = {(i.expression, i.rule) for i in Validator().validate(bundle) if i.is_error}
    assert after <= before
    broken = json.loads(json.dumps(bundle))
    broken["entry"][1]["request"] = {"url": "Condition"}  # no method: the validator must object
    assert any(i.is_error for i in Validator().validate(broken))


def _count(rest: FhirRest, resource_type: str) -> int:
    return rest.handle("GET", f"/{resource_type}", "_summary=count", {}, b"").body["total"]


def _post(rest: FhirRest, bundle: dict[str, Any]) -> Any:
    return rest.handle("POST", "", "", HEADERS, json.dumps(bundle).encode())


@pytest.mark.parametrize("batch", [False, True])
def test_loading_twice_through_the_rest_core_creates_nothing_new(tmp_path: Path, batch: bool) -> None:
    case = case_bundle("004-case1-tisacel-emapalumab")
    types = sorted({e["resource"]["resourceType"] for e in case["entry"]})
    repo = SqlRepository(f"sqlite:///{tmp_path / 'fhir.sqlite3'}")
    try:
        rest = FhirRest(repo)
        out = transform(case, TransactionParams(batch=batch)).bundle
        first = _post(rest, out)
        assert first.status == 200
        assert all(e["response"]["status"].startswith("201") for e in first.body["entry"])
        counts = {t: _count(rest, t) for t in types}
        assert sum(counts.values()) == len(case["entry"])
        second = _post(rest, out)
        assert second.status == 200
        assert not any(e["response"]["status"].startswith("201") for e in second.body["entry"])
        assert {t: _count(rest, t) for t in types} == counts
        # references point at the stored Patient, whatever id it got
        patient_id = rest.handle("GET", "/Patient", "", {}, b"").body["entry"][0]["resource"]["id"]
        conditions = rest.handle("GET", "/Condition", "", {}, b"").body["entry"]
        assert {c["resource"]["subject"]["reference"] for c in conditions} == {f"Patient/{patient_id}"}
    finally:
        repo.close()


def test_a_plain_collection_posted_twice_would_duplicate(tmp_path: Path) -> None:
    """The failing case the transform exists for: POSTs without identity create anew on every load."""
    case = case_bundle("000-brexucel-b-all-iec-hs")
    naive = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": e["fullUrl"], "resource": e["resource"],
         "request": {"method": "POST", "url": e["resource"]["resourceType"]}} for e in case["entry"]]}
    repo = SqlRepository(f"sqlite:///{tmp_path / 'fhir.sqlite3'}")
    try:
        rest = FhirRest(repo)
        _post(rest, naive)
        _post(rest, naive)
        assert _count(rest, "Patient") == 2
    finally:
        repo.close()


def test_references_in_output_resolve_to_entries(any_case: dict[str, Any]) -> None:
    bundle = transform(any_case).bundle
    urls = {e["fullUrl"] for e in bundle["entry"]}
    for entry in bundle["entry"]:
        for reference in references_in(entry["resource"]):
            if reference.startswith("urn:"):
                assert reference in urls


def test_the_transform_is_idempotent_on_its_own_output(any_case: dict[str, Any]) -> None:
    once = transform(any_case).bundle
    assert transform(once).bundle == once


def test_an_entry_without_resource_is_dropped_with_a_warning() -> None:
    bundle = small_bundle()
    bundle["entry"].append({"fullUrl": "urn:uuid:6d1c1f0e-1111-4222-8333-944455556666"})
    result = transform(bundle)
    assert len(result.bundle["entry"]) == 4
    assert [(i.severity, i.expression) for i in result.issues if "without a resource" in i.diagnostics] == \
        [("warning", "Bundle.entry[4]")]
