"""Reading inputs (Bundles, resources, NDJSON) and writing tables (CSV, NDJSON, Parquet)."""
from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from fhir_service.transform.views import compile_view, run_view
from fhir_service.transform.views.model import output_columns
from fhir_service.transform.views.sources import NdjsonError, read_batch
from fhir_service.transform.views.writers import csv_cell, write_csv, write_ndjson, write_parquet

BUNDLE = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"fullUrl": "urn:uuid:a1", "resource": {"resourceType": "Patient", "id": "p1"}},
    {"fullUrl": "urn:uuid:b2", "resource": {"resourceType": "Observation", "id": "o1",
                                            "subject": {"reference": "urn:uuid:a1"}}},
    {"request": {"method": "DELETE", "url": "Patient/x"}},
]}


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_bundle_gives_its_entries_and_its_full_url_map(tmp_path: Path) -> None:
    batch, issues = read_batch(write(tmp_path, "b.json", json.dumps(BUNDLE)))
    assert issues == [] and batch is not None
    assert [r["id"] for r in batch.resources] == ["p1", "o1"]
    assert batch.reference_map == {"urn:uuid:a1": ("Patient", "p1"), "urn:uuid:b2": ("Observation", "o1")}


def test_the_map_lets_a_view_follow_urn_uuid_references(tmp_path: Path) -> None:
    batch, _ = read_batch(write(tmp_path, "b.json", json.dumps(BUNDLE)))
    view = {"resource": "Observation", "select": [{"column": [{"name": "p", "path": "subject.getReferenceKey()"}]}]}
    assert list(run_view(view, batch.resources, reference_map=batch.reference_map)) == [{"p": "Patient/p1"}]


def test_a_single_resource_file_is_one_resource(tmp_path: Path) -> None:
    batch, _ = read_batch(write(tmp_path, "p.json", '{"resourceType": "Patient", "id": "p9"}'))
    assert [r["id"] for r in batch.resources] == ["p9"]


def test_ndjson_streams_a_resource_per_line_and_names_a_bad_line(tmp_path: Path) -> None:
    good, _ = read_batch(write(tmp_path, "r.ndjson", '{"resourceType": "Patient", "id": "a"}\n\n'
                                                     '{"resourceType": "Patient", "id": "b"}\n'))
    assert [r["id"] for r in good.resources] == ["a", "b"]
    bad, _ = read_batch(write(tmp_path, "bad.ndjson", '{"resourceType": "Patient", "id": "a"}\n{oops\n'))
    resources = iter(bad.resources)
    assert next(resources)["id"] == "a"
    with pytest.raises(NdjsonError) as caught:
        next(resources)
    assert caught.value.issue.line == 2 and "line 2 is not JSON" in caught.value.issue.diagnostics


@pytest.mark.parametrize("text, words", [
    ("{not json", "not JSON"),
    ("[1, 2]", "expected a FHIR resource or Bundle"),
    ('{"id": "x"}', "expected a FHIR resource or Bundle"),
])
def test_unreadable_inputs_are_issues(tmp_path: Path, text: str, words: str) -> None:
    batch, issues = read_batch(write(tmp_path, "x.json", text))
    assert batch is None and words in issues[0].diagnostics


def test_a_missing_file_is_an_issue(tmp_path: Path) -> None:
    batch, issues = read_batch(str(tmp_path / "nope.json"))
    assert batch is None and issues[0].code == "not-found"


@pytest.mark.parametrize("value, text", [
    (None, ""), (True, "true"), (False, "false"), (0, "0"), (Decimal("0.950"), "0.950"), (1.5, "1.5"),
    ("a,b", "a,b"), (["x", "y"], '["x","y"]'), ({"code": "mg"}, '{"code":"mg"}'),
])
def test_csv_cells(value: object, text: str) -> None:
    assert csv_cell(value) == text


def test_csv_has_a_header_and_quotes_what_needs_it() -> None:
    out = io.StringIO()
    count = write_csv([{"a": "x,y", "b": None}, {"a": 'say "hi"', "b": True}], ["a", "b"], out)
    assert count == 2
    assert out.getvalue() == 'a,b\n"x,y",\n"say ""hi""",true\n'


def test_ndjson_writes_numbers_as_numbers() -> None:
    out = io.BytesIO()
    write_ndjson([{"v": Decimal("4.2"), "n": Decimal("5"), "l": ["a"], "z": None}], out)
    assert json.loads(out.getvalue()) == {"v": 4.2, "n": 5, "l": ["a"], "z": None}


def test_parquet_has_a_typed_schema(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    view = compile_view({"resource": "Patient", "select": [{"column": [
        {"name": "id", "path": "id", "type": "id"},
        {"name": "active", "path": "active", "type": "boolean"},
        {"name": "n", "path": "name.count()", "type": "integer"},
        {"name": "given", "path": "name.given", "type": "string", "collection": True}]}]})
    resources = [{"resourceType": "Patient", "id": "p1", "active": True, "name": [{"given": ["A", "B"]}]},
                 {"resourceType": "Patient", "id": "p2"}]
    target = tmp_path / "t.parquet"
    assert write_parquet(run_view(view, resources), output_columns(view.root), str(target)) == 2
    table = pq.read_table(target)
    assert [str(field.type) for field in table.schema] == ["string", "bool", "int64", "list<element: string>"]
    assert table.to_pylist() == [{"id": "p1", "active": True, "n": 1, "given": ["A", "B"]},
                                 {"id": "p2", "active": None, "n": 0, "given": []}]
