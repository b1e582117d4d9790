"""The Flask adapter over real HTTP on loopback: statuses, headers, OperationOutcome on every error."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import requests

from fhir_service.rest import RestConfig
from fhir_service.web import create_app
from fhir_service.web.app import CORS_ORIGINS_ENV
from fhir_service.web.server import LoopbackServer
from tests.store.backends import BACKENDS, make_repository

FHIR_JSON = "application/fhir+json"


@pytest.fixture(params=BACKENDS)
def base(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    for repo in make_repository(request.param, tmp_path):
        app = create_app(repo, config=RestConfig(max_body_bytes=4096))
        with LoopbackServer(app) as server:
            yield server.base_url


def is_outcome(response: requests.Response) -> bool:
    return response.headers["Content-Type"].startswith(FHIR_JSON) and \
        response.json()["resourceType"] == "OperationOutcome"


def test_create_read_update_delete_over_http(base: str) -> None:
    created = requests.post(f"{base}/Patient", json={"resourceType": "Patient", "gender": "female"},
                            headers={"Content-Type": FHIR_JSON})
    assert created.status_code == 201 and created.headers["ETag"] == 'W/"1"'
    location = created.headers["Location"]
    assert location.startswith(f"{base}/Patient/")
    instance = location.rsplit("/_history", 1)[0]
    read = requests.get(instance)
    assert read.status_code == 200 and read.headers["Content-Type"] == f"{FHIR_JSON}; charset=utf-8"
    body = {**read.json(), "gender": "male"}
    updated = requests.put(instance, json=body, headers={"Content-Type": FHIR_JSON, "If-Match": 'W/"1"'})
    assert updated.status_code == 200
    stale = requests.put(instance, json=body, headers={"Content-Type": FHIR_JSON, "If-Match": 'W/"1"'})
    # the precondition is evaluated first (RFC 9110 13.2.2), even when the content is unchanged
    assert stale.status_code == 412 and is_outcome(stale)
    assert requests.get(instance).headers["ETag"] == 'W/"2"'
    assert requests.delete(instance).status_code == 204
    gone = requests.get(instance)
    assert gone.status_code == 410 and is_outcome(gone)


def test_metadata(base: str) -> None:
    response = requests.get(f"{base}/metadata")
    assert response.status_code == 200 and response.json()["resourceType"] == "CapabilityStatement"


@pytest.mark.parametrize("method,path,kwargs,status", [
    ("GET", "/Patient/none", {}, 404),
    ("GET", "/Nothing/1", {}, 404),
    ("PATCH", "/Patient", {"data": "{}", "headers": {"Content-Type": FHIR_JSON}}, 405),
    ("POST", "/Patient", {"data": "{oops", "headers": {"Content-Type": FHIR_JSON}}, 400),
    ("POST", "/Patient", {"data": "gender: male", "headers": {"Content-Type": "text/plain"}}, 415),
    ("POST", "/Patient", {"data": "<Patient xmlns='http://hl7.org/fhir'>", "headers": {"Content-Type": "application/fhir+xml"}}, 400),
    ("POST", "/Patient", {"data": "{" + " " * 5000 + "}", "headers": {"Content-Type": FHIR_JSON}}, 413),
    ("GET", "/Patient?birthdate=1999-99", {}, 400),
])
def test_errors_are_operation_outcomes(base: str, method: str, path: str, kwargs: dict, status: int) -> None:
    response = requests.request(method, base + path, **kwargs)
    assert response.status_code == status and is_outcome(response)


def test_paths_outside_fhir_also_answer_with_an_outcome(base: str) -> None:
    response = requests.get(base.removesuffix("/fhir") + "/elsewhere")
    assert response.status_code == 404 and is_outcome(response)


def test_json_is_served_as_application_json_when_asked(base: str) -> None:
    response = requests.get(f"{base}/metadata", headers={"Accept": "application/json"})
    assert response.headers["Content-Type"].startswith("application/json")
    pretty = requests.get(f"{base}/metadata?_pretty=true")
    assert "\n  " in pretty.text


def test_search_by_post_over_http(base: str) -> None:
    requests.put(f"{base}/Patient/a", json={"resourceType": "Patient", "id": "a", "gender": "other"},
                 headers={"Content-Type": FHIR_JSON})
    response = requests.post(f"{base}/Patient/_search", data={"gender": "other"})
    assert response.status_code == 200 and response.json()["total"] == 1


def test_parallel_conditional_creates_over_http_make_one_resource(base: str) -> None:
    import threading

    statuses: list[int] = []
    barrier = threading.Barrier(6)
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "race"}]}

    def worker() -> None:
        barrier.wait()
        response = requests.post(f"{base}/Patient", json=body,
                                 headers={"Content-Type": FHIR_JSON, "If-None-Exist": "identifier=urn:mrn|race"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200] * 5 + [201]
    assert requests.get(f"{base}/Patient?identifier=urn:mrn|race").json()["total"] == 1


def test_head_answers_like_get_without_a_body(base: str) -> None:
    requests.put(f"{base}/Patient/h", json={"resourceType": "Patient", "id": "h"},
                 headers={"Content-Type": FHIR_JSON})
    head = requests.head(f"{base}/Patient/h")
    assert head.status_code == 200 and head.headers["ETag"] == 'W/"1"' and head.content == b""
    assert requests.head(f"{base}/Patient/none").status_code == 404


FHIR_XML = "application/fhir+xml"
PATIENT_XML = ('<Patient xmlns="http://hl7.org/fhir"><id value="x1"/><gender value="female"/>'
               '<birthDate value="1970-05-02"><extension url="http://example.org/ext"><valueString value="a"/>'
               '</extension></birthDate></Patient>')


def test_xml_in_and_out(base: str) -> None:
    from fhir_service.definitions import default_definitions
    from fhir_service.formats.xml import parse_xml

    created = requests.put(f"{base}/Patient/x1", data=PATIENT_XML, headers={"Content-Type": FHIR_XML})
    assert created.status_code == 201 and created.headers["Content-Type"].startswith(FHIR_JSON)
    as_json = requests.get(f"{base}/Patient/x1").json()
    assert as_json["gender"] == "female" and as_json["_birthDate"]["extension"][0]["valueString"] == "a"
    as_xml = requests.get(f"{base}/Patient/x1", headers={"Accept": FHIR_XML})
    assert as_xml.headers["Content-Type"].startswith(FHIR_XML)
    assert parse_xml(as_xml.content, default_definitions()).resource == as_json
    missing = requests.get(f"{base}/Patient/none?_format=xml")
    assert missing.status_code == 404 and b"<OperationOutcome" in missing.content


def test_cors_lets_any_origin_read_but_not_write(base: str) -> None:
    preflight = requests.options(f"{base}/Patient", headers={"Origin": "https://app.example",
                                                              "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    allowed = {m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].split(",")}
    assert allowed == {"GET", "HEAD", "OPTIONS"}  # the browser will not send the POST
    error = requests.get(f"{base}/Patient/none", headers={"Origin": "https://app.example"})
    assert error.headers["Access-Control-Allow-Origin"] == "*" and "ETag" in error.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_cross_site_write_without_preflight_is_refused(base: str, method: str) -> None:
    """A page on another site can send a form POST (no preflight): it must not reach the store."""
    path = f"{base}/Patient" if method == "POST" else f"{base}/Patient/p1"
    answer = requests.request(method, path, data='{"resourceType":"Patient","id":"p1"}',
                              headers={"Origin": "https://evil.example", "Content-Type": FHIR_JSON})
    assert answer.status_code == 403 and is_outcome(answer)
    assert requests.get(f"{base}/Patient?_summary=count").json()["total"] == 0
    search = requests.post(f"{base}/Patient/_search", data="gender=male", headers={
        "Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"})
    assert search.status_code == 200  # a search by POST reads: allowed from anywhere
    assert requests.post(f"{base}/Patient", json={"resourceType": "Patient"},  # no Origin: not a browser
                         headers={"Content-Type": FHIR_JSON}).status_code == 201


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A server whose operator allowed one origin to write, through the environment (as `serve` is run)."""
    monkeypatch.setenv(CORS_ORIGINS_ENV, "https://other.example, https://App.example/")
    for repo in make_repository("sqlite", tmp_path):
        with LoopbackServer(create_app(repo)) as server:
            yield server.base_url


def test_configured_origins_may_write(configured: str) -> None:
    origin = "https://app.example"
    preflight = requests.options(f"{configured}/Patient/p1", headers={"Origin": origin,
                                                                      "Access-Control-Request-Method": "DELETE"})
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "DELETE" in preflight.headers["Access-Control-Allow-Methods"] and "Origin" in preflight.headers["Vary"]
    created = requests.post(f"{configured}/Patient", json={"resourceType": "Patient"},
                            headers={"Content-Type": FHIR_JSON, "Origin": origin})
    assert created.status_code == 201 and created.headers["Access-Control-Allow-Origin"] == origin
    refused = requests.post(f"{configured}/Patient", json={"resourceType": "Patient"},
                            headers={"Content-Type": FHIR_JSON, "Origin": "https://evil.example"})
    assert refused.status_code == 403


def test_cors_origins_option_overrides_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CORS_ORIGINS_ENV, "https://app.example")
    for repo in make_repository("sqlite", tmp_path):
        with LoopbackServer(create_app(repo, cors_origins=["*"])) as server:
            created = requests.post(f"{server.base_url}/Patient", json={"resourceType": "Patient"},
                                    headers={"Content-Type": FHIR_JSON, "Origin": "https://any.example"})
            assert created.status_code == 201
            assert created.headers["Access-Control-Allow-Origin"] == "https://any.example"


