"""export_store: the store as `<ResourceType>.ndjson` files plus a Bulk Data manifest."""
from __future__ import annotations

import json
import time
from decimal import Decimal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fhir_service.store import fhirjson
from fhir_service.store.repository import SearchQuery
from fhir_service.transform.bulk import MANIFEST_NAME, ExportError, export_store
from fhir_service.transform.bulk.manifest import is_instant
from tests.transform.bulk.conftest import LoadedExport, StoreFactory, all_current


def read_ndjson(path: Path) -> list[dict[str, Any]]:
    return [fhirjson.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def exported(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path in folder.glob("*.ndjson"):
        for resource in read_ndjson(path):
            out[(resource["resourceType"], resource["id"])] = resource
    return out


# -- layout and manifest -------------------------------------------------------------------------------------

def test_one_file_per_type_holding_every_current_resource(loaded_export: LoadedExport) -> None:
    store = all_current(loaded_export.repo)
    types = Counter(t for t, _ in store)
    assert sorted(p.name for p in loaded_export.folder.glob("*.ndjson")) == sorted(f"{t}.ndjson" for t in types)
    for path in loaded_export.folder.glob("*.ndjson"):
        assert {r["resourceType"] for r in read_ndjson(path)} == {path.name.removesuffix(".ndjson")}
    assert exported(loaded_export.folder) == store


def test_manifest_has_the_shape_of_the_bulk_data_complete_status(loaded_export: LoadedExport) -> None:
    manifest = json.loads((loaded_export.folder / MANIFEST_NAME).read_text())
    assert set(manifest) == {"transactionTime", "request", "requiresAccessToken", "output", "error"}
    assert is_instant(manifest["transactionTime"])
    assert manifest["request"] == "$export"
    assert manifest["requiresAccessToken"] is False
    assert manifest["error"] == []
    assert [o["type"] for o in manifest["output"]] == sorted(o["type"] for o in manifest["output"])
    for output in manifest["output"]:
        assert set(output) == {"type", "url", "count"}
        assert output["url"] == f"{output['type']}.ndjson"  # relative to the manifest
        assert output["count"] == len(read_ndjson(loaded_export.folder / output["url"]))
    assert manifest == loaded_export.manifest.as_json()


def test_lines_are_compact_utf8_json_ending_in_newline(loaded_export: LoadedExport) -> None:
    for path in loaded_export.folder.glob("*.ndjson"):
        data = path.read_bytes()
        assert data.endswith(b"\n") and not data.endswith(b"\n\n")
        for line in data.split(b"\n")[:-1]:
            assert line == fhirjson.dumps(fhirjson.loads(line))  # compact: no padding, no indentation


def test_text_and_decimals_are_written_as_stored(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    repo.update({"resourceType": "Patient", "id": "zoe", "name": [{"given": ["Zoë"], "family": "Ångström"}]})
    repo.update({"resourceType": "Observation", "id": "crp", "status": "final", "code": {"text": "CRP"},
                 "valueQuantity": {"value": Decimal("1.50"),
                                   "unit": "mg/dL"}})
    export_store(repo, tmp_path / "out")
    assert "Zoë".encode() in (tmp_path / "out" / "Patient.ndjson").read_bytes()  # UTF-8, not \u escapes
    assert b'"value":1.50' in (tmp_path / "out" / "Observation.ndjson").read_bytes()  # precision kept


# -- current versions only -------------------------------------------------------------------------------------

def test_only_current_versions_and_no_deleted_resources(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    repo.update({"resourceType": "Patient", "id": "a", "gender": "female"})
    repo.update({"resourceType": "Patient", "id": "a", "gender": "male"})  # version 2
    repo.update({"resourceType": "Patient", "id": "gone", "gender": "male"})
    repo.delete("Patient", "gone")
    manifest = export_store(repo, tmp_path / "out")
    lines = read_ndjson(tmp_path / "out" / "Patient.ndjson")
    assert [(r["id"], r["gender"], r["meta"]["versionId"]) for r in lines] == [("a", "male", "2")]
    assert manifest.as_json()["output"] == [{"type": "Patient", "url": "Patient.ndjson", "count": 1}]


def test_an_empty_store_gives_an_empty_output(new_store: StoreFactory, tmp_path: Path) -> None:
    manifest = export_store(new_store(), tmp_path / "out")
    assert manifest.as_json()["output"] == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [MANIFEST_NAME]


# -- paging ---------------------------------------------------------------------------------------------------------

class CountingRepository:
    """Passes calls through and records the searches (to see the export page with cursors)."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo
        self.queries: list[SearchQuery] = []
        self.resource_types = repo.resource_types

    def search(self, query: SearchQuery) -> Any:
        self.queries.append(query)
        return self.repo.search(query)


def test_small_pages_give_the_same_files_through_keyset_cursors(loaded_export: LoadedExport,
                                                               tmp_path: Path) -> None:
    spy = CountingRepository(loaded_export.repo)
    export_store(spy, tmp_path / "paged", page_size=7)
    total = loaded_export.manifest.total
    assert len(spy.queries) == -(-total // 7)  # ceil: the store knows when a full page is the last one
    assert spy.queries[0].cursor is None and all(q.cursor for q in spy.queries[1:])
    assert all(q.count == 7 for q in spy.queries)
    for output in loaded_export.manifest.output:
        assert (tmp_path / "paged" / output.url).read_bytes() == (loaded_export.folder / output.url).read_bytes()


# -- _type and _since ---------------------------------------------------------------------------------------------

def test_type_filter_exports_only_the_listed_types(loaded_export: LoadedExport, tmp_path: Path) -> None:
    manifest = export_store(loaded_export.repo, tmp_path / "out", types=["Patient", "Group"])
    assert [o.type for o in manifest.output] == ["Group", "Patient"]
    assert manifest.request == "$export?_type=Group,Patient"
    assert sorted(p.name for p in (tmp_path / "out").glob("*.ndjson")) == ["Group.ndjson", "Patient.ndjson"]
    store = all_current(loaded_export.repo)
    assert exported(tmp_path / "out") == {k: v for k, v in store.items() if k[0] in ("Patient", "Group")}


def test_type_filter_with_a_type_the_store_has_none_of_gives_no_file(loaded_export: LoadedExport,
                                                                     tmp_path: Path) -> None:
    manifest = export_store(loaded_export.repo, tmp_path / "out", types=["Device"])
    assert manifest.output == [] and not list((tmp_path / "out").glob("*.ndjson"))


@pytest.mark.parametrize("types", [["Patient", "Nonsense"], ["patient"], [""]])
def test_type_filter_rejects_unknown_types_before_writing(loaded_export: LoadedExport, tmp_path: Path,
                                                          types: list[str]) -> None:
    with pytest.raises(ExportError, match="_type"):
        export_store(loaded_export.repo, tmp_path / "out", types=types)
    assert not (tmp_path / "out").exists()


def test_since_exports_only_resources_updated_at_or_after_it(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    repo.update({"resourceType": "Patient", "id": "old", "gender": "male"})
    repo.update({"resourceType": "Observation", "id": "old-obs", "status": "final", "code": {"text": "x"}})
    time.sleep(0.002)
    first = export_store(repo, tmp_path / "full")
    time.sleep(0.002)
    repo.update({"resourceType": "Patient", "id": "new", "gender": "female"})
    repo.update({"resourceType": "Patient", "id": "old", "gender": "female"})  # changed after the first export
    manifest = export_store(repo, tmp_path / "since", since=first.transaction_time)
    assert manifest.request == f"$export?_since={first.transaction_time}"
    assert sorted(k for k in exported(tmp_path / "since")) == [("Patient", "new"), ("Patient", "old")]
    # _since names the instant inclusively: a resource stamped exactly then is included
    stamp = repo.read("Patient", "new").last_updated
    assert ("Patient", "new") in exported_to(repo, tmp_path / "exact", since=stamp)


def exported_to(repo: Any, folder: Path, **kwargs: Any) -> dict[tuple[str, str], dict[str, Any]]:
    export_store(repo, folder, **kwargs)
    return exported(folder)


def test_since_and_type_combine(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    start = repo.update({"resourceType": "Patient", "id": "p", "gender": "male"})[0].last_updated
    repo.update({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"}})
    assert sorted(exported_to(repo, tmp_path / "a", since=start, types=["Observation"])) == [("Observation", "o")]


@pytest.mark.parametrize("since", ["2024", "2024-01-01", "2024-01-01T10:00:00", "2024-01-01T10:00Z",
                                   "2024-01-01 10:00:00Z", "yesterday"])
def test_since_must_be_a_fhir_instant(loaded_export: LoadedExport, tmp_path: Path, since: str) -> None:
    with pytest.raises(ExportError, match="_since"):
        export_store(loaded_export.repo, tmp_path / "out", since=since)


def test_since_with_offset_time_zone(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    repo.update({"resourceType": "Patient", "id": "p"})
    assert exported_to(repo, tmp_path / "past", since="2000-01-01T02:00:00+02:00")
    assert not exported_to(repo, tmp_path / "future", since="2999-01-01T00:00:00+02:00")


# -- the output folder -------------------------------------------------------------------------------------------------

def test_a_folder_holding_an_export_is_refused_unless_overwritten(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    repo.update({"resourceType": "Patient", "id": "p"})
    repo.update({"resourceType": "Group", "id": "g", "type": "person", "actual": True})
    export_store(repo, tmp_path / "out")
    with pytest.raises(ExportError, match="already holds an export"):
        export_store(repo, tmp_path / "out")
    repo.delete("Group", "g")
    (tmp_path / "out" / "notes.txt").write_text("kept")
    export_store(repo, tmp_path / "out", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["Patient.ndjson", MANIFEST_NAME, "notes.txt"]


def test_no_partial_files_are_left_when_the_store_fails(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    for i in range(5):
        repo.update({"resourceType": "Patient", "id": f"p{i}"})

    class FailingSecondPage(CountingRepository):
        def search(self, query: SearchQuery) -> Any:
            if query.cursor:
                raise RuntimeError("connection lost")
            return super().search(query)

    with pytest.raises(RuntimeError):
        export_store(FailingSecondPage(repo), tmp_path / "out", page_size=2)
    assert list((tmp_path / "out").iterdir()) == []
