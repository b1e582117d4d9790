"""Operations over real HTTP on loopback: `Bundle/$transform` and `ViewDefinition/$run`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
import requests

from fhir_service.web import create_app
from fhir_service.web.server import LoopbackServer
from tests.conftest import REPO
from tests.store.backends import make_repository

FHIR_JSON = "application/fhir+json"
CASE = REPO / "bundles" / "004-case1-tisacel-emapalumab.json"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for repo in make_repository("sqlite", tmp_path_factory.mktemp("ops")):
        with LoopbackServer(create_app(repo)) as server:
            yield server.base_url


def post(base: str, path: str, body: dict) -> requests.Response:  # type: ignore[type-arg]
    return requests.post(f"{base}/{path}", data=json.dumps(body), headers={"Content-Type": FHIR_JSON,
                                                                          "Accept": FHIR_JSON})


def test_transform_to_transaction_then_load_it(base: str) -> None:
    source = json.loads(CASE.read_text())
    response = post(base, "Bundle/$transform", {"resourceType": "Parameters", "parameter": [
        {"name": "transform", "valueCode": "to-transaction"}, {"name": "bundle", "resource": source}]})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(FHIR_JSON)
    transaction = response.json()
    assert transaction["type"] == "transaction"
    loaded = requests.post(base, data=response.content, headers={"Content-Type": FHIR_JSON})
    assert loaded.status_code == 200 and len(loaded.json()["entry"]) == len(source["entry"])


def test_transform_with_a_bad_parameter_is_a_400_outcome(base: str) -> None:
    response = post(base, "Bundle/$transform", {"resourceType": "Parameters", "parameter": [
        {"name": "transform", "valueCode": "redate"}, {"name": "bundle", "resource": json.loads(CASE.read_text())},
        {"name": "infusionDate", "valueDate": "yesterday"}]})
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome" and "infusionDate" in json.dumps(outcome)


def test_transform_unknown_is_a_400_outcome(base: str) -> None:
    response = post(base, "Bundle/$transform", {"resourceType": "Parameters", "parameter": [
        {"name": "transform", "valueCode": "to-r2"}, {"name": "bundle", "resource": json.loads(CASE.read_text())}]})
    assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"


def test_view_run_streams_csv_and_ndjson_over_http(base: str) -> None:
    source = json.loads(CASE.read_text())
    transaction = post(base, "Bundle/$transform", {"resourceType": "Parameters", "parameter": [
        {"name": "transform", "valueCode": "to-transaction"}, {"name": "bundle", "resource": source}]})
    requests.post(base, data=transaction.content, headers={"Content-Type": FHIR_JSON})
    patients = sum(1 for e in source["entry"] if e["resource"]["resourceType"] == "Patient")
    response = requests.post(f"{base}/ViewDefinition/$run", stream=True, headers={
        "Content-Type": FHIR_JSON, "Accept": "text/csv"}, data=json.dumps({"resourceType": "Parameters", "parameter": [
            {"name": "viewReference", "valueReference": {"reference": "ViewDefinition/patients"}}]}))
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0].startswith("patient,") and len(lines) >= 1 + patients
    ndjson = requests.post(f"{base}/ViewDefinition/$run?_format=ndjson", headers={"Content-Type": FHIR_JSON},
                           data=json.dumps({"resourceType": "Parameters", "parameter": [
                               {"name": "viewReference", "valueString": "lab-values"}]}))
    assert ndjson.status_code == 200 and all(json.loads(line)["patient"] for line in ndjson.text.splitlines())
    bad = requests.post(f"{base}/ViewDefinition/$run", headers={"Content-Type": FHIR_JSON},
                        data=json.dumps({"resourceType": "Parameters", "parameter": []}))
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
