"""/metadata reflects what is supported; $validate answers with an OperationOutcome; validate-on-write."""
from __future__ import annotations

import pytest

from tests.rest.conftest import Client


def test_metadata_lists_supported_search_parameters(client: Client) -> None:
    response = client("GET", "/metadata")
    statement = response.body
    assert response.status == 200 and statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1" and "application/fhir+json" in statement["format"]
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    names = {p["name"]: p["type"] for p in patient["searchParam"]}
    assert names["birthdate"] == "date" and names["_id"] == "token"
    assert "phonetic" in names
    assert {"code": "read"} in patient["interaction"]
    assert any(op["name"] == "everything" for op in patient["operation"])
    observation = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Observation")
    assert "code-value-quantity" in {p["name"] for p in observation["searchParam"]}
    location = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Location")
    assert "near" not in {p["name"] for p in location["searchParam"]}  # special: not supported, not advertised


def test_metadata_lists_the_project_profiles(client: Client) -> None:
    statement = client("GET", "/metadata").body
    supported = [url for r in statement["rest"][0]["resource"] for url in r.get("supportedProfile", [])]
    from fhir_service.rest.capabilities import _project_profiles

    expected = [url for urls in _project_profiles(client.rest.definitions).values() for url in urls]
    assert sorted(supported) == sorted(expected)


def test_validate_a_resource_body(client: Client) -> None:
    good = client("POST", "/Patient/$validate", {"resourceType": "Patient", "gender": "female"})
    assert good.status == 200 and good.body["resourceType"] == "OperationOutcome"
    assert not [i for i in good.body["issue"] if i["severity"] in ("error", "fatal")]
    bad = client("POST", "/Patient/$validate", {"resourceType": "Patient", "gender": 5})
    assert bad.status == 200 and [i for i in bad.body["issue"] if i["severity"] in ("error", "fatal")]


def test_validate_a_parameters_body_and_type_mismatch(client: Client) -> None:
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient", "birthDate": "not-a-date"}},
        {"name": "mode", "valueCode": "create"}]}
    response = client("POST", "/Patient/$validate", params)
    assert response.status == 200 and [i for i in response.body["issue"] if i["severity"] == "error"]
    assert client("POST", "/Observation/$validate", {"resourceType": "Patient"}).status == 400


BODYTEMP = {"resourceType": "Observation", "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/bodytemp"]},
            "status": "final", "code": {"text": "temperature"}, "subject": {"reference": "Patient/a"},
            "effectiveDateTime": "2024-03-01"}  # no vital-signs category, no LOINC code, no value: not a bodytemp


def test_validate_on_write_enforce_rejects_with_422(client: Client) -> None:
    client.rest.config.validate_on_write = "enforce"
    response = client("POST", "/Observation", BODYTEMP)
    assert response.status == 422 and response.body["resourceType"] == "OperationOutcome"
    assert any(i["code"] == "required" for i in response.body["issue"])
    unprofiled = {k: v for k, v in BODYTEMP.items() if k != "meta"}
    assert client("POST", "/Observation", unprofiled).status == 201


def test_validate_on_write_warn_and_off_accept(client: Client) -> None:
    client.rest.config.validate_on_write = "warn"
    warned = client("POST", "/Observation", BODYTEMP, headers={"Prefer": "return=OperationOutcome"})
    assert warned.status == 201 and any(i["severity"] == "error" for i in warned.body["issue"])
    client.rest.config.validate_on_write = "off"
    assert client("POST", "/Observation", BODYTEMP).status == 201


@pytest.mark.parametrize("resource", [
    {"resourceType": "Patient", "gender": 5},                      # wrong JSON type
    {"resourceType": "Patient", "shoeSize": 42},                   # unknown element
    {"resourceType": "Patient", "birthDate": "2020-13-01"},        # malformed primitive
    {"resourceType": "Patient", "meta": {"profile": "x"}},         # a list expected
])
def test_unparseable_resources_are_400_on_every_write(client: Client, resource: dict) -> None:
    response = client("POST", "/Patient", resource)
    assert response.status == 400 and response.body["issue"][0]["code"] in ("structure", "value")
    assert client("PUT", "/Patient/x", {**resource, "id": "x"}).status == 400


def test_bad_codes_and_missing_elements_are_not_parse_errors(client: Client) -> None:
    assert client("POST", "/Patient", {"resourceType": "Patient", "gender": "xx"}).status == 201
    assert client("POST", "/Observation", {"resourceType": "Observation", "code": {"text": "x"}}).status == 201


def test_validate_with_a_profile_in_the_query(client: Client) -> None:
    unprofiled = {k: v for k, v in BODYTEMP.items() if k != "meta"}
    plain = client("POST", "/Observation/$validate", unprofiled)
    profiled = client("POST", "/Observation/$validate?profile=http://hl7.org/fhir/StructureDefinition/bodytemp",
                      unprofiled)
    errors = lambda r: [i for i in r.body["issue"] if i["severity"] == "error"]  # noqa: E731
    assert not errors(plain) and errors(profiled)


def test_a_case_bundle_validates_clean_through_the_server(client: Client) -> None:
    from tests.conftest import REPO

    import json

    bundle = json.loads((REPO / "bundles" / "003-paediatric-emapalumab-cohort.json").read_text())
    errors = lambda r: [i for i in r.body["issue"] if i["severity"] in ("error", "fatal")]  # noqa: E731
    response = client("POST", "/Bundle/$validate", bundle)
    assert response.status == 200 and errors(response) == []
    bundle["entry"][1]["resource"].pop("status", None)  # a required element of the Group/Observation
    assert any("status" in i.get("expression", [""])[0] or "status" in i["diagnostics"]
               for i in errors(client("POST", "/Bundle/$validate", bundle)))


def test_validate_a_stored_instance_by_get(client: Client) -> None:
    client("PUT", "/Observation/t1", {**{k: v for k, v in BODYTEMP.items() if k != "meta"}, "id": "t1"})
    errors = lambda r: [i for i in r.body["issue"] if i["severity"] == "error"]  # noqa: E731
    assert client("GET", "/Observation/t1/$validate").status == 200
    assert not errors(client("GET", "/Observation/t1/$validate"))
    assert errors(client("GET", "/Observation/t1/$validate?profile=http://hl7.org/fhir/StructureDefinition/bodytemp"))
    assert client("GET", "/Observation/none/$validate").status == 404
