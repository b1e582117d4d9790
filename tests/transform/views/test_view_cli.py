"""`fhir-service transform view`: formats, outputs, and the exit status of each kind of failure."""
from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pytest

from fhir_service.transform.views import cli
from tests.transform.conftest import BUNDLES

CASE = str(BUNDLES / "002-psca-cart-mcrpc.json")


def run(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    out, err = io.StringIO(), io.StringIO()
    status = cli.run(parser.parse_args(list(argv)), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_csv_to_standard_output_by_default() -> None:
    status, out, err = run("toxicity-grades", CASE)
    assert status == 0 and err == ""
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == 6 and table[-1]["day"] == "21" and table[-1]["grade"] == "4"


def test_ndjson_rows_over_several_bundles() -> None:
    status, out, _ = run("patients", CASE, str(BUNDLES / "004-case1-tisacel-emapalumab.json"), "--format", "ndjson")
    assert status == 0
    assert [json.loads(line)["case_id"] for line in out.splitlines()] == [
        "002-psca-cart-mcrpc", "004-case1-tisacel-emapalumab"]


def test_a_view_file_and_out_file(tmp_path: Path) -> None:
    view = tmp_path / "v.json"
    view.write_text(json.dumps({"resource": "Patient", "select": [{"column": [{"name": "g", "path": "gender"}]}]}))
    target = tmp_path / "out.csv"
    status, out, err = run(str(view), CASE, "--out", str(target))
    assert status == 0 and out == ""
    assert target.read_text() == "g\nmale\n" and err.strip().endswith("1 rows")


def test_parquet_needs_an_out_file(tmp_path: Path) -> None:
    assert run("patients", CASE, "--format", "parquet")[0] == 2
    pytest.importorskip("pyarrow")
    status, _, _ = run("patients", CASE, "--format", "parquet", "--out", str(tmp_path / "p.parquet"))
    assert status == 0 and (tmp_path / "p.parquet").stat().st_size > 0


def test_unknown_view_is_a_usage_error_listing_the_project_views() -> None:
    status, out, err = run("nope", CASE)
    assert status == 2 and out == "" and "known: conditions, drug-administrations" in err


def test_invalid_view_exits_1_with_located_issues(tmp_path: Path) -> None:
    view = tmp_path / "bad.json"
    view.write_text(json.dumps({"select": [{"forEach": "@@"}]}))
    status, out, err = run(str(view), CASE)
    assert status == 1 and out == ""
    assert "error: ViewDefinition.resource: ViewDefinition.resource is required" in err
    assert "ViewDefinition.select[0].forEach" in err


def test_view_file_that_is_not_json_is_a_usage_error(tmp_path: Path) -> None:
    view = tmp_path / "bad.json"
    view.write_text("{")
    status, _, err = run(str(view), CASE)
    assert status == 2 and "not JSON" in err


def test_unreadable_input_is_a_usage_error_and_nothing_is_written(tmp_path: Path) -> None:
    status, out, err = run("patients", CASE, str(tmp_path / "missing.json"))
    assert status == 2 and out == "" and "no such file" in err


def test_a_view_failing_on_the_data_exits_1_and_leaves_no_partial_file(tmp_path: Path) -> None:
    view = tmp_path / "v.json"
    view.write_text(json.dumps({"resource": "Observation", "select": [{"column": [{"name": "n", "path": "note.text"}]}]}))
    target = tmp_path / "out.csv"
    status, _, err = run(str(view), CASE, "--out", str(target))
    assert status == 1 and "set collection: true" in err
    assert not target.exists() and list(tmp_path.iterdir()) == [view]


def test_standalone_entry_point_prints_help_and_rejects_a_missing_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "project views: conditions" in capsys.readouterr().out
    assert cli.main(["patients"]) == 2


def test_an_ndjson_line_that_is_not_json_is_a_usage_error_naming_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "r.ndjson"
    data.write_text('{"resourceType": "Patient", "id": "a"}\n{oops\n')
    status, _, err = run("patients", str(data))
    assert status == 2 and err.startswith(f"{data}:2:1: fatal: -: line 2 is not JSON")


def test_the_fhir_service_command_offers_transform_view(capsys: pytest.CaptureFixture[str]) -> None:
    from fhir_service.cli.main import main

    assert main(["transform", "view", "toxicity-grades", CASE, "--format", "ndjson"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and json.loads(lines[-1])["grade"] == 4


def test_parquet_without_pyarrow_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fhir_service.transform.views import writers

    def missing() -> None:
        raise writers.ParquetUnavailable("parquet output needs pyarrow (pip install 'fhir-service[parquet]')")

    monkeypatch.setattr(writers, "_arrow", missing)
    status, _, err = run("patients", CASE, "--format", "parquet", "--out", str(tmp_path / "p.parquet"))
    assert status == 2 and "needs pyarrow" in err and list(tmp_path.iterdir()) == []
