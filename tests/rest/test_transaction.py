"""Batch and transaction Bundles: atomicity, urn:uuid rewriting in any order, per-entry outcomes."""
from __future__ import annotations

from tests.rest.conftest import Client

PATIENT_URN = "urn:uuid:11111111-1111-4111-8111-111111111111"
OBS_URN = "urn:uuid:22222222-2222-4222-8222-222222222222"


def tx(*entries: dict, kind: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(full_url: str, resource: dict, **request: str) -> dict:
    return {"fullUrl": full_url, "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"], **request}}


OBS = {"resourceType": "Observation", "status": "final", "code": {"text": "temp"},
       "subject": {"reference": PATIENT_URN}}
PATIENT = {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "T1"}]}


def test_transaction_rewrites_urn_references_even_when_the_target_comes_later(client: Client) -> None:
    response = client("POST", "", tx(post(OBS_URN, OBS), post(PATIENT_URN, PATIENT)))
    assert response.status == 200 and response.body["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in response.body["entry"]]
    assert statuses == ["201 Created", "201 Created"]
    obs_location = response.body["entry"][0]["response"]["location"]
    patient_id = response.body["entry"][1]["resource"]["id"]
    observation = client("GET", obs_location.split("/fhir")[1].split("/_history")[0]).body
    assert observation["subject"]["reference"] == f"Patient/{patient_id}"


def test_transaction_is_atomic(client: Client) -> None:
    failing = {"request": {"method": "PUT", "url": "Patient/x"},
               "resource": {"resourceType": "Patient", "id": "y"}}  # id mismatch: 400
    response = client("POST", "", tx(post(PATIENT_URN, PATIENT), failing))
    assert response.status == 400 and response.body["resourceType"] == "OperationOutcome"
    assert "Bundle.entry[1]" in response.body["issue"][0]["diagnostics"]
    assert client("GET", "/Patient?identifier=urn:mrn|T1").body["total"] == 0


def test_transaction_with_unresolvable_urn_fails(client: Client) -> None:
    response = client("POST", "", tx(post(OBS_URN, OBS)))
    assert response.status == 400
    assert client("GET", "/Observation").body["total"] == 0


def test_transaction_conditional_create_and_conditional_reference(client: Client) -> None:
    client("POST", "", tx(post(PATIENT_URN, PATIENT, ifNoneExist="identifier=urn:mrn|T1")))
    again = client("POST", "", tx(post(PATIENT_URN, PATIENT, ifNoneExist="identifier=urn:mrn|T1"),
                                  post(OBS_URN, {**OBS, "subject": {"reference": "Patient?identifier=urn:mrn|T1"}})))
    assert [e["response"]["status"] for e in again.body["entry"]] == ["200 OK", "201 Created"]
    assert client("GET", "/Patient").body["total"] == 1
    assert client("GET", "/Observation?subject.identifier=urn:mrn|T1").body["total"] == 1


def test_transaction_entries_need_a_request(client: Client) -> None:
    response = client("POST", "", tx({"resource": PATIENT}))
    assert response.status == 400


def test_transaction_get_and_delete_entries(client: Client) -> None:
    client("PUT", "/Patient/a", {"resourceType": "Patient", "id": "a"})
    response = client("POST", "", tx({"request": {"method": "DELETE", "url": "Patient/a"}},
                                     {"request": {"method": "GET", "url": "Patient?_id=a"}}))
    statuses = [e["response"]["status"] for e in response.body["entry"]]
    assert statuses == ["204 No Content", "200 OK"]
    assert response.body["entry"][1]["resource"].get("total") == 0  # GET runs after DELETE


def test_batch_reports_each_entry(client: Client) -> None:
    response = client("POST", "", tx(post(PATIENT_URN, PATIENT),
                                     {"request": {"method": "GET", "url": "Patient/missing"}},
                                     {"resource": PATIENT}, kind="batch"))
    assert response.status == 200 and response.body["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in response.body["entry"]]
    assert statuses == ["201 Created", "404 Not Found", "400 Bad Request"]
    assert response.body["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert client("GET", "/Patient").body["total"] == 1


def test_only_batch_or_transaction_may_be_posted_to_the_base(client: Client) -> None:
    response = client("POST", "", {"resourceType": "Bundle", "type": "collection"})
    assert response.status == 400
    assert client("POST", "", {"resourceType": "Patient"}).status == 400


def test_relative_references_to_an_absolute_full_url_are_rewritten(client: Client) -> None:
    patient = {"fullUrl": "http://other.example/fhir/Patient/old", "resource": {"resourceType": "Patient"},
               "request": {"method": "POST", "url": "Patient"}}
    obs = post(OBS_URN, {**OBS, "subject": {"reference": "Patient/old"}})
    response = client("POST", "", tx(obs, patient))
    assert response.status == 200
    patient_id = response.body["entry"][1]["resource"]["id"]
    assert response.body["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"


def test_delete_with_stale_if_match_is_412(client: Client) -> None:
    client("PUT", "/Patient/a", {"resourceType": "Patient", "id": "a"})
    assert client("DELETE", "/Patient/a", headers={"If-Match": 'W/"2"'}).status == 412
    assert client("DELETE", "/Patient/a", headers={"If-Match": 'W/"1"'}).status == 204


def test_two_entries_writing_one_resource_fail_the_transaction(client: Client) -> None:
    put = {"request": {"method": "PUT", "url": "Patient/dup"}, "resource": {"resourceType": "Patient", "id": "dup"}}
    response = client("POST", "", tx(put, {"request": {"method": "DELETE", "url": "Patient/dup"}}))
    assert response.status == 400 and "both write Patient/dup" in response.body["issue"][0]["diagnostics"]
    assert client("GET", "/Patient/dup").status == 404


def test_parallel_transactions_with_the_same_conditional_create_make_one_resource(client: Client) -> None:
    import threading

    barrier = threading.Barrier(5)
    statuses: list[str] = []
    bundle = tx(post(PATIENT_URN, PATIENT, ifNoneExist="identifier=urn:mrn|T1"))

    def worker() -> None:
        barrier.wait()
        response = client("POST", "", bundle)
        statuses.append(response.body["entry"][0]["response"]["status"])

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == ["200 OK"] * 4 + ["201 Created"]
    assert client("GET", "/Patient?identifier=urn:mrn|T1").body["total"] == 1


def test_entry_urls_may_be_absolute_on_this_server(client: Client) -> None:
    from tests.rest.conftest import BASE

    put = {"request": {"method": "PUT", "url": f"{BASE}/Patient/abs"}, "resource": {"resourceType": "Patient", "id": "abs"}}
    response = client("POST", "", tx(put))
    assert response.status == 200 and response.body["entry"][0]["response"]["status"] == "201 Created"
