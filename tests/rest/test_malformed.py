"""Malformed requests of every kind get a 4xx OperationOutcome, never a 500."""
from __future__ import annotations

import pytest

from tests.rest.conftest import Client

JSON = {"Content-Type": "application/fhir+json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

CASES = [
    ("POST", "/Patient", b"\xff\xfe\x00garbage", JSON),
    ("POST", "/Patient", b'{"resourceType": 5}', JSON),
    ("POST", "/Patient", b'{"resourceType": "Patient", "meta": "x"}', JSON),
    ("POST", "/Patient", b'{"resourceType": "Patient", "meta": {"profile": "not-a-list"}}', JSON),
    ("PUT", "/Patient/a", b'{"resourceType": "Patient", "id": 7}', JSON),
    ("PUT", "/Patient/a", b'{"resourceType": "Patient", "id": "a", "birthDate": {"nested": [1, 2]}}', JSON),
    ("POST", "", b'{"resourceType": "Bundle", "type": "transaction", "entry": "x"}', JSON),
    ("POST", "", b'{"resourceType": "Bundle", "type": "transaction", "entry": [5]}', JSON),
    ("POST", "", b'{"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"method": "PUT", '
                 b'"url": "Patient/a"}, "resource": "x"}]}', JSON),
    ("POST", "", b'{"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"method": "GET", '
                 b'"url": "Patient?birthdate=2020-99"}}]}', JSON),
    ("POST", "", b'{"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"method": "POST", '
                 b'"url": "Nothing"}, "resource": {"resourceType": "Nothing"}}]}', JSON),
    ("POST", "/Patient/$validate", b'{"resourceType": "Parameters", "parameter": "x"}', JSON),
    ("POST", "/Patient/_search", b"\xff=\xfe", FORM),
    ("GET", "/Patient?_sort=-", b"", {}),
    ("GET", "/Patient?_include=Patient", b"", {}),
    ("GET", "/Patient?_include=Nothing:x", b"", {}),
    ("GET", "/Patient?_has:Observation", b"", {}),
    ("GET", "/Patient?_has:Observation:subject", b"", {}),
    ("GET", "/Observation?subject.nothing=1", b"", {"Prefer": "handling=strict"}),
    ("GET", "/Observation?value-quantity=1|2|3|4", b"", {}),
    ("GET", "/Observation?value-quantity=1e999999", b"", {}),
    ("GET", "/Observation?value-quantity=gt", b"", {}),
    ("GET", "/Observation?subject=Patient/a/b/c", b"", {}),
    ("GET", "/Patient?identifier:of-type=a|b", b"", {}),
    ("GET", "/Patient?_lastUpdated:exact=2020", b"", {}),
    ("GET", "/Patient?birthdate=eq", b"", {}),
    ("GET", "/?_type=Nothing", b"", {}),
    ("GET", "/Patient/a/_history/99999999999999999999999", b"", {}),
    ("GET", "/Patient/../../etc/passwd", b"", {}),
    ("GET", "/Patient/a", b"", {"If-None-Match": "garbage"}),
    ("GET", "/_history?_since=yesterday", b"", {}),
    ("DELETE", "/Patient?", b"", {}),
    ("PUT", "/Patient?identifier=x", b"[]", JSON),
]


@pytest.mark.parametrize("method,path,body,headers", CASES)
def test_malformed_request_is_a_4xx_outcome(client: Client, method: str, path: str, body: bytes,
                                             headers: dict[str, str]) -> None:
    response = client(method, path, body, headers=headers)
    assert 400 <= response.status < 500, (response.status, response.body)
    if response.status >= 400:
        assert response.body["resourceType"] == "OperationOutcome"


def test_a_batch_reports_a_nested_batch_as_a_failed_entry(client: Client) -> None:
    body = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "POST", "url": ""}, "resource": {"resourceType": "Bundle", "type": "batch"}}]}
    response = client("POST", "", body)
    assert response.status == 200 and response.body["entry"][0]["response"]["status"].startswith("400")


@pytest.mark.parametrize("body", [
    "[" * 100000,
    '{"resourceType":"Patient","extension":[' + '{"url":"http://x","extension":[' * 300 + "]}" * 300 + "]}",
])
def test_deeply_nested_json_is_400(client: Client, body: str) -> None:
    response = client("POST", "/Patient", body, headers=JSON)
    assert response.status == 400 and response.body["resourceType"] == "OperationOutcome"


def test_random_requests_never_get_a_500(client: Client) -> None:
    """A seeded fuzz over resource shapes, transaction entries and search parameters/modifiers/values."""
    import json
    import random
    from urllib.parse import quote

    rng = random.Random(20261121)
    keys = ["gender", "birthDate", "name", "identifier", "telecom", "extension", "meta", "text", "valueQuantity",
            "code", "subject", "effectivePeriod", "component", "contained", "_birthDate", "multipleBirthInteger"]
    leaves = [None, True, 1, -1, 1.5, "x", "", "2020-13-01", "Patient/1", "urn:uuid:1", 10 ** 30, "a|b"]

    def value(depth: int = 0) -> object:
        roll = rng.random()
        if depth > 3 or roll < 0.3:
            return rng.choice(leaves)
        if roll < 0.6:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys + ["reference", "system", "value", "url", "start", "coding"]): value(depth + 1)
                for _ in range(rng.randint(0, 3))}

    params = ["_id", "_lastUpdated", "name", "birthdate", "identifier", "code", "value-quantity", "subject",
              "code-value-quantity", "_has:Observation:patient:code", "subject:Patient.name", "_sort", "_count",
              "_include", "_summary", "_cursor", "telecom"]
    modifiers = ["", ":missing", ":not", ":exact", ":text", ":of-type", ":in", ":identifier", ":Patient"]
    values = ["", "x", "gt1", "le2020-01", "ap2020", "a|b", "|b", "1||mg", "a$b$c", "a,b", "true", "Patient/1",
              "-birthdate", "Observation:subject", "1e999", "ge2020-01-01T10:00Z"]
    for number in range(300):
        kind = rng.choice(["Patient", "Observation"])
        resource = {"resourceType": kind, **{rng.choice(keys): value() for _ in range(rng.randint(0, 4))}}
        choice = rng.random()
        if choice < 0.3:
            query = "&".join(f"{quote(rng.choice(params) + rng.choice(modifiers))}={quote(rng.choice(values))}"
                             for _ in range(rng.randint(1, 3)))
            response = client("GET", f"/{kind}?{query}")
        elif choice < 0.6:
            response = client("PUT", f"/{kind}/f{number}", json.dumps({**resource, "id": f"f{number}"}), headers=JSON)
        else:
            entry = {"request": {"method": rng.choice(["POST", "PUT", "GET", "DELETE"]),
                                 "url": rng.choice([kind, f"{kind}/a", f"{kind}?_id=a", ""])},
                     "resource": resource, "fullUrl": rng.choice([None, "urn:uuid:1", "x"])}
            bundle = {"resourceType": "Bundle", "type": rng.choice(["transaction", "batch"]), "entry": [entry]}
            response = client("POST", "", json.dumps(bundle), headers=JSON)
        assert response.status < 500, (number, response.body)
