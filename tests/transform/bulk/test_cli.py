"""`fhir-service export` and `fhir-service import`: options, output and exit status (0 ok, 1 lines rejected,
2 usage or unreadable input), through the real dispatcher on SQLite files."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fhir_service.cli.main import main
from fhir_service.store.sql_repository import SqlRepository
from fhir_service.transform.bulk import MANIFEST_NAME
from tests.transform.bulk.conftest import all_current, without_version_meta

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def source_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    repo = SqlRepository(url)
    repo.update({"resourceType": "Patient", "id": "p", "gender": "female"})
    repo.update({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "CRP"},
                 "subject": {"reference": "Patient/p"}})
    repo.update({"resourceType": "Group", "id": "g", "type": "person", "actual": True})
    repo.close()
    return url


def store(url: str) -> dict[tuple[str, str], dict[str, Any]]:
    repo = SqlRepository(url)
    try:
        return {k: without_version_meta(v) for k, v in all_current(repo).items()}
    finally:
        repo.close()


def test_export_then_import_round_trips(source_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--db", source_db, "--out", str(tmp_path / "out")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "out" / MANIFEST_NAME).read_text())
    assert [(o["type"], o["count"]) for o in printed["output"]] == [("Group", 1), ("Observation", 1), ("Patient", 1)]
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    assert main(["import", "--db", target, str(tmp_path / "out")]) == 0
    assert "3 created, 0 updated, 0 unchanged; 0 line(s) rejected" in capsys.readouterr().out
    assert store(target) == store(source_db)
    assert main(["import", "--db", target, str(tmp_path / "out")]) == 0
    assert "0 created, 0 updated, 3 unchanged" in capsys.readouterr().out


def test_export_type_and_since(source_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--db", source_db, "--out", str(tmp_path / "a"), "--type", "Patient,Observation",
                 "--type", "Group", "--since", "2000-01-01T00:00:00Z"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["request"] == "$export?_type=Group,Observation,Patient&_since=2000-01-01T00:00:00Z"
    assert main(["export", "--db", source_db, "--out", str(tmp_path / "b"), "--type", "Patient",
                 "--since", "2999-01-01T00:00:00Z"]) == 0
    assert json.loads(capsys.readouterr().out)["output"] == []


@pytest.mark.parametrize("extra, message", [
    (["--type", "Patient,Bogus"], "unknown resource type"),
    (["--since", "2024-01-01"], "not a FHIR instant"),
])
def test_export_usage_errors_exit_2(source_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    extra: list[str], message: str) -> None:
    assert main(["export", "--db", source_db, "--out", str(tmp_path / "out"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_export_needs_out(source_db: str) -> None:
    assert main(["export", "--db", source_db]) == 2


def test_export_into_a_previous_export_needs_force(source_db: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "out")
    assert main(["export", "--db", source_db, "--out", out]) == 0
    assert main(["export", "--db", source_db, "--out", out]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["export", "--db", source_db, "--out", out, "--force"]) == 0


def test_import_with_rejected_lines_exits_1_and_prints_file_line_issues(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "Patient.ndjson"
    data.write_text('{"resourceType":"Patient","id":"a"}\nnot json\n{"resourceType":"Group","id":"g"}\n')
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    outcome = tmp_path / "outcome.json"
    assert main(["import", "--db", target, str(data), "--outcome", str(outcome)]) == 1
    captured = capsys.readouterr()
    assert f"{data}:2:1: error: -: not JSON" in captured.err
    assert f"{data}:3:1: error: resourceType: a Group in a file of Patient resources" in captured.err
    assert "1 created" in captured.out and "2 line(s) rejected" in captured.out
    written = json.loads(outcome.read_text())
    assert written["resourceType"] == "OperationOutcome" and len(written["issue"]) == 2
    assert list(store(target)) == [("Patient", "a")]


def test_import_warnings_alone_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "Observation.ndjson"
    data.write_text('{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},'
                    '"subject":{"reference":"Patient/nobody"}}\n')
    assert main(["import", "--db", f"sqlite:///{tmp_path / 't.sqlite3'}", str(data)]) == 0
    assert f"{data}:1:1: warning" in capsys.readouterr().err


@pytest.mark.parametrize("argv_tail", [["missing-folder"], ["--batch-size", "0", "."]])
def test_import_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    argv_tail: list[str]) -> None:
    target = tmp_path / "t.sqlite3"
    assert main(["import", "--db", f"sqlite:///{target}", *[str(tmp_path / a) if a == "missing-folder" else a
                                                              for a in argv_tail]]) == 2
    assert capsys.readouterr().err.startswith("fhir-service import: ")


def test_import_needs_an_input() -> None:
    assert main(["import"]) == 2


def test_an_unopenable_database_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Patient.ndjson").write_text('{"resourceType":"Patient","id":"a"}\n')
    assert main(["import", "--db", "nosuchdialect://x", str(tmp_path)]) == 2
    assert "cannot open database" in capsys.readouterr().err


def test_default_database_is_the_one_serve_uses(source_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--out", "out"]) == 2  # no var/fhir.sqlite3 here yet: nothing to export
    assert "no database at var/fhir.sqlite3" in capsys.readouterr().err
    assert main(["export", "--db", source_db, "--out", "src"]) == 0
    assert main(["import", "src"]) == 0  # creates serve's embedded database
    assert (tmp_path / "var" / "fhir.sqlite3").is_file()
    assert main(["export", "--out", "again"]) == 0
    assert store(f"sqlite:///{tmp_path / 'var' / 'fhir.sqlite3'}") == store(source_db)


def test_the_installed_command_line_runs_export(source_db: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "fhir_service.cli.main", "export", "--db", source_db, "--out",
                           str(tmp_path / "out"), "--type", "Patient"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == [{"type": "Patient", "url": "Patient.ndjson", "count": 1}]


def _manifest_folder(tmp_path: Path, urls: list[str]) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text('{"resourceType":"Patient","id":"inside"}\n')
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "Patient.ndjson").write_text('{"resourceType":"Patient","id":"outside"}\n')
    (folder / MANIFEST_NAME).write_text(json.dumps({
        "transactionTime": "2024-01-01T00:00:00Z", "request": "$export", "requiresAccessToken": False,
        "output": [{"type": "Patient", "url": url} for url in urls], "error": []}))
    return folder


@pytest.mark.parametrize("url,reason", [
    ("../other/Patient.ndjson", "leads outside the manifest's folder"),
    ("sub/../../other/Patient.ndjson", "leads outside the manifest's folder"),
    ("/etc/hostname", "is an absolute path"),
])
def test_a_manifest_may_only_name_files_beside_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  url: str, reason: str) -> None:
    folder = _manifest_folder(tmp_path, ["Patient.ndjson", url])
    target = f"sqlite:///{tmp_path / 't.sqlite3'}"
    assert main(["import", "--db", target, str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fhir-service import: ") and reason in err and "output[1].url" in err
    assert store(target) == {}  # refused before anything is read


def test_a_manifest_may_name_files_in_subfolders(tmp_path: Path) -> None:
    folder = _manifest_folder(tmp_path, ["Patient.ndjson", "part2/../Patient.ndjson"])
    target = f"sqlite:///{tmp_path / 't.sqlite3'}"
    assert main(["import", "--db", target, str(folder)]) == 0
    assert list(store(target)) == [("Patient", "inside")]


def test_a_manifest_run_with_a_rejected_line_exits_1(tmp_path: Path) -> None:
    folder = _manifest_folder(tmp_path, ["Patient.ndjson", "Broken.ndjson"])
    (folder / "Broken.ndjson").write_text('{"resourceType":"Patient","id":"ok2"}\n{"resourceType":"Patient"\n')
    target = f"sqlite:///{tmp_path / 't.sqlite3'}"
    assert main(["import", "--db", target, str(folder)]) == 1
    assert sorted(store(target)) == [("Patient", "inside"), ("Patient", "ok2")]
