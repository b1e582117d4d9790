"""A search too large to plan is a 400 with an OperationOutcome, never a database error turned into a 500."""
from __future__ import annotations

from tests.rest.conftest import Client

PATIENT = {"resourceType": "Patient", "name": [{"family": "Chalmers"}]}


def test_many_or_values_are_refused_with_400_and_a_reasonable_number_is_searched(client: Client) -> None:
    client("POST", "/Patient", PATIENT)
    found = client("GET", "/Patient", query="name=" + ",".join(["zz"] * 150 + ["Chalmers"]))
    assert found.status == 200 and len(found.body["entry"]) == 1
    refused = client("GET", "/Patient", query="name=" + ",".join(["aaa"] * 3000))
    assert refused.status == 400
    assert refused.body["resourceType"] == "OperationOutcome"
    assert refused.body["issue"][0]["code"] == "too-costly" and "at most 200 values" in refused.body["issue"][0][
        "diagnostics"]


def test_many_criteria_are_refused_with_400(client: Client) -> None:
    refused = client("GET", "/Patient", query="&".join(["name=aaa"] * 1000))
    assert refused.status == 400 and refused.body["issue"][0]["code"] == "too-costly"
    assert client("GET", "/Patient", query="&".join(["name=Chalmers"] * 10)).status == 200
