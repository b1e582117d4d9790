"""import_ndjson: NDJSON lines upserted by id, batched, idempotent, bad lines reported with file and line."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from fhir_service.store import fhirjson
from fhir_service.store.repository import SearchQuery
from fhir_service.transform.bulk import MANIFEST_NAME, SourceError, export_store, import_ndjson
from tests.transform.bulk.conftest import LoadedExport, StoreFactory, all_current, without_version_meta


def write_lines(path: Path, *lines: Any) -> Path:
    """Each item a resource (dumped compactly) or raw text/bytes written as it is; one per line."""
    out = bytearray()
    for line in lines:
        if isinstance(line, dict):
            out += fhirjson.dumps(line)
        elif isinstance(line, str):
            out += line.encode("utf-8")
        else:
            out += line
        out += b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path


def versions(repo: Any) -> int:
    """How many versions the store holds in all (history grows with every write)."""
    count, cursor = 0, None
    while True:
        page, cursor = repo.history(count=1000, cursor=cursor)
        count += len(page)
        if not cursor:
            return count


def errors(report: Any) -> list[tuple[str, int | None, str]]:
    return [(Path(i.file).name, i.issue.line, i.issue.code) for i in report.issues if i.issue.is_error]


def warnings(report: Any) -> list[tuple[str, int | None, str]]:
    return [(Path(i.file).name, i.issue.line, i.issue.code) for i in report.issues if i.issue.severity == "warning"]


# -- round trip and idempotence ------------------------------------------------------------------------------------

def test_the_exported_cases_come_back_the_same_in_a_fresh_store(case_export: LoadedExport,
                                                               new_store: StoreFactory) -> None:
    target = new_store()
    report = import_ndjson(target, case_export.folder)
    source = all_current(case_export.repo)
    assert len(source) == case_export.manifest.total > 200
    assert report.ok and report.issues == []
    assert (report.created, report.updated, report.unchanged) == (len(source), 0, 0)
    back = all_current(target)
    assert {k: without_version_meta(v) for k, v in back.items()} == \
        {k: without_version_meta(v) for k, v in source.items()}


def test_importing_twice_changes_nothing(case_export: LoadedExport, new_store: StoreFactory) -> None:
    target = new_store()
    import_ndjson(target, case_export.folder)
    before_versions, before = versions(target), all_current(target)
    again = import_ndjson(target, case_export.folder)
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, len(before))
    assert versions(target) == before_versions  # no new version anywhere
    assert all_current(target) == before  # not even lastUpdated moved


def test_importing_into_the_store_it_came_from_changes_nothing(case_export: LoadedExport) -> None:
    before = versions(case_export.repo)
    report = import_ndjson(case_export.repo, case_export.folder)
    assert report.unchanged == case_export.manifest.total and report.created == report.updated == 0
    assert versions(case_export.repo) == before


def test_a_changed_line_makes_a_new_version(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    write_lines(tmp_path / "a" / "Patient.ndjson", {"resourceType": "Patient", "id": "p", "gender": "male"},
                {"resourceType": "Patient", "id": "q", "gender": "male"})
    import_ndjson(repo, tmp_path / "a")
    write_lines(tmp_path / "b" / "Patient.ndjson", {"resourceType": "Patient", "id": "p", "gender": "female"},
                {"resourceType": "Patient", "id": "q", "gender": "male"})
    report = import_ndjson(repo, tmp_path / "b")
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert repo.read("Patient", "p").version_id == 2 and repo.read("Patient", "p").resource["gender"] == "female"
    assert repo.read("Patient", "q").version_id == 1


def test_a_deleted_resource_is_brought_back(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    repo.update({"resourceType": "Patient", "id": "p"})
    repo.delete("Patient", "p")
    report = import_ndjson(repo, write_lines(tmp_path / "Patient.ndjson", {"resourceType": "Patient", "id": "p"}))
    assert report.created == 1 and repo.read("Patient", "p").version_id == 3


# -- bad lines -----------------------------------------------------------------------------------------------------

def test_bad_lines_are_reported_with_file_and_line_and_the_good_ones_imported(new_store: StoreFactory,
                                                                             tmp_path: Path) -> None:
    repo = new_store()
    write_lines(tmp_path / "in" / "Patient.ndjson",
                {"resourceType": "Patient", "id": "p1"},                    # 1 good
                '{"resourceType": "Patient", "id": ',                       # 2 not JSON
                "",                                                         # 3 blank: skipped
                '["a", "list"]',                                            # 4 not an object
                {"id": "p4"},                                               # 5 no resourceType
                {"resourceType": "Condition", "id": "c1"},                  # 6 not the file's type
                {"resourceType": "Patiënt", "id": "p6"},                    # 7 unknown type
                {"resourceType": "Patient"},                                # 8 no id
                {"resourceType": "Patient", "id": "no spaces"},             # 9 invalid id
                b'{"resourceType": "Patient", "id": "p9", "name": [{"text": "\xff"}]}',  # 10 not UTF-8
                {"resourceType": "Patient", "id": "p2"})                    # 11 good
    report = import_ndjson(repo, tmp_path / "in")
    assert errors(report) == [("Patient.ndjson", 2, "structure"), ("Patient.ndjson", 4, "structure"),
                              ("Patient.ndjson", 5, "required"), ("Patient.ndjson", 6, "invalid"),
                              ("Patient.ndjson", 7, "not-supported"), ("Patient.ndjson", 8, "required"),
                              ("Patient.ndjson", 9, "value"), ("Patient.ndjson", 10, "structure")]
    assert not report.ok and report.rejected == 8 and report.created == 2
    assert sorted(all_current(repo)) == [("Patient", "p1"), ("Patient", "p2")]
    assert report.files[0].lines == 10 and report.files[0].imported == 2


def test_issues_render_as_an_operation_outcome_with_file_and_line(new_store: StoreFactory, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "Patient.ndjson", {"resourceType": "Patient", "id": "ok"}, '{"resourceType": 1}')
    outcome = import_ndjson(new_store(), path).operation_outcome()
    assert outcome["resourceType"] == "OperationOutcome"
    [issue] = outcome["issue"]
    assert issue["severity"] == "error" and issue["code"] == "required"
    assert issue["diagnostics"].startswith(f"{path}:2: ")
    assert {"url": "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-line", "valueInteger": 2} \
        in issue["extension"]
    assert issue["expression"] == ["resourceType"]


def test_a_clean_import_has_an_informational_outcome(new_store: StoreFactory, tmp_path: Path) -> None:
    report = import_ndjson(new_store(), write_lines(tmp_path / "Patient.ndjson", {"resourceType": "Patient",
                                                                                  "id": "p"}))
    assert report.ok
    assert [i["severity"] for i in report.operation_outcome()["issue"]] == ["information"]


def test_not_json_gives_the_column(new_store: StoreFactory, tmp_path: Path) -> None:
    report = import_ndjson(new_store(), write_lines(tmp_path / "Patient.ndjson", '{"resourceType": "Patient",, }'))
    assert report.issues[0].issue.line == 1 and report.issues[0].issue.col == 28


def test_a_file_named_after_no_type_takes_any_type(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    report = import_ndjson(repo, write_lines(tmp_path / "mixed.ndjson", {"resourceType": "Patient", "id": "p"},
                                             {"resourceType": "Group", "id": "g", "type": "person", "actual": True}))
    assert report.ok and report.created == 2


def test_numbered_files_of_one_type_are_checked_against_it(new_store: StoreFactory, tmp_path: Path) -> None:
    write_lines(tmp_path / "in" / "Patient.1.ndjson", {"resourceType": "Patient", "id": "a"})
    write_lines(tmp_path / "in" / "Patient-2.ndjson", {"resourceType": "Group", "id": "g", "type": "person",
                                                        "actual": True})
    report = import_ndjson(new_store(), tmp_path / "in")
    assert errors(report) == [("Patient-2.ndjson", 1, "invalid")] and report.created == 1


def test_a_resource_the_store_refuses_inside_a_batch_spares_the_rest_of_the_batch(new_store: StoreFactory,
                                                                                  tmp_path: Path) -> None:
    repo = new_store()
    lines = [{"resourceType": "Patient", "id": f"p{i}"} for i in range(6)]
    lines[3] = {"resourceType": "Patient", "id": "p3", "meta": "not an object"}  # passes the line checks
    report = import_ndjson(repo, write_lines(tmp_path / "Patient.ndjson", *lines), batch_size=4)
    assert errors(report) == [("Patient.ndjson", 4, "structure")]
    assert "meta" in report.issues[0].issue.diagnostics
    assert sorted(id for _, id in all_current(repo)) == ["p0", "p1", "p2", "p4", "p5"]
    assert all(repo.read("Patient", f"p{i}").version_id == 1 for i in (0, 1, 2, 4, 5))


# -- batches are all-or-nothing ------------------------------------------------------------------------------------

class Crash(BaseException):
    """Like a KeyboardInterrupt or a killed worker: not an error the import may swallow."""


class CrashingRepository:
    """Passes writes to a real store inside its transaction, but crashes on the n-th update."""

    def __init__(self, repo: Any, crash_at: int) -> None:
        self.repo = repo
        self.crash_at = crash_at
        self.updates = 0
        self.atomic_calls = 0
        self.resource_types = repo.resource_types

    def atomic(self, work: Any) -> Any:
        self.atomic_calls += 1
        outer = self

        class Session:
            def __init__(self, session: Any) -> None:
                self.session = session

            def update(self, resource: Any) -> Any:
                outer.updates += 1
                if outer.updates == outer.crash_at:
                    raise Crash()
                return self.session.update(resource)

        return self.repo.atomic(lambda session: work(Session(session)))

    def search(self, query: SearchQuery) -> Any:
        return self.repo.search(query)


def test_a_crash_inside_a_batch_leaves_earlier_batches_whole_and_none_of_its_own(new_store: StoreFactory,
                                                                                tmp_path: Path) -> None:
    repo = new_store()
    path = write_lines(tmp_path / "Patient.ndjson", *[{"resourceType": "Patient", "id": f"p{i}"} for i in range(12)])
    crashing = CrashingRepository(repo, crash_at=8)  # the third line of the second batch of 5
    with pytest.raises(Crash):
        import_ndjson(crashing, path, batch_size=5)
    assert sorted(id for _, id in all_current(repo)) == [f"p{i}" for i in range(5)]


def test_lines_are_written_in_batches_of_the_given_size(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    path = write_lines(tmp_path / "Patient.ndjson", *[{"resourceType": "Patient", "id": f"p{i}"} for i in range(12)])
    counting = CrashingRepository(repo, crash_at=0)
    report = import_ndjson(counting, path, batch_size=5)
    assert report.created == 12 and counting.atomic_calls == 3  # 5 + 5 + 2


def test_a_store_that_fails_every_write_stops_the_import(new_store: StoreFactory, tmp_path: Path) -> None:
    class Broken(CrashingRepository):
        def atomic(self, work: Any) -> Any:
            raise ConnectionError("server closed the connection")

    path = write_lines(tmp_path / "Patient.ndjson", *[{"resourceType": "Patient", "id": f"p{i}"} for i in range(6)])
    report = import_ndjson(Broken(new_store(), 0), path, batch_size=3)
    assert report.stopped and not report.ok
    assert [i.issue.severity for i in report.issues].count("fatal") == 1
    assert report.files[0].lines == 3  # reading stopped with the first failed batch


# -- references ----------------------------------------------------------------------------------------------------

def test_references_between_files_resolve_whatever_the_order(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    observation = write_lines(tmp_path / "Observation.ndjson", {
        "resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "CRP"},
        "subject": {"reference": "Patient/p"}})
    patient = write_lines(tmp_path / "Patient.ndjson", {"resourceType": "Patient", "id": "p"})
    report = import_ndjson(repo, [observation, patient])  # the Observation first
    assert report.ok and report.issues == []
    found = repo.search(SearchQuery("Observation", params=[("subject", "Patient/p")], include=["Observation:subject"]))
    assert [m.id for m in found.matches] == ["o"] and [i.id for i in found.included] == ["p"]


def test_a_reference_to_a_resource_already_in_the_store_resolves(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    repo.update({"resourceType": "Patient", "id": "p"})
    report = import_ndjson(repo, write_lines(tmp_path / "Observation.ndjson", {
        "resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "CRP"},
        "subject": {"reference": "Patient/p"}}))
    assert report.issues == []


def test_a_dangling_reference_is_a_warning_with_its_line(new_store: StoreFactory, tmp_path: Path) -> None:
    report = import_ndjson(new_store(), write_lines(
        tmp_path / "cases.ndjson",
        {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "CRP"},
         "subject": {"reference": "Patient/p"}},
        {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "CRP"},
         "subject": {"reference": "Patient/missing"}, "hasMember": [{"reference": "#contained"},
                                                                   {"reference": "http://other.org/fhir/Observation/x"},
                                                                   {"reference": "urn:uuid:1"}]},
        {"resourceType": "Patient", "id": "p"}))
    assert report.ok  # a warning does not reject the line
    assert warnings(report) == [("cases.ndjson", 2, "not-found")]
    assert "Patient/missing" in report.issues[0].issue.diagnostics


def test_the_same_resource_twice_warns_and_the_later_line_wins(new_store: StoreFactory, tmp_path: Path) -> None:
    repo = new_store()
    write_lines(tmp_path / "in" / "Patient.ndjson", {"resourceType": "Patient", "id": "p", "gender": "male"},
                {"resourceType": "Patient", "id": "p", "gender": "female"})
    report = import_ndjson(repo, tmp_path / "in")
    assert warnings(report) == [("Patient.ndjson", 2, "duplicate")]
    assert repo.read("Patient", "p").resource["gender"] == "female"


# -- inputs: folder, manifest, files -------------------------------------------------------------------------------

def test_a_manifest_names_the_files_and_their_types(new_store: StoreFactory, tmp_path: Path) -> None:
    write_lines(tmp_path / "in" / "part-1.ndjson", {"resourceType": "Patient", "id": "p"},
                {"resourceType": "Group", "id": "g", "type": "person", "actual": True})
    write_lines(tmp_path / "in" / "ignored.ndjson", {"resourceType": "Patient", "id": "not-listed"})
    (tmp_path / "in" / MANIFEST_NAME).write_text(
        '{"transactionTime": "2024-01-01T00:00:00Z", "request": "x", "requiresAccessToken": false,'
        ' "output": [{"type": "Patient", "url": "part-1.ndjson", "count": 2}], "error": []}')
    repo = new_store()
    for source in (tmp_path / "in", tmp_path / "in" / MANIFEST_NAME):
        report = import_ndjson(repo, source)
        assert errors(report) == [("part-1.ndjson", 2, "invalid")]  # the manifest says Patient
    assert sorted(all_current(repo)) == [("Patient", "p")]


def test_a_folder_without_manifest_reads_every_ndjson_file(new_store: StoreFactory, tmp_path: Path,
                                                           case_export: LoadedExport) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(case_export.folder, folder)
    (folder / MANIFEST_NAME).unlink()
    report = import_ndjson(new_store(), folder)
    assert report.ok and report.created == case_export.manifest.total


@pytest.mark.parametrize("manifest, message", [
    ("{not json", "cannot read manifest"),
    ('{"output": "Patient.ndjson"}', "not a Bulk Data manifest"),
    ('{"output": [{"type": "Patient"}]}', "has no url"),
    ('{"output": [{"type": "Patient", "url": "https://bulk.example/out/1.ndjson"}]}', "remote"),
    ('{"output": [{"type": "Patient", "url": "gone.ndjson"}]}', "no such file"),
    ('{"output": [{"type": "Pateint", "url": "Patient.ndjson"}]}', "not a resource type"),
])
def test_a_bad_manifest_stops_the_import_before_anything_is_written(new_store: StoreFactory, tmp_path: Path,
                                                                    manifest: str, message: str) -> None:
    repo = new_store()
    write_lines(tmp_path / "Patient.ndjson", {"resourceType": "Patient", "id": "p"})
    (tmp_path / MANIFEST_NAME).write_text(manifest)
    with pytest.raises(SourceError, match=message):
        import_ndjson(repo, tmp_path)
    assert all_current(repo) == {}


@pytest.mark.parametrize("make", ["missing", "empty-folder"])
def test_missing_inputs_stop_the_import_before_anything_is_written(new_store: StoreFactory, tmp_path: Path,
                                                                   make: str) -> None:
    repo = new_store()
    good = write_lines(tmp_path / "Patient.ndjson", {"resourceType": "Patient", "id": "p"})
    other = tmp_path / "nothing"
    if make == "empty-folder":
        other.mkdir()
    with pytest.raises(SourceError):
        import_ndjson(repo, [good, other])
    assert all_current(repo) == {}


def test_export_then_import_with_since_carries_only_the_changes(new_store: StoreFactory, tmp_path: Path) -> None:
    source, target = new_store(), new_store()
    for id in ("a", "b", "c"):
        source.update({"resourceType": "Patient", "id": id})
    full = export_store(source, tmp_path / "full")
    import_ndjson(target, tmp_path / "full")
    source.update({"resourceType": "Patient", "id": "b", "gender": "female"})
    source.update({"resourceType": "Observation", "id": "late", "status": "final", "code": {"text": "CRP"},
                   "subject": {"reference": "Patient/b"}})
    delta = export_store(source, tmp_path / "delta", since=full.transaction_time)
    assert [(o.type, o.count) for o in delta.output] == [("Observation", 1), ("Patient", 1)]
    report = import_ndjson(target, tmp_path / "delta")
    assert (report.created, report.updated, report.unchanged) == (1, 1, 0) and report.issues == []
    assert {k: without_version_meta(v) for k, v in all_current(target).items()} == \
        {k: without_version_meta(v) for k, v in all_current(source).items()}


def test_a_store_failing_the_reference_check_leaves_the_import_done_with_a_warning(new_store: StoreFactory,
                                                                                    tmp_path: Path) -> None:
    class NoSearch(CrashingRepository):
        def search(self, query: SearchQuery) -> Any:
            raise ConnectionError("gone")

    repo = new_store()
    report = import_ndjson(NoSearch(repo, 0), write_lines(tmp_path / "Observation.ndjson", {
        "resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "CRP"},
        "subject": {"reference": "Patient/p"}}))
    assert report.ok and report.created == 1
    assert [(i.issue.severity, i.issue.code) for i in report.issues] == [("warning", "incomplete")]
