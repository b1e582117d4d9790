"""fhirpy writing to the server: create, update, delete round trip, seen again through reads and searches.

The resource written is a copy of a published Observation (case 3's ferritin above 70,000 ng/mL), so what
travels is report-faithful content; this module has its own server (module-scoped fixture), so the read
tests never see the copy.
"""
from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.clients import published as pub

fhirpy = pytest.importorskip("fhirpy", reason="fhirpy (test extra) is not installed")
from fhirpy.base.exceptions import ResourceNotFound  # noqa: E402

FERRITIN_70000 = "99f8d5cc-65c9-507d-975d-91068a2f543d"


@pytest.fixture(scope="module")
def client(base_url: str) -> Any:
    return fhirpy.SyncFHIRClient(base_url)


def published_copy() -> dict[str, Any]:
    body = pub.without_server_meta(copy.deepcopy(pub.by_id("Observation", FERRITIN_70000)))
    del body["id"]
    return body


def ferritin_ids(client: Any) -> set[str]:
    return pub.ids(client.resources("Observation").search(
        patient=pub.CASE3_PATIENT, code=f"{pub.LOINC}|{pub.FERRITIN}").fetch_all())


def test_create_update_delete_round_trip(client: Any) -> None:
    before = ferritin_ids(client)
    assert before == pub.ids(pub.with_code("Observation", pub.LOINC, pub.FERRITIN, pub.CASE3_PATIENT))

    observation = client.resource("Observation", **published_copy())
    observation.save()  # no id: POST
    new_id = observation["id"]
    assert new_id and new_id not in before and observation["meta"]["versionId"] == "1"
    read = client.reference("Observation", new_id).to_resource()
    assert read["valueQuantity"] == {"value": 70000, "comparator": ">", "unit": "ng/mL",
                                     "system": "http://unitsofmeasure.org", "code": "ng/mL"}
    assert read["subject"]["reference"] == f"Patient/{pub.CASE3_PATIENT}"
    assert ferritin_ids(client) == before | {new_id}

    read["status"] = "amended"
    read["note"] = [*read["note"], {"text": "Copy written by the fhirpy round-trip test."}]
    read.save()  # has an id: PUT
    assert read["meta"]["versionId"] == "2"
    again = client.reference("Observation", new_id).to_resource()
    assert again["status"] == "amended" and again["note"][-1]["text"].startswith("Copy written")
    assert again["meta"]["versionId"] == "2"
    amended = client.resources("Observation").search(status="amended", patient=pub.CASE3_PATIENT).fetch_all()
    assert pub.ids(amended) == {new_id}

    again.delete()
    with pytest.raises(ResourceNotFound):  # 410 Gone
        client.reference("Observation", new_id).to_resource()
    assert ferritin_ids(client) == before
    assert client.resources("Observation").search(status="amended").fetch() == []
