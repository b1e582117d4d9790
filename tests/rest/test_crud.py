"""read, vread, create, update, delete through the REST core: statuses, headers, OperationOutcomes."""
from __future__ import annotations

import pytest

from tests.rest.conftest import BASE, Client

PATIENT = {"resourceType": "Patient", "name": [{"family": "Doe"}], "gender": "female"}


def is_outcome(body: dict | None, code: str | None = None) -> bool:
    return bool(body) and body["resourceType"] == "OperationOutcome" and (
        code is None or body["issue"][0]["code"] == code)


def test_create_returns_201_location_etag_and_the_resource(client: Client) -> None:
    response = client("POST", "/Patient", PATIENT)
    assert response.status == 201
    id = response.body["id"]
    assert response.headers["Location"] == f"{BASE}/Patient/{id}/_history/1"
    assert response.headers["ETag"] == 'W/"1"'
    assert response.body["meta"]["versionId"] == "1"


def test_read_and_vread(client: Client) -> None:
    id = client("POST", "/Patient", PATIENT).body["id"]
    client("PUT", f"/Patient/{id}", {**PATIENT, "id": id, "gender": "male"})
    read = client("GET", f"/Patient/{id}")
    assert read.status == 200 and read.body["gender"] == "male" and read.headers["ETag"] == 'W/"2"'
    assert "Last-Modified" in read.headers
    assert client("GET", f"/Patient/{id}/_history/1").body["gender"] == "female"
    assert client("GET", f"/Patient/{id}/_history/9").status == 404
    assert client("GET", f"/Patient/{id}/_history/x").status == 404


def test_read_unknown_is_404_with_outcome(client: Client) -> None:
    response = client("GET", "/Patient/nope")
    assert response.status == 404 and is_outcome(response.body, "not-found")


def test_unknown_resource_type_is_404(client: Client) -> None:
    assert client("GET", "/Spaceship/1").status == 404


def test_update_as_create_then_update(client: Client) -> None:
    created = client("PUT", "/Patient/p1", {**PATIENT, "id": "p1"})
    assert created.status == 201 and created.headers["Location"].endswith("/Patient/p1/_history/1")
    updated = client("PUT", "/Patient/p1", {**PATIENT, "id": "p1", "gender": "male"})
    assert updated.status == 200 and updated.body["meta"]["versionId"] == "2"


def test_update_id_must_match_url(client: Client) -> None:
    assert client("PUT", "/Patient/p1", {**PATIENT, "id": "p2"}).status == 400
    assert client("PUT", "/Patient/p1", PATIENT).status == 400


def test_if_match(client: Client) -> None:
    client("PUT", "/Patient/p1", {**PATIENT, "id": "p1"})
    stale = client("PUT", "/Patient/p1", {**PATIENT, "id": "p1", "gender": "male"}, headers={"If-Match": 'W/"7"'})
    assert stale.status == 412 and is_outcome(stale.body)
    fresh = client("PUT", "/Patient/p1", {**PATIENT, "id": "p1", "gender": "male"}, headers={"If-Match": 'W/"1"'})
    assert fresh.status == 200
    assert client("PUT", "/Patient/p1", {**PATIENT, "id": "p1"}, headers={"If-Match": "junk"}).status == 400


def test_if_none_match_on_read_gives_304(client: Client) -> None:
    client("PUT", "/Patient/p1", {**PATIENT, "id": "p1"})
    assert client("GET", "/Patient/p1", headers={"If-None-Match": 'W/"1"'}).status == 304
    assert client("GET", "/Patient/p1", headers={"If-None-Match": 'W/"0"'}).status == 200


def test_delete_then_read_is_410(client: Client) -> None:
    client("PUT", "/Patient/p1", {**PATIENT, "id": "p1"})
    assert client("DELETE", "/Patient/p1").status == 204
    gone = client("GET", "/Patient/p1")
    assert gone.status == 410 and is_outcome(gone.body)
    assert client("DELETE", "/Patient/p1").status == 204  # idempotent
    assert client("DELETE", "/Patient/never").status == 204  # R4: "or if the resource does not exist at all"
    assert client("GET", "/Patient/never").status == 404  # and deleting it wrote nothing
    assert client("DELETE", "/Patient/never", headers={"If-Match": 'W/"1"'}).status == 404


def test_prefer_return(client: Client) -> None:
    minimal = client("POST", "/Patient", PATIENT, headers={"Prefer": "return=minimal"})
    assert minimal.status == 201 and minimal.body is None and "Location" in minimal.headers
    oo = client("POST", "/Patient", PATIENT, headers={"Prefer": "return=OperationOutcome"})
    assert is_outcome(oo.body)


def test_conditional_create(client: Client) -> None:
    body = {**PATIENT, "identifier": [{"system": "urn:mrn", "value": "1"}]}
    first = client("POST", "/Patient", body, headers={"If-None-Exist": "identifier=urn:mrn|1"})
    again = client("POST", "/Patient", body, headers={"If-None-Exist": "identifier=urn:mrn|1"})
    assert first.status == 201 and again.status == 200 and again.body["id"] == first.body["id"]
    prefixed = client("POST", "/Patient", body, headers={"If-None-Exist": "Patient?identifier=urn:mrn|1"})
    assert prefixed.status == 200 and prefixed.body["id"] == first.body["id"]
    client("POST", "/Patient", body)
    assert client("POST", "/Patient", body, headers={"If-None-Exist": "identifier=urn:mrn|1"}).status == 412
    assert client("POST", "/Patient", body, headers={"If-None-Exist": "shoe=1"}).status == 400


def test_conditional_update_and_delete(client: Client) -> None:
    body = {**PATIENT, "identifier": [{"system": "urn:mrn", "value": "9"}]}
    created = client("PUT", "/Patient?identifier=urn:mrn|9", body)
    assert created.status == 201
    updated = client("PUT", "/Patient?identifier=urn:mrn|9", {**body, "gender": "male"})
    assert updated.status == 200 and updated.body["id"] == created.body["id"]
    assert client("DELETE", "/Patient?identifier=urn:mrn|9").status == 204
    assert client("GET", f"/Patient/{created.body['id']}").status == 410
    assert client("DELETE", "/Patient").status == 405


@pytest.mark.parametrize("body,status", [
    ("{not json", 400),
    ("[1, 2]", 400),
    ('{"resourceType": "Observation"}', 400),   # type differs from the URL
    ("", 400),
])
def test_malformed_bodies_are_400_never_500(client: Client, body: str, status: int) -> None:
    response = client("POST", "/Patient", body, headers={"Content-Type": "application/fhir+json"})
    assert response.status == status and is_outcome(response.body)


def test_create_ignores_the_client_id_and_rejects_wrong_types(client: Client) -> None:
    created = client("POST", "/Patient", {"resourceType": "Patient", "id": "bad id!"})
    assert created.status == 201 and created.body["id"] != "bad id!"
    wrong = client("PUT", "/Patient/x", {"resourceType": "Spaceship", "id": "x"})
    assert wrong.status == 400 and is_outcome(wrong.body)


def test_content_type_and_format_negotiation(client: Client) -> None:
    text = client("POST", "/Patient", "gender: female", headers={"Content-Type": "text/plain"})
    assert text.status == 415 and is_outcome(text.body)
    assert client("POST", "/Patient", PATIENT, headers={"Content-Type": "application/json"}).status == 201
    assert client("GET", "/Patient?_format=turtle").status == 406
    assert client("GET", "/Patient?_format=json").media_type == "application/fhir+json"
    assert client("GET", "/Patient?_format=xml").media_type == "application/fhir+xml"
    assert client("GET", "/Patient", headers={"Accept": "text/turtle"}).status == 406
    assert client("GET", "/Patient", headers={"Accept": "application/fhir+json;q=0.9, */*"}).status == 200
    preferred = client("GET", "/Patient", headers={"Accept": "application/fhir+json;q=0.5, application/fhir+xml"})
    assert preferred.media_type == "application/fhir+xml"
    plain = client("GET", "/Patient", headers={"Accept": "application/json"})
    assert plain.media_type == "application/json"


def test_method_not_allowed_is_405_with_allow(client: Client) -> None:
    response = client("PATCH", "/Patient", PATIENT)
    assert response.status == 405 and "PUT" in response.headers["Allow"] and is_outcome(response.body)
    assert client("DELETE", "/metadata").status == 405


def test_body_size_limit_is_413(client: Client) -> None:
    client.rest.config.max_body_bytes = 100
    response = client("POST", "/Patient", {**PATIENT, "text": {"status": "generated", "div": "x" * 200}})
    assert response.status == 413 and is_outcome(response.body)


def test_history_bundles(client: Client) -> None:
    client("PUT", "/Patient/p1", {**PATIENT, "id": "p1"})
    client("PUT", "/Patient/p1", {**PATIENT, "id": "p1", "gender": "male"})
    client("DELETE", "/Patient/p1")
    history = client("GET", "/Patient/p1/_history").body
    assert history["type"] == "history"
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "PUT", "PUT"]
    assert "resource" not in history["entry"][0]
    paged = client("GET", "/Patient/_history?_count=1").body
    next_link = [l["url"] for l in paged["link"] if l["relation"] == "next"][0]
    second = client("GET", next_link.removeprefix(BASE)).body
    assert second["entry"][0]["response"]["etag"] == 'W/"2"'
    assert client("GET", "/_history").status == 200
    assert client("GET", "/Patient/p1/_history?_since=junk").status == 400


def test_decimals_round_trip_with_their_precision(client: Client) -> None:
    body = '{"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "CRP"}, ' \
           '"valueQuantity": {"value": 12.50, "unit": "mg/L"}}'
    client("PUT", "/Observation/o", body)
    from fhir_service.store import fhirjson

    assert b'"value":12.50' in fhirjson.dumps(client("GET", "/Observation/o").body)
    assert client("GET", "/Observation?value-quantity=12.5").body["total"] == 1


def test_nan_is_not_json(client: Client) -> None:
    response = client("PUT", "/Observation/o", '{"resourceType": "Observation", "id": "o", "valueQuantity": '
                                                '{"value": NaN}}')
    assert response.status == 400 and is_outcome(response.body)


def test_if_modified_since_on_read(client: Client) -> None:
    created = client("PUT", "/Patient/p1", {**PATIENT, "id": "p1"})
    last_modified = created.headers["Last-Modified"]
    assert client("GET", "/Patient/p1", headers={"If-Modified-Since": last_modified}).status == 304
    assert client("GET", "/Patient/p1", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status == 200
    assert client("GET", "/Patient/p1", headers={"If-Modified-Since": "garbage"}).status == 200


PATCH_TYPE = {"Content-Type": "application/json-patch+json"}


def test_method_not_allowed_is_405_whatever_the_content_type(client: Client) -> None:
    response = client("PATCH", "/metadata", '[]', headers=PATCH_TYPE)
    assert response.status == 405 and is_outcome(response.body)


def test_json_patch(client: Client) -> None:
    client("PUT", "/Patient/p1", {**PATIENT, "id": "p1"})
    patched = client("PATCH", "/Patient/p1", '[{"op": "test", "path": "/gender", "value": "female"},'
                                            ' {"op": "replace", "path": "/gender", "value": "male"},'
                                            ' {"op": "add", "path": "/name/0/given", "value": ["Jo"]}]',
                     headers=PATCH_TYPE)
    assert patched.status == 200 and patched.body["gender"] == "male" and patched.body["meta"]["versionId"] == "2"
    assert patched.body["name"][0]["given"] == ["Jo"]
    failed = client("PATCH", "/Patient/p1", '[{"op": "test", "path": "/gender", "value": "female"}]',
                    headers=PATCH_TYPE)
    assert failed.status == 422 and is_outcome(failed.body)
    stale = client("PATCH", "/Patient/p1", '[]', headers={**PATCH_TYPE, "If-Match": 'W/"1"'})
    assert stale.status == 412
    assert client("PATCH", "/Patient/p1", '{"op": "remove"}', headers=PATCH_TYPE).status == 400
    assert client("PATCH", "/Patient/p1", '[{"op": "replace", "path": "/id", "value": "p2"}]',
                  headers=PATCH_TYPE).status == 422
    assert client("PATCH", "/Patient/p1", '[{"op": "add", "path": "/shoeSize", "value": 42}]',
                  headers=PATCH_TYPE).status == 400  # the result must still parse as FHIR
    assert client("PATCH", "/Patient/p1", '[]', headers={"Content-Type": "application/fhir+json"}).status == 415
    assert client("PATCH", "/Patient/nope", '[]', headers=PATCH_TYPE).status == 404


def test_tampered_history_cursor_is_400(client: Client) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(b'["x"]').decode().rstrip("=")
    response = client("GET", f"/_history?_cursor={cursor}")
    assert response.status == 400 and is_outcome(response.body)


def test_deleting_a_referenced_resource_is_409(client: Client) -> None:
    client("PUT", "/Patient/p1", {**PATIENT, "id": "p1"})
    client("PUT", "/Observation/o1", {"resourceType": "Observation", "id": "o1", "status": "final",
                                      "code": {"text": "t"}, "subject": {"reference": "Patient/p1"}})
    response = client("DELETE", "/Patient/p1")
    assert response.status == 409 and is_outcome(response.body, "conflict")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "DELETE", "url": "Patient/p1"}},
        {"request": {"method": "DELETE", "url": "Observation/o1"}}]}
    assert client("POST", "", bundle).status == 200
