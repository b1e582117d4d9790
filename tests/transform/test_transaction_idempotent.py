"""Every case bundle, as a transaction, loads twice without duplicates on a server that assigns its own ids.

The rule under test: identity rides on the business identifier (a conditional create, `ifNoneExist`), never on
the client's id (a `PUT Type/id`, which HAPI with default settings and most EHRs refuse). So the transaction
carries no PUT and no id, the server names every resource itself, the second load creates nothing, and a
fresh-ids copy (suffixed identifiers) loads as a second, distinct set of resources.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from fhir_service.rest import FhirRest
from fhir_service.store.sql_repository import SqlRepository
from fhir_service.transform.fresh_ids import refresh, suffix_of
from fhir_service.transform.references import references_in
from fhir_service.transform.transaction import transform
from tests.transform.conftest import CASE_NAMES, case_bundle

HEADERS = {"Content-Type": "application/fhir+json"}
RESOURCE_IDENTIFIER = "https://fhir.cart-tox.org/case-resource"


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[FhirRest]:
    repo = SqlRepository(f"sqlite:///{tmp_path / 'fhir.sqlite3'}")
    try:
        yield FhirRest(repo)
    finally:
        repo.close()


def type_counts(bundle: dict[str, Any]) -> Counter[str]:
    return Counter(e["resource"]["resourceType"] for e in bundle["entry"])


def stored_counts(rest: FhirRest, types: set[str]) -> Counter[str]:
    return Counter({t: rest.handle("GET", f"/{t}", "_summary=count", {}, b"").body["total"] for t in types})


def load(rest: FhirRest, transaction: dict[str, Any]) -> list[str]:
    """POST the transaction; the status line of each entry's response."""
    response = rest.handle("POST", "", "", HEADERS, json.dumps(transaction).encode())
    assert response.status == 200, response.body
    return [e["response"]["status"] for e in response.body["entry"]]


def stored(rest: FhirRest, resource_type: str) -> list[dict[str, Any]]:
    body = rest.handle("GET", f"/{resource_type}", "_count=1000", {}, b"").body
    return [e["resource"] for e in body.get("entry", [])]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_entry_is_a_conditional_create_on_its_identifier(name: str) -> None:
    case = case_bundle(name)
    result = transform(case)
    assert result.ok and not [i for i in result.issues if i.severity == "warning"], result.issues
    for before, after in zip(case["entry"], result.bundle["entry"]):
        request = after["request"]
        assert request["method"] == "POST" and request["url"] == before["resource"]["resourceType"]
        assert request["ifNoneExist"].startswith("identifier=https://fhir.cart-tox.org/case")
        assert "id" not in after["resource"]  # the server names it


def test_without_identifiers_the_fallback_is_put_by_id() -> None:
    """The failing side of the rule: strip the identifiers and identity falls back on the client's ids."""
    case = case_bundle("004-case3-cd22-etoposide")
    for entry in case["entry"]:
        entry["resource"].pop("identifier", None)
    requests = [e["request"] for e in transform(case).bundle["entry"]]
    assert all(r["method"] == "PUT" for r in requests)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_loading_twice_creates_nothing_new_and_a_fresh_copy_doubles(rest: FhirRest, name: str) -> None:
    case = case_bundle(name)
    expected = type_counts(case)
    types = set(expected)
    transaction = transform(case).bundle

    assert all(status.startswith("201") for status in load(rest, transaction))
    assert stored_counts(rest, types) == expected
    # the server assigned every id: none of the bundle's ids was used
    bundle_ids = {e["resource"]["id"] for e in case["entry"]}
    stored_resources = [r for t in sorted(types) for r in stored(rest, t)]
    assert len(stored_resources) == len(case["entry"])
    assert not {r["id"] for r in stored_resources} & bundle_ids
    # every reference was resolved to a stored resource
    stored_names = {f"{r['resourceType']}/{r['id']}" for r in stored_resources}
    for resource in stored_resources:
        assert set(references_in(resource)) <= stored_names, resource["resourceType"]

    assert not any(status.startswith("201") for status in load(rest, transaction))
    assert stored_counts(rest, types) == expected

    copy = transform(refresh(case, "second load")).bundle
    assert all(status.startswith("201") for status in load(rest, copy))
    assert stored_counts(rest, types) == Counter({t: 2 * n for t, n in expected.items()})
    assert not any(status.startswith("201") for status in load(rest, copy))
    assert stored_counts(rest, types) == Counter({t: 2 * n for t, n in expected.items()})


@pytest.mark.parametrize("name", CASE_NAMES)
def test_fresh_ids_suffix_every_resource_identifier_once(name: str) -> None:
    case = case_bundle(name)
    copy = refresh(case, "seed")
    suffix = suffix_of("seed")
    for before, after in zip(case["entry"], copy["entry"]):
        old = [i["value"] for i in before["resource"]["identifier"]]
        new = [i["value"] for i in after["resource"]["identifier"]]
        assert new == [value + suffix for value in old]
    assert copy["identifier"]["value"] == case["identifier"]["value"] + suffix
