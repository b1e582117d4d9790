"""`fhir-service transform ...` through the real dispatcher: outputs, messages and exit statuses."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from fhir_service.cli.main import main
from tests.transform.conftest import BUNDLES

CASE = str(BUNDLES / "004-case1-tisacel-emapalumab.json")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["transform", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_to_transaction_writes_a_transaction_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["to-transaction", CASE], capsys)
    assert status == 0
    bundle = json.loads(out)
    assert bundle["type"] == "transaction" and all("request" in e for e in bundle["entry"])


def test_batch_option(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["to-transaction", CASE, "--batch"], capsys)
    assert status == 0 and json.loads(out)["type"] == "batch"


def test_redate_to_a_file_with_an_outcome_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target, outcome = tmp_path / "out.json", tmp_path / "oo.json"
    status, out, err = run(["redate", CASE, "--infusion-date", "2030-02-01", "--fresh-ids", "s1",
                            "-o", str(target), "--outcome", str(outcome)], capsys)
    assert status == 0 and out == ""
    bundle = json.loads(target.read_text())
    assert bundle["identifier"]["value"].startswith("004-case1-tisacel-emapalumab~")
    assert "moved to 2030-02-01" in err
    assert json.loads(outcome.read_text())["resourceType"] == "OperationOutcome"


def test_fresh_ids_without_seed_gives_a_new_patient_each_time(capsys: pytest.CaptureFixture[str]) -> None:
    first = json.loads(run(["redate", CASE, "--infusion-date", "2030-02-01", "--fresh-ids"], capsys)[1])
    second = json.loads(run(["redate", CASE, "--infusion-date", "2030-02-01", "--fresh-ids"], capsys)[1])
    assert first["identifier"] != second["identifier"]


@pytest.mark.parametrize("argv, words", [
    (["redate", CASE], "option --infusion-date: is required"),
    (["redate", CASE, "--infusion-date", "2030-02-30"], "option --infusion-date: must be a date YYYY-MM-DD"),
    (["redate", CASE, "--infusion-date", "01/02/2030"], "option --infusion-date: must be a date YYYY-MM-DD"),
])
def test_bad_parameters_exit_2_with_an_outcome(argv: list[str], words: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(argv, capsys)
    assert status == 2
    assert words in err
    assert json.loads(out)["issue"][0]["code"] == "invalid"


def test_unreadable_and_non_json_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["to-r5", str(tmp_path / "missing.json")], capsys)
    assert status == 2 and "cannot read" in err
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": "Bundle",\n  "type": }')
    status, out, err = run(["to-r5", str(broken)], capsys)
    assert status == 2 and f"{broken}:2:" in err and "is not JSON" in err


def test_json_that_is_not_a_bundle_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patient = tmp_path / "patient.json"
    patient.write_text('{"resourceType": "Patient"}')
    status, out, err = run(["to-transaction", str(patient)], capsys)
    assert status == 1 and "expected a FHIR Bundle, got a Patient" in err
    assert json.loads(out)["resourceType"] == "OperationOutcome"


def test_stdin_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(Path(CASE).read_bytes())))
    status, out, _ = run(["to-r5", "-"], capsys)
    assert status == 0
    administrations = [e["resource"] for e in json.loads(out)["entry"]
                       if e["resource"]["resourceType"] == "MedicationAdministration"]
    # R5 spells the element occurence[x]; every administration keeps its medication and its time
    assert administrations and all("medication" in a and ("occurenceDateTime" in a or "occurencePeriod" in a)
                                   for a in administrations)


def test_r5_round_trip_through_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r5, r4 = tmp_path / "r5.json", tmp_path / "r4.json"
    assert run(["to-r5", CASE, "-o", str(r5)], capsys)[0] == 0
    assert run(["to-r4", str(r5), "-o", str(r4)], capsys)[0] == 0
    assert json.loads(r4.read_text()) == json.loads(Path(CASE).read_text())


def test_losses_exit_1_but_still_write_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r5_bundle = {"resourceType": "Bundle", "type": "collection",
                 "issues": {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}}
    source = tmp_path / "r5.json"
    source.write_text(json.dumps(r5_bundle))
    status, out, err = run(["to-r4", str(source)], capsys)
    assert status == 1 and json.loads(out)["type"] == "collection" and "Bundle.issues" in err


def test_strict_turns_preserved_losses_into_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r4_bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "MedicationAdministration", "status": "completed", "instantiates": ["http://x.org/p"],
        "medicationCodeableConcept": {"text": "x"}, "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2024-01-01"}}]}
    source = tmp_path / "r4.json"
    source.write_text(json.dumps(r4_bundle))
    assert run(["to-r5", str(source)], capsys)[0] == 0
    assert run(["to-r5", str(source), "--strict"], capsys)[0] == 1


def test_no_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run([], capsys)
    assert status == 2 and "ACTION" in err


def test_the_view_action_is_plugged_in(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["--help"], capsys)
    assert status == 0 and "view" in out and "to-transaction" in out
