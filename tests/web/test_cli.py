"""`fhir-service load` and `fhir-service serve`: the command-line contracts."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from fhir_service.cli.main import main
from fhir_service.store.repository import SearchQuery
from fhir_service.store.sql_repository import SqlRepository

REPO = Path(__file__).resolve().parents[2]
PATIENT_URN = "urn:uuid:7a1c0e4e-4c1b-4f1a-9a51-1b8f4f1e2d3c"


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    collection = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:0b5e1c9e-7c1e-4a8b-9f0e-3a2b1c0d9e8f",
         "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "CRS grade"},
                      "subject": {"reference": PATIENT_URN}}},
        {"fullUrl": PATIENT_URN, "resource": {"resourceType": "Patient", "gender": "male"}}]}
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:5f0d2c1b-1111-4222-8333-944455556666",
         "resource": {"resourceType": "Patient", "gender": "female"},
         "request": {"method": "POST", "url": "Patient"}}]}
    return {
        "collection": write(tmp_path / "collection.json", collection),
        "transaction": write(tmp_path / "transaction.json", transaction),
        "single": write(tmp_path / "single.json", {"resourceType": "Practitioner", "id": "dr1"}),
        "broken": write(tmp_path / "broken.json", {"resourceType": "Bundle", "type": "transaction",
                                                   "entry": [{"resource": {"resourceType": "Patient"}}]}),
    }


def versions(db: str) -> int:
    repo = SqlRepository(db)
    try:
        return len(repo.history(count=1000)[0])
    finally:
        repo.close()


def test_load_is_idempotent(tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    paths = [str(files[k]) for k in ("collection", "transaction", "single")]
    assert main(["load", *paths, "--db", db]) == 0
    first = versions(db)
    assert first == 4
    assert main(["load", *paths, "--db", db]) == 0
    assert versions(db) == first  # nothing duplicated, no new versions
    repo = SqlRepository(db)
    observation = repo.search(SearchQuery("Observation")).matches[0].resource
    repo.close()
    assert observation["subject"]["reference"] == f"Patient/{PATIENT_URN.removeprefix('urn:uuid:')}"


def test_load_failure_exit_1_with_outcome(tmp_path: Path, files: dict[str, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert main(["load", str(files["broken"]), "--db", db]) == 1
    assert '"OperationOutcome"' in capsys.readouterr().err
    assert main(["load", str(tmp_path / "missing.json"), "--db", db]) == 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_with_gunicorn_preloads_bundles_idempotently(tmp_path: Path, files: dict[str, Path]) -> None:
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    files["collection"].rename(bundles / "collection.json")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "fhir_service.cli.main", "serve", "--port", str(port), "--workers", "1",
               "--bundles", str(bundles)]
    for attempt in range(2):  # the second start must find the same data, not twice as much
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}/fhir"
            for _ in range(100):
                try:
                    if requests.get(f"{base}/metadata", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            total = requests.get(f"{base}/Patient?_summary=count", timeout=5).json()["total"]
            assert total == 1
            history = requests.get(f"{base}/_history", timeout=5).json()
            assert len(history["entry"]) == 2
        finally:
            process.terminate()
            process.wait(10)
    assert (tmp_path / "var" / "fhir.sqlite3").exists()


def test_load_reads_xml_files(tmp_path: Path) -> None:
    path = tmp_path / "patient.xml"
    path.write_text('<Patient xmlns="http://hl7.org/fhir"><id value="x"/><gender value="male"/></Patient>')
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert main(["load", str(path), "--db", db]) == 0
    repo = SqlRepository(db)
    assert repo.read("Patient", "x").resource["gender"] == "male"
    repo.close()
    (tmp_path / "bad.xml").write_text("<Patient")
    assert main(["load", str(tmp_path / "bad.xml"), "--db", db]) == 1


def test_load_leaves_planner_statistics(tmp_path: Path) -> None:
    """After a bulk load the planner has statistics (SQLite: sqlite_stat1), so that searches on the loaded
    store are planned on real selectivities, not guesses."""
    path = write(tmp_path / "patient.json", {"resourceType": "Patient", "id": "s1", "gender": "male"})
    db_path = tmp_path / "stats.sqlite3"
    assert main(["load", str(path), "--db", f"sqlite:///{db_path}"]) == 0
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        analysed = {row[0] for row in conn.execute("SELECT tbl FROM sqlite_stat1")}
    assert {"resource", "idx_token"} <= analysed


def test_load_takes_xml_with_validation_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Published examples carry xsi:schemaLocation and sometimes elements out of order: loaded, with a
    warning each; only unreadable XML fails the load."""
    path = tmp_path / "example.xml"
    path.write_text('<Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
                    ' xsi:schemaLocation="http://hl7.org/fhir patient.xsd"><id value="ex"/>'
                    '<gender value="male"/><active value="true"/></Patient>')
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert main(["load", str(path), "--db", db]) == 0
    warnings = capsys.readouterr().err
    assert "schemaLocation" in warnings and "out of order" in warnings
    repo = SqlRepository(db)
    assert repo.read("Patient", "ex").resource["active"] is True
    repo.close()
