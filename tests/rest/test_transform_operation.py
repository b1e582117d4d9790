"""`POST [base]/Bundle/$transform`: the project's transforms as a FHIR operation (Parameters in, Bundle or
OperationOutcome out), listed in the CapabilityStatement."""
from __future__ import annotations

import json
from typing import Any

import pytest

from fhir_service.store import fhirjson

from tests.conftest import REPO
from tests.rest.conftest import Client

CASE = REPO / "bundles" / "002-psca-cart-mcrpc.json"


def case_bundle() -> dict[str, Any]:
    return json.loads(CASE.read_text())


def parameters(transform: str | None, bundle: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if transform is not None:
        parts.append({"name": "transform", "valueCode": transform})
    if bundle is not None:
        parts.append({"name": "bundle", "resource": bundle})
    for name, value in extra.items():
        key = {bool: "valueBoolean", str: "valueString"}[type(value)]
        if name == "infusionDate":
            key = "valueDate"
        parts.append({"name": name, key: value})
    return {"resourceType": "Parameters", "parameter": parts}


def test_a_collection_case_bundle_becomes_a_transaction_the_server_accepts(client: Client) -> None:
    source = case_bundle()
    assert source["type"] == "collection"
    response = client("POST", "/Bundle/$transform", parameters("to-transaction", source))
    assert response.status == 200, response.body
    bundle = response.body
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    assert len(bundle["entry"]) == len(source["entry"])
    assert all(e["request"]["method"] in ("POST", "PUT") for e in bundle["entry"])
    loaded = client("POST", "/", fhirjson.dumps(bundle))  # what came out loads as it is
    assert loaded.status == 200 and len(loaded.body["entry"]) == len(source["entry"])


def test_redate_moves_day_zero(client: Client) -> None:
    source = case_bundle()
    response = client("POST", "/Bundle/$transform",
                      parameters("redate", source, infusionDate="2030-06-01", freshIds=True, seed="s1"))
    assert response.status == 200, response.body
    text = fhirjson.dumps(response.body).decode()
    assert "2030-0" in text and len(response.body["entry"]) == len(source["entry"])
    assert response.body != source


def test_to_r5_converts(client: Client) -> None:
    response = client("POST", "/Bundle/$transform", parameters("to-r5", case_bundle()))
    assert response.status == 200, response.body
    assert response.body["resourceType"] == "Bundle"
    # R5 names: MedicationAdministration.occurence[x] and .medication as a CodeableReference
    administrations = [e["resource"] for e in response.body["entry"]
                       if e["resource"]["resourceType"] == "MedicationAdministration"]
    assert administrations and all("effectiveDateTime" not in m and "effectivePeriod" not in m
                                   for m in administrations)


@pytest.mark.parametrize("body,named", [
    (parameters("redate", case_bundle(), infusionDate="not-a-date"), "infusionDate"),
    (parameters("redate", case_bundle()), "infusionDate"),
    (parameters(None, case_bundle()), "transform"),
    (parameters("to-transaction", None), "bundle"),
    (parameters("to-transaction", case_bundle(), noSuchThing=True), "noSuchThing"),
])
def test_bad_parameters_are_400_naming_the_parameter(client: Client, body: dict[str, Any], named: str) -> None:
    response = client("POST", "/Bundle/$transform", body)
    assert response.status == 400, response.body
    assert response.body["resourceType"] == "OperationOutcome"
    text = fhirjson.dumps(response.body).decode()
    assert named in text


def test_a_body_that_is_not_parameters_is_400(client: Client) -> None:
    response = client("POST", "/Bundle/$transform", case_bundle())
    assert response.status == 400 and response.body["resourceType"] == "OperationOutcome"
    assert client("GET", "/Bundle/$transform").status == 405


def test_the_capability_statement_lists_transform(client: Client) -> None:
    statement = client("GET", "/metadata").body
    bundle = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Bundle")
    assert "transform" in [op["name"] for op in bundle["operation"]]
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert "transform" not in [op["name"] for op in patient["operation"]]
