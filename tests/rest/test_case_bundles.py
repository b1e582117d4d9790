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
    # the bundles are part of the project: a broken path must fail here, not skip every test green
    assert BUNDLES, f"no case bundles found in {REPO / 'bundles'}"
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
        found = {e["resource"]["id"] for e in everything_pages(rest, patient["id"], 1000)[0]}
        assert patient["id"] in found and referring <= found


def everything_pages(rest: FhirRest, patient_id: str, count: int) -> tuple[list[dict[str, Any]], int]:
    """Every entry of `Patient/[id]/$everything?_count=count`, following next links; and the page count."""
    entries: list[dict[str, Any]] = []
    query, pages = f"_count={count}", 0
    while True:
        bundle = rest.handle("GET", f"/Patient/{patient_id}/$everything", query).body
        pages += 1
        entries += bundle.get("entry", [])
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            return entries, pages
        query = following[0].split("?", 1)[1]


def test_everything_pages_with_cursors_give_each_member_once(rest: FhirRest) -> None:
    for patient in [r for r in resources() if r["resourceType"] == "Patient"]:
        whole, pages = everything_pages(rest, patient["id"], 1000)
        assert pages == 1 and whole[0]["resource"]["id"] == patient["id"]
        paged, pages = everything_pages(rest, patient["id"], 7)
        ids = [e["resource"]["resourceType"] + "/" + e["resource"]["id"] for e in paged]
        assert len(ids) == len(set(ids)) and sorted(ids) == sorted(
            e["resource"]["resourceType"] + "/" + e["resource"]["id"] for e in whole)
        assert pages == -(-len(whole) // 7) and paged[0]["resource"]["id"] == patient["id"]


def test_everything_page_links_and_totals(rest: FhirRest) -> None:
    patient = next(r for r in resources() if r["resourceType"] == "Patient")
    first = rest.handle("GET", f"/Patient/{patient['id']}/$everything", "_count=3").body
    assert "total" not in first and len(first["entry"]) == 3
    assert {link["relation"] for link in first["link"]} == {"self", "first", "next"}
    small = rest.handle("GET", f"/Patient/{patient['id']}/$everything", "_count=1000").body
    assert small["total"] == len(small["entry"])
    bad = rest.handle("GET", f"/Patient/{patient['id']}/$everything", "_cursor=%%%")
    assert bad.status == 400 and bad.body["resourceType"] == "OperationOutcome"
    assert rest.handle("GET", f"/Patient/{patient['id']}/$everything", "_count=x").status == 400
