"""Search over the REST core: Bundles, links, paging, POST _search, _summary/_elements, $everything."""
from __future__ import annotations

import pytest

from tests.rest.conftest import BASE, Client


@pytest.fixture
def loaded(client: Client) -> Client:
    for i in range(5):
        assert client("PUT", f"/Patient/p{i}", {"resourceType": "Patient", "id": f"p{i}", "gender": "female",
                                         "name": [{"family": f"Fam{i}"}], "birthDate": f"198{i}-01-01",
                                         "text": {"status": "generated",
                                                  "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}}
               ).status == 201
    assert client("PUT", "/Observation/o1", {"resourceType": "Observation", "id": "o1", "status": "final",
                                      "code": {"text": "t"}, "subject": {"reference": "Patient/p1"},
                                      "performer": [{"reference": "Practitioner/dr"}]}).status == 201
    assert client("PUT", "/Practitioner/dr", {"resourceType": "Practitioner", "id": "dr"}).status == 201
    return client


def test_searchset_bundle_with_self_link_and_total(loaded: Client) -> None:
    bundle = loaded("GET", "/Patient?gender=female&_sort=-birthdate").body
    assert bundle["type"] == "searchset" and bundle["total"] == 5
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["p4", "p3", "p2", "p1", "p0"]
    assert bundle["entry"][0]["fullUrl"] == f"{BASE}/Patient/p4"
    assert bundle["entry"][0]["search"] == {"mode": "match"}
    self_link = bundle["link"][0]
    assert self_link["relation"] == "self" and self_link["url"].startswith(f"{BASE}/Patient?gender=female")


def test_paging_follows_next_links_with_a_cursor(loaded: Client) -> None:
    response = loaded("GET", "/Patient?_count=2&_sort=birthdate")
    ids, pages = [], 0
    while True:
        pages += 1
        bundle = response.body
        ids += [e["resource"]["id"] for e in bundle.get("entry", [])]
        nexts = [l["url"] for l in bundle["link"] if l["relation"] == "next"]
        if not nexts:
            break
        assert "_cursor=" in nexts[0] and "_count=2" in nexts[0]
        first = [l["url"] for l in bundle["link"] if l["relation"] == "first"]
        assert first and "_cursor" not in first[0]
        response = loaded("GET", nexts[0].removeprefix(BASE))
    assert ids == ["p0", "p1", "p2", "p3", "p4"] and pages == 3


def test_total_only_on_request_when_paged(loaded: Client) -> None:
    assert "total" not in loaded("GET", "/Patient?_count=2").body
    assert loaded("GET", "/Patient?_count=2&_total=accurate").body["total"] == 5


def test_post_search_uses_the_form_body(loaded: Client) -> None:
    response = loaded("POST", "/Patient/_search", "family=Fam3",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 200 and [e["resource"]["id"] for e in response.body["entry"]] == ["p3"]
    wrong = loaded("POST", "/Patient/_search", "family=Fam3", headers={"Content-Type": "application/fhir+json"})
    assert wrong.status == 415


def test_include_entries_are_marked(loaded: Client) -> None:
    bundle = loaded("GET", "/Observation?_id=o1&_include=Observation:subject&_include=Observation:performer").body
    modes = {e["resource"]["id"]: e["search"]["mode"] for e in bundle["entry"]}
    assert modes == {"o1": "match", "p1": "include", "dr": "include"} and bundle["total"] == 1
    rev = loaded("GET", "/Patient?_id=p1&_revinclude=Observation:subject").body
    assert {e["resource"]["id"] for e in rev["entry"]} == {"p1", "o1"}


def _cursor(values: list) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("query", ["birthdate=2020-13", "_count=-1", "_count=x", "_total=maybe",
                                   "_sort=nonsense", "gender:below=x", "_summary=some", "_cursor=zzz",
                                   f"_cursor={_cursor(['abc'])}", f"_sort=birthdate&_cursor={_cursor(['x', 1])}",
                                   f"_cursor={_cursor([2 ** 70])}", f"_cursor={_cursor([True])}"])
def test_bad_search_requests_are_400(loaded: Client, query: str) -> None:
    response = loaded("GET", f"/Patient?{query}")
    assert response.status == 400 and response.body["resourceType"] == "OperationOutcome"


def test_unknown_parameters_are_reported_or_rejected_when_strict(loaded: Client) -> None:
    lenient = loaded("GET", "/Patient?shoe=1").body
    assert lenient["total"] == 5 and lenient["entry"][-1]["search"]["mode"] == "outcome"
    strict = loaded("GET", "/Patient?shoe=1", headers={"Prefer": "handling=strict"})
    assert strict.status == 400


def test_summary_count_and_text(loaded: Client) -> None:
    counted = loaded("GET", "/Patient?_summary=count").body
    assert counted["total"] == 5 and "entry" not in counted
    summary = loaded("GET", "/Patient?_id=p1&_summary=true").body["entry"][0]["resource"]
    assert "text" not in summary and summary["birthDate"] == "1981-01-01"
    assert any(t["code"] == "SUBSETTED" for t in summary["meta"]["tag"])
    data = loaded("GET", "/Patient/p1?_summary=data").body
    assert "text" not in data and data["name"]
    elements = loaded("GET", "/Patient?_id=p1&_elements=gender").body["entry"][0]["resource"]
    assert elements["gender"] == "female" and "name" not in elements


def test_system_search_by_type(loaded: Client) -> None:
    bundle = loaded("GET", "/?_type=Patient,Observation").body
    assert bundle["total"] == 6


def test_patient_everything(loaded: Client) -> None:
    loaded("PUT", "/Organization/org", {"resourceType": "Organization", "id": "org"})
    loaded("PUT", "/Patient/p1", {"resourceType": "Patient", "id": "p1", "managingOrganization": {"reference": "Organization/org"}})
    loaded("PUT", "/Observation/o9", {"resourceType": "Observation", "id": "o9", "status": "final", "code": {"text": "t"},
                                      "subject": {"reference": "Patient/p1"}, "performer": [{"reference": "Practitioner/dr"}]})
    bundle = loaded("GET", "/Patient/p1/$everything").body
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert sorted(ids) == ["dr", "o1", "o9", "org", "p1"]  # each once: dr is referenced twice
    assert loaded("GET", "/Patient/none/$everything").status == 404


def test_compartment_search_by_get_and_post(loaded: Client) -> None:
    bundle = loaded("GET", "/Patient/p1/Observation").body
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["o1"]
    assert bundle["link"][0]["url"].startswith(f"{BASE}/Patient/p1/Observation")
    assert loaded("GET", "/Patient/p1/*").body["total"] == 1
    posted = loaded("POST", "/Patient/p1/Observation/_search", "_id=o1",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert posted.body["total"] == 1
    assert loaded("GET", "/Observation/o1/Patient").status == 400  # Observation is not a compartment


def test_include_iterate_follows_included_resources(loaded: Client) -> None:
    loaded("PUT", "/Encounter/e1", {"resourceType": "Encounter", "id": "e1", "status": "finished",
                                    "class": {"code": "IMP"}, "subject": {"reference": "Patient/p2"}})
    loaded("PUT", "/Observation/o2", {"resourceType": "Observation", "id": "o2", "status": "final",
                                      "code": {"text": "t"}, "encounter": {"reference": "Encounter/e1"}})
    once = loaded("GET", "/Observation?_id=o2&_include=Observation:encounter&_include=Encounter:subject").body
    assert {e["resource"]["id"] for e in once["entry"]} == {"o2", "e1"}
    iterated = loaded("GET", "/Observation?_id=o2&_include=Observation:encounter"
                             "&_include:iterate=Encounter:subject").body
    assert {e["resource"]["id"] for e in iterated["entry"]} == {"o2", "e1", "p2"}


def test_references_to_this_server_by_absolute_url(loaded: Client) -> None:
    assert loaded("GET", f"/Observation?subject={BASE}/Patient/p1").body["total"] == 1
    assert loaded("GET", "/Observation?subject=http://elsewhere/fhir/Patient/p1").body["total"] == 0
