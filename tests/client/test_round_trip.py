"""Round trips against the REAL server on loopback (Flask app, fresh SQLite file, werkzeug on 127.0.0.1):
every case Bundle in bundles/ is pushed, pulled back by its patient (`Patient/x/$everything`) or, for the
cohort, by a search with `_revinclude`, and its clinical content compared with the input; a second push
creates nothing new."""
from __future__ import annotations


import pytest

from fhir_service.client import FhirClient, FhirClientError, pull, push_bundle
from fhir_service.client.client import location_parts
from tests.client.clinical import differences, input_content, pulled_content, server_names
from tests.client.conftest import bundle_files, load_bundle

CASES = bundle_files()


def pull_back(client: FhirClient, root_type: str, root_id: str) -> list[dict]:
    query = f"Patient/{root_id}/$everything" if root_type == "Patient" else \
        f"{root_type}?_id={root_id}&_revinclude=Observation:subject"
    result = pull(client, [query])
    assert not result.errors, [str(e) for e in result.errors]
    return list(result.resources.values())


def test_there_are_cases_to_push() -> None:
    assert len(CASES) >= 6


def test_every_case_bundle_round_trips_and_a_second_push_creates_nothing(server_url: str) -> None:
    with FhirClient(server_url) as client:
        for path in CASES:
            bundle = load_bundle(path)
            first = push_bundle(client, bundle, source=path.name)
            assert first.ok, [first.summary(), *[f"{e.label}: {e.error}" for e in first.entries if not e.ok]]
            assert first.created == len(bundle["entry"])

            root = location_parts(first.entries[0].location)
            assert root is not None and root[0] in ("Patient", "Group")
            pulled = pull_back(client, root[0], root[1])
            diff = differences(input_content(bundle), pulled_content(pulled, server_names(first)))
            assert diff == [], f"{path.name}: {diff[:10]}"

            second = push_bundle(client, bundle, source=path.name)
            assert second.ok and second.created == 0, second.summary()
            assert [e.location for e in second.entries] == [e.location for e in first.entries], \
                "the second push moved or re-versioned a resource"
            again = pull_back(client, root[0], root[1])
            assert len(again) == len(pulled) and {r["meta"]["versionId"] for r in again} == {"1"}


def test_the_same_bundle_as_a_batch_also_round_trips(server_url: str) -> None:
    path = next(p for p in CASES if p.name.startswith("004-case3"))
    bundle = load_bundle(path)
    with FhirClient(server_url) as client:
        report = push_bundle(client, bundle, as_transaction=False, source=path.name)
        assert report.ok and report.sent_as == "batch", report.summary()
        root = location_parts(report.entries[0].location)
        pulled = pull_back(client, root[0], root[1])
        assert differences(input_content(bundle), pulled_content(pulled, server_names(report))) == []


def test_crud_interactions_against_the_real_server(server_url: str) -> None:
    with FhirClient(server_url) as client:
        assert client.capabilities()["fhirVersion"] == "4.0.1"
        created = client.create({"resourceType": "Patient", "gender": "female",
                                 "identifier": [{"system": "urn:test", "value": "1"}]})
        assert created.created and created.version_id == "1"
        again = client.conditional_create({"resourceType": "Patient"}, {"identifier": "urn:test|1"})
        assert again.status == 200 and again.id == created.id

        patient = client.read("Patient", created.id)
        updated = client.update({**patient, "gender": "male"}, if_match=created.version_id)
        assert updated.version_id == "2"
        with pytest.raises(FhirClientError) as stale:
            client.update({**patient, "gender": "other"}, if_match=created.version_id)
        assert stale.value.status == 412 and stale.value.issues
        assert client.vread("Patient", created.id, 1)["gender"] == "female"

        assert [p["id"] for p in client.search("Patient", {"identifier": "urn:test|1"})] == [created.id]
        client.delete("Patient", created.id)
        with pytest.raises(FhirClientError) as gone:
            client.read("Patient", created.id)
        assert gone.value.status in (404, 410) and gone.value.issues


def test_paging_against_the_real_server_reads_every_page(server_url: str) -> None:
    bundle = load_bundle(next(p for p in CASES if p.name.startswith("002-")))
    with FhirClient(server_url) as client:
        assert push_bundle(client, bundle).ok
        pages = list(client.pages("Observation", {"_count": "10"}))
        observations = [e["resource"] for page in pages for e in page.get("entry", [])]
        expected = sum(1 for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
        assert len(pages) > 1 and len(observations) == expected == len({o["id"] for o in observations})


def test_the_comparison_sees_a_lost_changed_or_invented_resource() -> None:
    bundle = load_bundle(next(p for p in CASES if p.name.startswith("004-case3")))
    expected = input_content(bundle)
    pulled = {k: dict(v) for k, v in expected.items()}
    lost = next(k for k in pulled if k.startswith("Observation/"))
    del pulled[lost]
    changed = next(k for k, v in pulled.items() if "valueQuantity" in v)
    value = pulled[changed]["valueQuantity"]["value"]
    pulled[changed] = {**pulled[changed], "valueQuantity": {**pulled[changed]["valueQuantity"],
                                                            "value": type(value)(f"{value}0") if not
                                                            isinstance(value, int) else value + 1}}
    pulled["Observation/invented"] = {"resourceType": "Observation"}
    diff = differences(expected, pulled)
    assert f"missing: {lost}" in diff and "unexpected: Observation/invented" in diff
    assert any(d.startswith(f"changed: {changed} at {changed}.valueQuantity.value") for d in diff)


def test_a_transaction_the_real_server_refuses_is_reported_on_the_entry_it_names(server_url: str) -> None:
    """Two Patients already share the case identifier: the conditional create is ambiguous (HTTP 412), the
    server rolls the whole transaction back and names the entry; the report says so on that input entry."""
    bundle = load_bundle(next(p for p in CASES if p.name.startswith("004-case3")))
    patient = bundle["entry"][0]["resource"]
    with FhirClient(server_url) as client:
        for _ in range(2):
            client.create({"resourceType": "Patient", "identifier": patient["identifier"]})
        report = push_bundle(client, bundle)
        assert not report.ok and report.error is not None and report.error.status == 412
        blamed = [e for e in report.entries if e.status is not None]
        assert [(e.index, e.resource_type, e.status) for e in blamed] == [(0, "Patient", 412)]
        assert all("nothing was written" in (e.error or "") for e in report.entries[1:])
        observation = next(e for e in report.entries if e.resource_type == "Observation")
        with pytest.raises(FhirClientError) as absent:
            client.read("Observation", observation.id or "")
        assert absent.value.status == 404
