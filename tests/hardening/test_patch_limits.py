"""Review item 1: a JSON Patch is request input, so its cost is bounded (operations, size, depth).

A `copy` of a list into itself doubles the document at every step; before the bound, thirty such operations
in a 2 KB request asked for gigabytes. The patch interaction now answers 422 with an OperationOutcome at
once, and leaves the stored resource unchanged.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest

from fhir_service.rest import FhirRest
from fhir_service.rest.json_patch import MAX_OPERATIONS, PatchTooLarge, apply_patch
from fhir_service.store.sql_repository import SqlRepository

BASE = "http://test/fhir"
PATCH_HEADERS = {"Content-Type": "application/json-patch+json"}
SEED = [{"op": "add", "path": "/extension", "value": [{"url": "http://x", "valueString": "a" * 100}]}]
DOUBLING = {"op": "copy", "from": "/extension", "path": "/extension/-"}


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[FhirRest]:
    repo = SqlRepository(f"sqlite:///{tmp_path / 'fhir.sqlite3'}")
    yield FhirRest(repo)
    repo.close()


def _patient(rest: FhirRest) -> str:
    created = rest.handle("POST", "/Patient", "", {"Content-Type": "application/fhir+json"},
                          b'{"resourceType":"Patient"}', base=BASE)
    assert created.status == 201
    return created.body["id"]


def _patch(rest: FhirRest, pid: str, operations: list) -> object:
    return rest.handle("PATCH", f"/Patient/{pid}", "", PATCH_HEADERS, json.dumps(operations).encode(), base=BASE)


def test_self_copy_chain_is_refused_quickly_and_leaves_the_resource(rest: FhirRest) -> None:
    pid = _patient(rest)
    started = time.monotonic()
    answer = _patch(rest, pid, SEED + [DOUBLING] * 40)  # unbounded: 2^40 copies of a 100-byte extension
    assert time.monotonic() - started < 10  # bounded work, not a hang (the limit is what is tested below)
    assert answer.status == 422
    assert answer.body["resourceType"] == "OperationOutcome"
    assert "exceed" in answer.body["issue"][0]["diagnostics"]
    assert rest.handle("GET", f"/Patient/{pid}", "", {}, b"", base=BASE).body.get("extension") is None


def test_ordinary_copies_are_still_applied(rest: FhirRest) -> None:
    pid = _patient(rest)
    answer = _patch(rest, pid, SEED + [{"op": "copy", "from": "/extension/0", "path": "/extension/-"}] * 50)
    assert answer.status == 200 and len(answer.body["extension"]) == 51


def test_too_many_operations_are_refused(rest: FhirRest) -> None:
    pid = _patient(rest)
    test_op = {"op": "test", "path": "/resourceType", "value": "Patient"}
    assert _patch(rest, pid, [test_op] * MAX_OPERATIONS).status == 200
    answer = _patch(rest, pid, [test_op] * (MAX_OPERATIONS + 1))
    assert answer.status == 422 and "at most" in answer.body["issue"][0]["diagnostics"]


def test_size_bound_follows_the_limit_given() -> None:
    document = {"resourceType": "Patient", "extension": [{"url": "http://x", "valueString": "a" * 100}]}
    assert len(json.dumps(apply_patch(document, [DOUBLING] * 5, max_bytes=10_000))) > 32 * 100
    with pytest.raises(PatchTooLarge):
        apply_patch(document, [DOUBLING] * 7, max_bytes=10_000)


def test_nesting_a_container_in_itself_is_bounded_in_depth() -> None:
    document = {"resourceType": "Patient", "contained": [{"resourceType": "Basic", "x": {"y": {}}}]}
    chain = [{"op": "copy", "from": "/contained", "path": "/contained/0/x/y/c"}]
    with pytest.raises(PatchTooLarge, match="levels deep"):
        apply_patch(document, chain * 200)
