"""The project's own case bundles through the server: loaded as `serve` preloads them, then searched with
the project's SearchParameters. Expected sets are computed from the bundle JSON directly (not by the
engine the store uses)."""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from fhir_service.rest import FhirRest
from fhir_service.rest.loader import load_file
from fhir_service.store.sql_repository import SqlRepository
from tests.conftest import REPO

CART_TOX = "https://fhir.cart-tox.org/CodeSystem/cart-tox"
RELATIVE_DAY = "https://fhir.cart-tox.org/StructureDefinition/relative-day"
GRADE_CODES = {"crs-grade-astct", "icans-grade-astct", "iec-hs-grade", "crs-grade", "icans-grade"}
BUNDLES = sorted((REPO / "bundles").glob("*.json"))


def resources() -> list[dict[str, Any]]:
    out = []
    for path in BUNDLES:
        out += [e["resource"] for e in json.loads(path.read_text()).get("entry", [])]
    return out


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirRest]:
    if not BUNDLES:
        pytest.skip("no bundles/ yet")
    repo = SqlRepository(f"sqlite:///{tmp_path_factory.mktemp('cases') / 'cases.sqlite3'}")
    server = FhirRest(repo)
    results = [load_file(server, path) for path in BUNDLES]
    assert all(r.ok for r in results), [r.summary() for r in results if not r.ok]
    yield server
    repo.close()


def search_ids(rest: FhirRest, resource_type: str, query: str) -> set[str]:
    response = rest.handle("GET", f"/{resource_type}", f"{query}&_count=1000")
    assert response.status == 200, response.body
    return {e["resource"]["id"] for e in response.body.get("entry", []) if e["search"]["mode"] == "match"}


def test_every_resource_is_stored_once(rest: FhirRest) -> None:
    by_type: dict[str, set[str]] = {}
    for resource in resources():
        by_type.setdefault(resource["resourceType"], set()).add(resource["id"])
    for resource_type, ids in by_type.items():
        assert search_ids(rest, resource_type, "_total=accurate") == ids


def test_grade_search(rest: FhirRest) -> None:
    expected = {r["id"] for r in resources()
                if r["resourceType"] == "Observation" and isinstance(r.get("valueInteger"), int)
                and r["valueInteger"] >= 3
                and any(c.get("system") == CART_TOX and c.get("code") in GRADE_CODES
                        for c in r.get("code", {}).get("coding", []))}
    assert expected and search_ids(rest, "Observation", "grade=ge3") == expected


@pytest.mark.parametrize("resource_type", ["Observation", "Condition", "MedicationAdministration"])
def test_relative_day_search(rest: FhirRest, resource_type: str) -> None:
    def day(resource: dict[str, Any]) -> int | None:
        for extension in resource.get("extension", []):
            if extension.get("url") == RELATIVE_DAY and "valueInteger" in extension:
                return extension["valueInteger"]
        return None

    expected = {r["id"] for r in resources() if r["resourceType"] == resource_type and (day(r) or -999) >= 7}
    assert expected and search_ids(rest, resource_type, "relative-day=ge7") == expected


def test_patient_everything_holds_what_references_the_patient(rest: FhirRest) -> None:
    for patient in [r for r in resources() if r["resourceType"] == "Patient"]:
        reference = f"Patient/{patient['id']}"
        referring = {r["id"] for r in resources() if reference in json.dumps(r) and r["id"] != patient["id"]}
        bundle = rest.handle("GET", f"/Patient/{patient['id']}/$everything").body
        found = {e["resource"]["id"] for e in bundle["entry"]}
        assert patient["id"] in found and referring <= found
