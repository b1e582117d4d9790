"""`POST [base]/ViewDefinition/$run`: the project's SQL-on-FHIR views over the preloaded case bundles, rows
compared with `run_view` over the same resources read from the bundle files (not from the store)."""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterator

import orjson
import pytest

from fhir_service.rest import FhirRest
from fhir_service.rest.loader import load_file
from fhir_service.store import fhirjson
from fhir_service.store.sql_repository import SqlRepository
from fhir_service.transform.views import run_view
from fhir_service.transform.views.catalog import project_views
from fhir_service.transform.views.sources import bundle_reference_map
from fhir_service.transform.views.writers import csv_cell, to_json_bytes
from tests.conftest import REPO

BUNDLES = sorted((REPO / "bundles").glob("*.json"))
JSON = {"Content-Type": "application/fhir+json"}


def resources() -> list[dict[str, Any]]:
    out = []
    for path in BUNDLES:
        out += [e["resource"] for e in fhirjson.loads(path.read_bytes()).get("entry", [])]
    return out


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirRest]:
    repo = SqlRepository(f"sqlite:///{tmp_path_factory.mktemp('views') / 'views.sqlite3'}")
    server = FhirRest(repo)
    assert all(load_file(server, path).ok for path in BUNDLES)
    yield server
    repo.close()


def run(rest: FhirRest, *parts: dict[str, Any], query: str = "") -> tuple[int, str, bytes]:
    body = json.dumps({"resourceType": "Parameters", "parameter": list(parts)})
    response = rest.handle("POST", "/ViewDefinition/$run", query, JSON, body)
    if response.stream is None:
        return response.status, "", orjson.dumps(response.body)
    return response.status, response.headers["Content-Type"], b"".join(response.stream)


def view_part(name: str) -> dict[str, Any]:
    return {"name": "viewResource", "resource": project_views()[name]}


def expected_rows(name: str) -> list[dict[str, Any]]:
    """The view over the bundle files, their urn:uuid references resolved through the fullUrls."""
    reference_map: dict[str, tuple[str, str]] = {}
    for path in BUNDLES:
        reference_map.update(bundle_reference_map(fhirjson.loads(path.read_bytes())))
    return list(run_view(project_views()[name], resources(), reference_map=reference_map))


@pytest.mark.parametrize("name", sorted(project_views()))
def test_every_project_view_gives_the_rows_of_the_bundles_as_ndjson(rest: FhirRest, name: str) -> None:
    status, content_type, data = run(rest, view_part(name), {"name": "_format", "valueCode": "ndjson"})
    assert status == 200 and content_type == "application/x-ndjson"
    rows = [orjson.loads(line) for line in data.splitlines()]
    expected = [orjson.loads(to_json_bytes(row)) for row in expected_rows(name)]
    assert expected, name
    key = lambda row: json.dumps(row, sort_keys=True)  # noqa: E731 - store order is not bundle order
    assert sorted(rows, key=key) == sorted(expected, key=key)


def test_csv_by_default_with_a_header(rest: FhirRest) -> None:
    status, content_type, data = run(rest, {"name": "viewReference", "valueReference": {"reference": "ViewDefinition/patients"}})
    assert status == 200 and content_type.startswith("text/csv")
    table = list(csv.reader(io.StringIO(data.decode())))
    names = [c["name"] for c in project_views()["patients"]["select"][0]["column"]]
    assert table[0] == names
    expected = sorted([csv_cell(row[n]) for n in names] for row in expected_rows("patients"))
    assert sorted(table[1:]) == expected


def test_json_is_one_array_and_limit_cuts_it(rest: FhirRest) -> None:
    status, content_type, data = run(rest, view_part("lab-values"), {"name": "_format", "valueCode": "json"},
                                     {"name": "_limit", "valueInteger": 3})
    assert status == 200 and content_type == "application/json"
    assert len(orjson.loads(data)) == 3
    status, _, data = run(rest, view_part("lab-values"), query="_format=json&_limit=0")
    assert status == 200 and orjson.loads(data) == []


def test_patient_restricts_rows_to_one_patient(rest: FhirRest) -> None:
    keys = [row["patient"] for row in expected_rows("lab-values")]
    key = max(set(keys), key=keys.count)
    patient = next(r for r in resources() if f"Patient/{r['id']}" == key)
    status, _, data = run(rest, view_part("lab-values"), {"name": "_format", "valueCode": "ndjson"},
                          {"name": "patient", "valueReference": {"reference": f"Patient/{patient['id']}"}})
    rows = [orjson.loads(line) for line in data.splitlines()]
    everyone = [r for r in expected_rows("lab-values")]
    assert status == 200 and len(rows) == keys.count(key) < len(everyone)
    assert {row["patient"] for row in rows} == {f"Patient/{patient['id']}"}
    status, _, data = run(rest, view_part("patients"), {"name": "_format", "valueCode": "ndjson"},
                          {"name": "patient", "valueString": patient["id"]})
    assert [orjson.loads(line)["patient"] for line in data.splitlines()] == [f"Patient/{patient['id']}"]


def test_results_span_several_store_pages(rest: FhirRest, monkeypatch: pytest.MonkeyPatch) -> None:
    from fhir_service.rest import view_run

    monkeypatch.setattr(view_run, "PAGE", 7)  # keyset paging: every row once across pages
    status, _, data = run(rest, view_part("lab-values"), {"name": "_format", "valueCode": "ndjson"})
    assert status == 200 and len(data.splitlines()) == len(expected_rows("lab-values")) > 7


@pytest.mark.parametrize("parts,status,named", [
    ([], 400, "viewResource"),
    ([{"name": "viewResource", "resource": {"resourceType": "ViewDefinition", "resource": "Patient"}}], 400, "select"),
    ([{"name": "viewResource", "resource": {"resourceType": "Patient"}}], 400, "viewResource"),
    ([{"name": "viewReference", "valueString": "no-such-view"}], 404, "viewReference"),
    ([{"name": "viewReference", "valueString": "patients"}, {"name": "_format", "valueCode": "xlsx"}], 400, "_format"),
    ([{"name": "viewReference", "valueString": "patients"}, {"name": "_limit", "valueString": "-1"}], 400, "_limit"),
    ([{"name": "viewReference", "valueString": "patients"}, {"name": "patient", "valueString": "Group/1"}], 400, "patient"),
    ([{"name": "viewReference", "valueString": "patients"}, {"name": "colour", "valueString": "red"}], 400, "colour"),
])
def test_bad_parameters_are_outcomes(rest: FhirRest, parts: list[dict[str, Any]], status: int, named: str) -> None:
    got, _, data = run(rest, *parts)
    outcome = orjson.loads(data)
    assert got == status and outcome["resourceType"] == "OperationOutcome"
    assert named in data.decode()


def test_the_capability_statement_lists_run(rest: FhirRest) -> None:
    statement = rest.handle("GET", "/metadata").body
    assert "run" in [op["name"] for op in statement["rest"][0]["operation"]]


def test_accept_chooses_the_format_when_format_is_not_given(rest: FhirRest) -> None:
    body = json.dumps({"resourceType": "Parameters", "parameter": [view_part("patients")]})
    response = rest.handle("POST", "/ViewDefinition/$run", "", {**JSON, "Accept": "application/x-ndjson"}, body)
    assert response.headers["Content-Type"] == "application/x-ndjson"
    rows = [orjson.loads(line) for line in b"".join(response.stream or []).splitlines()]
    assert len(rows) == len(expected_rows("patients"))
    status, _, data = run(rest, view_part("patients"), {"name": "header", "valueBoolean": False})
    assert status == 200 and len(data.decode().splitlines()) == len(expected_rows("patients"))
