"""What the client does with each kind of answer from a remote FHIR server (mocked with `responses`):
credentials, errors with OperationOutcomes, retries that are safe and those that are not, Retry-After,
timeouts and paging. Nothing here really sleeps: the waits the client asked for are recorded."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from fhir_service.client import FhirClient, FhirClientError, FhirTransportError
from tests.client.conftest import BASE, Sleeper, outcome

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female"}


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


def calls_to(mock: responses.RequestsMock, method: str | None = None) -> list[Any]:
    return [c for c in mock.calls if method is None or c.request.method == method]


# -- authentication and headers ---------------------------------------------------------------------------------
def test_bearer_token_and_fhir_json_are_sent(mock: responses.RequestsMock,
                                            make_client: Callable[..., FhirClient]) -> None:
    mock.add("POST", f"{BASE}/Patient", json=PATIENT, status=201,
             headers={"Location": f"{BASE}/Patient/p1/_history/1", "ETag": 'W/"1"'})
    result = make_client(token="s3cret").create({"resourceType": "Patient", "gender": "female"})
    sent = mock.calls[0].request
    assert sent.headers["Authorization"] == "Bearer s3cret"
    assert sent.headers["Accept"] == "application/fhir+json"
    assert sent.headers["Content-Type"].startswith("application/fhir+json")
    assert result.created and result.id == "p1" and result.version_id == "1"


def test_no_authorization_header_without_a_token(mock: responses.RequestsMock,
                                                 make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", json=PATIENT)
    assert make_client().read("Patient", "p1") == PATIENT
    assert "Authorization" not in mock.calls[0].request.headers


def test_401_is_an_error_naming_the_credentials_never_retried_never_showing_the_token(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient], sleeper: Sleeper) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", json=outcome("token expired", "login"), status=401)
    client = make_client(token="s3cret")
    with pytest.raises(FhirClientError) as caught:
        client.read("Patient", "p1")
    error = caught.value
    assert error.status == 401 and "credentials" in str(error) and "token expired" in str(error)
    assert error.issues[0].code == "login"
    assert "s3cret" not in str(error) and "s3cret" not in repr(client)
    assert len(mock.calls) == 1 and sleeper.waits == []


# -- errors carry the server's OperationOutcome -----------------------------------------------------------------
def test_404_carries_the_parsed_operation_outcome(mock: responses.RequestsMock,
                                                  make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/Patient/nope", json=outcome("Patient/nope is not known", "not-found"), status=404)
    with pytest.raises(FhirClientError) as caught:
        make_client().read("Patient", "nope")
    error = caught.value
    assert error.status == 404 and error.method == "GET" and error.url == f"{BASE}/Patient/nope"
    assert error.outcome["resourceType"] == "OperationOutcome"
    assert [(i.severity, i.code, i.diagnostics) for i in error.issues] == \
        [("error", "not-found", "Patient/nope is not known")]
    assert str(error) == (f"GET {BASE}/Patient/nope: HTTP 404 not found: error not-found: Patient/nope is not known")


def test_an_error_without_an_outcome_still_says_what_the_status_means(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/Patient/x", body="<html>gateway</html>", status=404, content_type="text/html")
    with pytest.raises(FhirClientError) as caught:
        make_client().read("Patient", "x")
    assert caught.value.outcome is None and caught.value.issues == [] and "not found" in str(caught.value)


def test_412_on_a_stale_if_match_is_raised_at_once(mock: responses.RequestsMock,
                                                   make_client: Callable[..., FhirClient], sleeper: Sleeper) -> None:
    mock.add("PUT", f"{BASE}/Patient/p1", json=outcome("version 1 is not the current version 2", "conflict"),
             status=412)
    with pytest.raises(FhirClientError) as caught:
        make_client().update(PATIENT, if_match=1)
    assert mock.calls[0].request.headers["If-Match"] == 'W/"1"'
    assert caught.value.status == 412 and "precondition failed" in str(caught.value)
    assert len(mock.calls) == 1 and sleeper.waits == []


def test_update_passes_an_etag_as_it_is_and_reports_the_new_version(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("PUT", f"{BASE}/Patient/p1", json={**PATIENT, "meta": {"versionId": "3"}},
             headers={"Location": f"{BASE}/Patient/p1/_history/3", "ETag": 'W/"3"'})
    result = make_client().update(PATIENT, if_match='W/"2"')
    assert mock.calls[0].request.headers["If-Match"] == 'W/"2"'
    assert not result.created and result.version_id == "3"


def test_500_is_not_retried(mock: responses.RequestsMock, make_client: Callable[..., FhirClient],
                            sleeper: Sleeper) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", json=outcome("database down", "exception"), status=500)
    with pytest.raises(FhirClientError) as caught:
        make_client().read("Patient", "p1")
    assert caught.value.status == 500 and "database down" in str(caught.value)
    assert len(mock.calls) == 1 and sleeper.waits == []


# -- 429 / 503 with Retry-After ---------------------------------------------------------------------------------
def test_429_waits_the_retry_after_seconds_then_succeeds(mock: responses.RequestsMock,
                                                         make_client: Callable[..., FhirClient],
                                                         sleeper: Sleeper) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", json=outcome("slow down"), status=429, headers={"Retry-After": "7"})
    mock.add("GET", f"{BASE}/Patient/p1", json=PATIENT)
    assert make_client().read("Patient", "p1") == PATIENT
    assert sleeper.waits == [7.0] and len(mock.calls) == 2


def test_429_retry_after_as_an_http_date(mock: responses.RequestsMock, make_client: Callable[..., FhirClient],
                                         sleeper: Sleeper) -> None:
    # the fixed clock says 2026-01-15 12:00:00 UTC: the server asks for 90 s later
    mock.add("GET", f"{BASE}/Patient/p1", status=429, headers={"Retry-After": "Thu, 15 Jan 2026 12:01:30 GMT"})
    mock.add("GET", f"{BASE}/Patient/p1", json=PATIENT)
    make_client().read("Patient", "p1")
    assert sleeper.waits == [90.0]


def test_429_also_retries_a_plain_post_since_the_server_did_not_process_it(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient], sleeper: Sleeper) -> None:
    mock.add("POST", f"{BASE}/Patient", status=429, headers={"Retry-After": "2"})
    mock.add("POST", f"{BASE}/Patient", json=PATIENT, status=201, headers={"Location": f"{BASE}/Patient/p1/_history/1"})
    assert make_client().create({"resourceType": "Patient"}).created
    assert sleeper.waits == [2.0] and len(calls_to(mock, "POST")) == 2


def test_a_retry_after_longer_than_the_limit_is_not_waited_for(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient], sleeper: Sleeper) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(FhirClientError) as caught:
        make_client().read("Patient", "p1")
    assert caught.value.status == 429 and "retry after 3600 s" in str(caught.value)
    assert sleeper.waits == [] and len(mock.calls) == 1


def test_503_without_retry_after_backs_off_exponentially_and_gives_up(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient], sleeper: Sleeper) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", json=outcome("maintenance"), status=503)
    with pytest.raises(FhirClientError) as caught:
        make_client(retries=3, backoff=0.5).read("Patient", "p1")
    assert sleeper.waits == [0.5, 1.0, 2.0] and len(mock.calls) == 4
    assert caught.value.status == 503 and "still after 3 retries" in str(caught.value)
    assert "maintenance" in str(caught.value)


def test_retries_zero_means_one_attempt(mock: responses.RequestsMock, make_client: Callable[..., FhirClient],
                                        sleeper: Sleeper) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", status=503)
    with pytest.raises(FhirClientError):
        make_client(retries=0).read("Patient", "p1")
    assert len(mock.calls) == 1 and sleeper.waits == []


def test_502_retries_a_get_but_not_a_plain_post(mock: responses.RequestsMock,
                                                make_client: Callable[..., FhirClient], sleeper: Sleeper) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", status=502)
    mock.add("GET", f"{BASE}/Patient/p1", json=PATIENT)
    mock.add("POST", f"{BASE}/Patient", status=502)
    client = make_client()
    assert client.read("Patient", "p1") == PATIENT
    with pytest.raises(FhirClientError) as caught:
        client.create({"resourceType": "Patient"})
    assert caught.value.status == 502
    assert len(calls_to(mock, "GET")) == 2 and len(calls_to(mock, "POST")) == 1


# -- timeouts and connection failures ---------------------------------------------------------------------------
def test_timeouts_are_passed_to_requests(mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/metadata", json={"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"})
    make_client(timeout=(2.0, 9.0)).capabilities()
    assert mock.calls[0].request.req_kwargs["timeout"] == (2.0, 9.0)


def test_a_read_timeout_on_a_get_is_retried(mock: responses.RequestsMock, make_client: Callable[..., FhirClient],
                                            sleeper: Sleeper) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", body=requests.ReadTimeout("read timed out"))
    mock.add("GET", f"{BASE}/Patient/p1", json=PATIENT)
    assert make_client(backoff=0.25).read("Patient", "p1") == PATIENT
    assert sleeper.waits == [0.25]


def test_a_read_timeout_on_a_plain_post_is_never_retried(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient], sleeper: Sleeper) -> None:
    mock.add("POST", f"{BASE}/Patient", body=requests.ReadTimeout("read timed out"))
    mock.add("POST", f"{BASE}/Patient", json=PATIENT, status=201)
    with pytest.raises(FhirTransportError) as caught:
        make_client(timeout=(1.0, 4.0)).create({"resourceType": "Patient"})
    assert caught.value.status is None and "no answer within 4 s" in str(caught.value)
    assert "not retried" in str(caught.value)
    assert len(mock.calls) == 1 and sleeper.waits == []


def test_a_read_timeout_on_a_conditional_create_is_retried(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("POST", f"{BASE}/Patient", body=requests.ReadTimeout("read timed out"))
    mock.add("POST", f"{BASE}/Patient", json=PATIENT, status=200)  # the first attempt had created it
    result = make_client().conditional_create({"resourceType": "Patient"}, {"identifier": "urn:x|1"})
    assert [c.request.headers["If-None-Exist"] for c in mock.calls] == ["identifier=urn%3Ax%7C1"] * 2
    assert result.status == 200 and not result.created


def test_a_connect_timeout_is_retried_even_for_a_plain_post(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("POST", f"{BASE}/Patient", body=requests.ConnectTimeout("connect timed out"))
    mock.add("POST", f"{BASE}/Patient", json=PATIENT, status=201)
    assert make_client().create({"resourceType": "Patient"}).created
    assert len(mock.calls) == 2


def test_a_refused_connection_is_a_transport_error_after_the_retries(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient], sleeper: Sleeper) -> None:
    refused = requests.ConnectionError(type("E", (), {"reason": NewConnectionError(None, "x: [Errno 111] "
                                                                                  "Connection refused")})())
    mock.add("GET", f"{BASE}/Patient/p1", body=refused)
    with pytest.raises(FhirTransportError) as caught:
        make_client(retries=2).read("Patient", "p1")
    assert caught.value.is_transport and "Connection refused" in str(caught.value)
    assert "after 2 retries" in str(caught.value) and len(sleeper.waits) == 2


def idempotent_transaction() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient"},
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:x|1"}},
        {"resource": {"resourceType": "Observation", "id": "o1"},
         "request": {"method": "PUT", "url": "Observation/o1"}}]}


def test_an_answer_that_breaks_off_is_retried_for_a_get_only(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", body=requests.exceptions.ChunkedEncodingError("connection broken"))
    mock.add("GET", f"{BASE}/Patient/p1", json=PATIENT)
    mock.add("POST", f"{BASE}/Patient", body=requests.exceptions.ChunkedEncodingError("connection broken"))
    client = make_client()
    assert client.read("Patient", "p1") == PATIENT
    with pytest.raises(FhirTransportError) as caught:
        client.create({"resourceType": "Patient"})
    assert "broke off" in str(caught.value) and len(calls_to(mock, "POST")) == 1


def test_a_transaction_of_conditional_creates_and_puts_is_retried_after_a_read_timeout(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("POST", BASE, body=requests.ReadTimeout("read timed out"))
    mock.add("POST", BASE, json={"resourceType": "Bundle", "type": "transaction-response", "entry": []})
    assert make_client().transaction(idempotent_transaction())["type"] == "transaction-response"
    assert len(mock.calls) == 2


def test_a_transaction_with_a_plain_post_is_not_retried_after_a_read_timeout(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    bundle = idempotent_transaction()
    del bundle["entry"][0]["request"]["ifNoneExist"]
    mock.add("POST", BASE, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(FhirTransportError):
        make_client().transaction(bundle)
    assert len(mock.calls) == 1


def test_a_200_that_is_not_json_is_an_error(mock: responses.RequestsMock,
                                            make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/Patient/p1", body="<html>login page</html>", content_type="text/html")
    with pytest.raises(FhirClientError) as caught:
        make_client().read("Patient", "p1")
    assert "not JSON" in str(caught.value) and "text/html" in str(caught.value)


def test_decimal_precision_is_kept_both_ways(mock: responses.RequestsMock,
                                            make_client: Callable[..., FhirClient]) -> None:
    text = '{"resourceType":"Observation","id":"o1","valueQuantity":{"value":96.770,"unit":"mg/L"}}'
    mock.add("GET", f"{BASE}/Observation/o1", body=text, content_type="application/fhir+json")
    mock.add("PUT", f"{BASE}/Observation/o1", body=text, content_type="application/fhir+json")
    client = make_client()
    observation = client.read("Observation", "o1")
    client.update(observation)
    assert b'"value":96.770' in mock.calls[1].request.body


# -- paging -----------------------------------------------------------------------------------------------------
def page(ids: list[str], next_url: str | None = None, total: int | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                              "link": [{"relation": "self", "url": "ignored"}],
                              "entry": [{"fullUrl": f"{BASE}/Observation/{i}", "search": {"mode": "match"},
                                         "resource": {"resourceType": "Observation", "id": i}} for i in ids]}
    if next_url:
        bundle["link"].append({"relation": "next", "url": next_url})
    if total is not None:
        bundle["total"] = total
    return bundle


def test_search_follows_next_links_across_pages(mock: responses.RequestsMock,
                                                make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/Observation?subject=Patient%2Fp1", json=page(["a", "b"], f"{BASE}/Observation?_cursor=2"))
    mock.add("GET", f"{BASE}/Observation?_cursor=2", json=page(["c", "d"], "Observation?_cursor=3"))  # relative
    mock.add("GET", f"{BASE}/Observation?_cursor=3", json=page(["e"]))
    found = [r["id"] for r in make_client().search("Observation", {"subject": "Patient/p1"})]
    assert found == ["a", "b", "c", "d", "e"] and len(mock.calls) == 3


def test_search_leaves_out_outcome_entries_and_keeps_includes(mock: responses.RequestsMock,
                                                              make_client: Callable[..., FhirClient]) -> None:
    bundle = page(["a"])
    bundle["entry"] += [{"resource": {"resourceType": "Patient", "id": "p1"}, "search": {"mode": "include"}},
                        {"resource": outcome("unknown parameter foo ignored"), "search": {"mode": "outcome"}}]
    mock.add("GET", f"{BASE}/Observation?foo=1&_include=Observation%3Asubject", json=bundle)
    found = list(make_client().search("Observation", [("foo", "1"), ("_include", "Observation:subject")]))
    assert [r["resourceType"] for r in found] == ["Observation", "Patient"]


def test_a_next_link_back_to_a_page_already_read_stops_with_an_error(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/Observation", json=page(["a"], f"{BASE}/Observation?_cursor=2"))
    mock.add("GET", f"{BASE}/Observation?_cursor=2", json=page(["b"], f"{BASE}/Observation"))
    seen = []
    with pytest.raises(FhirClientError) as caught:
        for resource in make_client().search("Observation"):
            seen.append(resource["id"])
            assert len(seen) < 10, "the client went round the paging loop"
    assert seen == ["a", "b"] and "paging loop" in str(caught.value) and len(mock.calls) == 2


def test_a_next_link_on_another_origin_is_not_followed(mock: responses.RequestsMock,
                                                       make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/Observation", json=page(["a"], "https://evil.example.com/fhir/Observation?page=2"))
    with pytest.raises(FhirClientError) as caught:
        list(make_client(token="s3cret").search("Observation"))
    assert "another origin" in str(caught.value) and len(mock.calls) == 1


def test_a_next_link_on_an_allowed_origin_is_followed(mock: responses.RequestsMock,
                                                      make_client: Callable[..., FhirClient]) -> None:
    other = "https://pages.example.org/fhir/Observation?page=2"
    mock.add("GET", f"{BASE}/Observation", json=page(["a"], other))
    mock.add("GET", other, json=page(["b"]))
    client = make_client(allow_origins=["https://pages.example.org"])
    assert [r["id"] for r in client.search("Observation")] == ["a", "b"]


def test_max_pages_bounds_a_search(mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    for n in range(1, 4):
        mock.add("GET", f"{BASE}/Observation?_cursor={n}", json=page([str(n)], f"{BASE}/Observation?_cursor={n + 1}"))
    with pytest.raises(FhirClientError) as caught:
        list(make_client(max_pages=2).search("Observation", "_cursor=1"))
    assert "more than 2 pages" in str(caught.value) and len(mock.calls) == 2


def test_a_failing_page_in_the_middle_of_a_search_is_an_error(
        mock: responses.RequestsMock, make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/Observation", json=page(["a"], f"{BASE}/Observation?_cursor=2"))
    mock.add("GET", f"{BASE}/Observation?_cursor=2", json=outcome("cursor expired", "not-found"), status=410)
    with pytest.raises(FhirClientError) as caught:
        list(make_client().search("Observation"))
    assert caught.value.status == 410 and "cursor expired" in str(caught.value)


def test_the_base_url_must_be_absolute_http() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        FhirClient("localhost:8080/fhir")


def test_everything_and_vread_and_delete_use_the_fhir_urls(mock: responses.RequestsMock,
                                                            make_client: Callable[..., FhirClient]) -> None:
    mock.add("GET", f"{BASE}/Patient/p1/$everything", json=page(["a"]))
    mock.add("GET", f"{BASE}/Patient/p1/_history/2", json=PATIENT)
    mock.add("DELETE", f"{BASE}/Patient/p1", status=204, headers={"ETag": 'W/"3"'})
    client = make_client()
    assert [r["id"] for r in client.everything("p1")] == ["a"]
    assert client.vread("Patient", "p1", 2) == PATIENT
    deleted = client.delete("Patient", "p1", if_match=2)
    assert deleted.status == 204 and deleted.version_id == "3"
    assert mock.calls[2].request.headers["If-Match"] == 'W/"2"'
