"""`push_bundle`: what is sent (a collection becomes an idempotent transaction; a transaction goes as it is)
and how the server's answer is mapped back onto the entries of the INPUT Bundle."""
from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import pytest
import responses

from fhir_service.client import FhirClient, push_bundle
from tests.client.conftest import BASE, outcome

IDENTIFIER = {"system": "https://fhir.cart-tox.org/case", "value": "case-x"}


def collection() -> dict[str, Any]:
    return {"resourceType": "Bundle", "id": "case-x", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:11111111-1111-5111-8111-111111111111",
         "resource": {"resourceType": "Patient", "id": "11111111-1111-5111-8111-111111111111",
                      "identifier": [IDENTIFIER]}},
        {"fullUrl": "urn:uuid:22222222-2222-5222-8222-222222222222"},  # no resource: dropped by the transform
        {"fullUrl": "urn:uuid:33333333-3333-5333-8333-333333333333",
         "resource": {"resourceType": "Condition", "id": "33333333-3333-5333-8333-333333333333",
                      "subject": {"reference": "urn:uuid:11111111-1111-5111-8111-111111111111"}}},
        {"fullUrl": "urn:uuid:44444444-4444-5444-8444-444444444444",
         "resource": {"resourceType": "Observation", "id": "44444444-4444-5444-8444-444444444444",
                      "subject": {"reference": "urn:uuid:11111111-1111-5111-8111-111111111111"}}},
    ]}


def answer(*statuses: str, **extra: Any) -> dict[str, Any]:
    entries = []
    for n, status in enumerate(statuses):
        response: dict[str, Any] = {"status": status}
        if status.startswith("2"):
            response["location"] = f"{BASE}/X/{n}/_history/1"
        entries.append({"response": response})
    for index, value in extra.items():
        entries[int(index.removeprefix("outcome_"))]["response"]["outcome"] = value
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mocked:
        yield mocked


def test_a_collection_is_sent_as_a_transaction_with_a_conditional_create_on_the_identifier(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("POST", BASE, json=answer("201 Created", "201 Created", "201 Created"))
    report = push_bundle(make_client(), collection(), source="case-x.json")
    sent = json.loads(mock.calls[0].request.body)
    assert mock.calls[0].request.headers["Prefer"] == "return=minimal"
    assert sent["type"] == "transaction" and len(sent["entry"]) == 3
    assert sent["entry"][0]["request"] == {"method": "POST", "url": "Patient",
                                           "ifNoneExist": "identifier=https://fhir.cart-tox.org/case|case-x"}
    assert sent["entry"][1]["request"] == {"method": "PUT", "url": "Condition/33333333-3333-5333-8333-333333333333"}
    assert report.ok and report.sent_as == "transaction" and report.created == 3
    # the outcomes name the INPUT entries: index 1 had no resource, so the Condition is entry[2]
    assert [(e.index, e.resource_type, e.status) for e in report.entries] == \
        [(0, "Patient", 201), (2, "Condition", 201), (3, "Observation", 201)]
    assert report.entries[1].location == f"{BASE}/X/1/_history/1"
    assert report.entries[1].full_url == "urn:uuid:33333333-3333-5333-8333-333333333333"


def test_as_batch_sends_a_batch(mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("POST", BASE, json={**answer("201 Created", "422 Unprocessable Entity", "200 OK",
                                          outcome_1=outcome("Condition.code is required", "required",
                                                            "Condition.code")), "type": "batch-response"})
    report = push_bundle(make_client(), collection(), as_transaction=False)
    assert json.loads(mock.calls[0].request.body)["type"] == "batch"
    assert not report.ok and report.failed == 1 and report.created == 1 and report.unchanged_or_updated == 1
    failed = report.entries[1]
    assert (failed.index, failed.status, failed.error) == (2, 422, "Condition.code is required")
    assert failed.outcome["issue"][0]["expression"] == ["Condition.code"]


def test_a_refused_transaction_marks_every_entry_and_blames_the_one_the_server_names(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("POST", BASE, status=422, json=outcome("transaction failed at Bundle.entry[2] (PUT Observation/4...): "
                                                    "Observation.code is required", "required", "Bundle.entry[2]"))
    report = push_bundle(make_client(), collection())
    assert not report.ok and report.error is not None and report.error.status == 422
    assert all(e.status is None for e in report.entries[:2])
    assert all("nothing was written" in (e.error or "") for e in report.entries[:2])
    blamed = report.entries[2]
    assert (blamed.index, blamed.resource_type, blamed.status) == (3, "Observation", 422)
    assert "Observation.code is required" in (blamed.error or "")


def test_a_transaction_is_sent_as_it_is(mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}}]}
    mock.add("POST", BASE, json=answer("201 Created"))
    report = push_bundle(make_client(), bundle)
    assert json.loads(mock.calls[0].request.body) == bundle
    assert report.ok and report.entries[0].request == "POST Patient"


def test_a_response_with_too_few_entries_leaves_the_rest_failed(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("POST", BASE, json=answer("201 Created"))
    report = push_bundle(make_client(), collection())
    assert not report.ok and report.failed == 2
    assert report.entries[2].error == "the server's response has no entry for it"


def test_a_bundle_the_transform_refuses_is_not_sent(make_client: Callable[..., FhirClient]) -> None:
    bundle = collection()
    bundle["entry"][2]["resource"]["subject"]["reference"] = "urn:uuid:99999999-9999-5999-8999-999999999999"
    with responses.RequestsMock():  # any request would fail this test
        report = push_bundle(make_client(), bundle)
    assert report.sent_as is None and not report.ok
    assert any("names no entry" in i.diagnostics for i in report.issues)


def test_not_a_bundle_is_reported_not_sent(make_client: Callable[..., FhirClient]) -> None:
    with responses.RequestsMock():
        report = push_bundle(make_client(), {"resourceType": "Patient"})
    assert not report.ok and "expected a FHIR Bundle" in report.issues[0].diagnostics
