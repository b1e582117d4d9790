"""`fhir-service push` and `fhir-service pull` as a user runs them: against the real server on loopback for
the happy paths, with `responses` for what a remote server does wrong; exit codes 0/1/2 as documented."""
from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest
import responses

from fhir_service.cli.main import main
from fhir_service.client.progress import Progress
from tests.client.conftest import BASE, bundle_files, outcome

CASE3 = next(p for p in bundle_files() if p.name.startswith("004-case3"))
CASE1 = next(p for p in bundle_files() if p.name.startswith("004-case1"))


def entry_types(path: Path) -> dict[str, int]:
    """Resource types of a case bundle's entries and their counts (read, not hard-coded: the data grows)."""
    counts: dict[str, int] = {}
    for entry in json.loads(path.read_text())["entry"]:
        counts[entry["resource"]["resourceType"]] = counts.get(entry["resource"]["resourceType"], 0) + 1
    return dict(sorted(counts.items()))


TYPES3 = entry_types(CASE3)
N3, N1 = sum(TYPES3.values()), sum(entry_types(CASE1).values())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


# -- push -------------------------------------------------------------------------------------------------------
def test_push_reports_each_bundle_and_entry_and_a_second_push_creates_nothing(
        server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "push", "--server", server_url, "--quiet", str(CASE3), str(CASE1))
    assert code == 0
    assert f"{CASE3}: transaction, {N3} entries: {N3} created, 0 existing/updated, 0 failed" in out
    assert f"{CASE1}: transaction, {N1} entries: {N1} created" in out
    assert "  entry[0] Patient/133468bc-8f6a-5ef9-9a20-07453a53caaf: 201 Created -> Patient/" in out
    code, out, _ = run(capsys, "push", "--server", server_url, "--quiet", str(CASE3))
    assert code == 0 and f"{N3} entries: 0 created, {N3} existing/updated, 0 failed" in out


def test_push_json_output_is_one_document(server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "push", "--server", server_url, "--quiet", "--output", "json", "--batch", str(CASE3))
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["server"] == server_url
    (bundle,) = report["bundles"]
    assert bundle["sentAs"] == "batch" and bundle["created"] == N3 and len(bundle["entries"]) == N3
    assert bundle["entries"][0]["status"] == 201 and bundle["entries"][0]["location"].startswith(server_url)


def test_push_an_unreadable_or_non_bundle_input_is_exit_2_but_the_others_are_pushed(
        server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patient = tmp_path / "patient.json"
    patient.write_text('{"resourceType": "Patient"}')
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": ')
    code, out, err = run(capsys, "push", "--server", server_url, "--quiet", str(tmp_path / "missing.json"),
                         str(patient), str(broken), str(CASE3))
    assert code == 2
    assert "missing.json" in err and "expected a FHIR Bundle, got Patient" in err and "broken.json: not JSON" in err
    assert f"{N3} created" in out


def test_push_to_an_unreachable_server_is_exit_2_and_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = f"http://127.0.0.1:{free_port()}/fhir"
    code, _, err = run(capsys, "push", "--server", server, "--retries", "0", "--quiet", str(CASE3), str(CASE1))
    assert code == 2 and "cannot connect" in err and f"not attempted: {CASE1}" in err


def test_push_with_a_bad_server_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "push", "--server", "localhost:8080", str(CASE3))
    assert code == 2 and "absolute http(s) URL" in err


def test_push_sends_the_token_from_the_environment_and_401_is_exit_2(
        mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FHIR_TOKEN", "from-env")
    mock.add("POST", BASE, status=401, json=outcome("invalid token", "login"))
    code, out, err = run(capsys, "push", "--server", BASE, "--quiet", str(CASE3))
    assert code == 2 and "credentials" in err and "from-env" not in out + err
    assert mock.calls[0].request.headers["Authorization"] == "Bearer from-env"


def test_push_with_a_failed_entry_is_exit_1(mock: responses.RequestsMock, capsys: pytest.CaptureFixture[str]) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        entries = [{"response": {"status": "201 Created", "location": f"{BASE}/X/{n}/_history/1"}}
                   for n, _ in enumerate(json.loads(request.body)["entry"])]
        entries[3]["response"] = {"status": "422 Unprocessable Entity",
                                  "outcome": outcome("Observation.status is required", "required")}
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "batch-response", "entry": entries})
    mock.add_callback("POST", BASE, callback=answer)
    code, out, _ = run(capsys, "push", "--server", BASE, "--token", "t", "--batch", "--quiet", str(CASE3))
    assert code == 1
    assert f"{N3 - 1} created, 0 existing/updated, 1 failed" in out
    assert ": 422 Unprocessable Entity: Observation.status is required" in out


# -- pull -------------------------------------------------------------------------------------------------------
def pushed_patient(server_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, _ = run(capsys, "push", "--server", server_url, "--quiet", "--output", "json", str(CASE3))
    assert code == 0
    location = json.loads(out)["bundles"][0]["entries"][0]["location"]
    return location.split("/Patient/")[1].split("/")[0]


def test_pull_everything_as_ndjson_on_stdout(server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    patient = pushed_patient(server_url, capsys)
    code, out, err = run(capsys, "pull", "--server", server_url, f"Patient/{patient}/$everything")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == N3 and lines[0]["resourceType"] == "Patient"
    by_type = ", ".join(f"{name} {count}" for name, count in TYPES3.items())
    assert f"pull: {N3} resources ({by_type}) from 1 queries" in err


def test_pull_two_overlapping_queries_writes_each_resource_once_to_a_file(
        server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patient = pushed_patient(server_url, capsys)
    target = tmp_path / "out.ndjson"
    code, _, _ = run(capsys, "pull", "--server", server_url, "--quiet", "--out", str(target),
                     f"Patient?_id={patient}&_revinclude=Condition:subject", f"Patient/{patient}",
                     f"Condition?subject=Patient/{patient}")
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert code == 0 and [r["resourceType"] for r in lines] == ["Patient"] + ["Condition"] * TYPES3["Condition"]
    assert not list(tmp_path.glob(".*part"))


def test_pull_into_a_directory_writes_one_file_per_type(server_url: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    patient = pushed_patient(server_url, capsys)
    code, _, _ = run(capsys, "pull", "--server", server_url, "--quiet", "--out", str(tmp_path) + "/export/",
                     f"Patient/{patient}/$everything")
    files = {p.name: len(p.read_text().splitlines()) for p in (tmp_path / "export").iterdir()}
    assert code == 0 and files == {f"{name}.ndjson": count for name, count in TYPES3.items()}


def test_pull_as_a_collection_bundle(server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patient = pushed_patient(server_url, capsys)
    target = tmp_path / "case.json"
    code, _, _ = run(capsys, "pull", "--server", server_url, "--quiet", "--bundle", "--out", str(target),
                     f"Patient/{patient}/$everything")
    bundle = json.loads(target.read_text())
    assert code == 0 and bundle["type"] == "collection" and len(bundle["entry"]) == N3
    assert bundle["entry"][0]["fullUrl"] == f"{server_url}/Patient/{patient}"
    code, _, err = run(capsys, "pull", "--server", server_url, "--bundle", "--out", str(tmp_path), "Patient")
    assert code == 2 and "is a directory" in err


def test_pull_a_missing_resource_is_exit_1_and_the_rest_is_written(
        server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patient = pushed_patient(server_url, capsys)
    target = tmp_path / "out.ndjson"
    code, _, err = run(capsys, "pull", "--server", server_url, "--quiet", "--out", str(target),
                       "Patient/does-not-exist", f"Patient/{patient}")
    assert code == 1 and "HTTP 404" in err and "Patient/does-not-exist" in err
    assert [json.loads(line)["id"] for line in target.read_text().splitlines()] == [patient]


def test_pull_a_query_on_another_server_is_a_usage_error(server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "pull", "--server", server_url, "https://elsewhere.example.org/fhir/Patient")
    assert code == 2 and "is not on the server" in err


def test_pull_from_an_unreachable_server_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    server = f"http://127.0.0.1:{free_port()}/fhir"
    code, out, err = run(capsys, "pull", "--server", server, "--retries", "0", "Patient")
    assert code == 2 and out == "" and "cannot connect" in err


# -- progress bar -----------------------------------------------------------------------------------------------
class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_only() -> None:
    screen = Terminal()
    with Progress("push", 4, unit="bundles", stream=screen, min_interval=0) as progress:
        progress.update()
        progress.update()
    assert "push [############............] 2/4 bundles 50%" in screen.getvalue()
    assert screen.getvalue().endswith("\n")
    piped = io.StringIO()
    with Progress("push", 4, stream=piped) as progress:
        progress.update()
    assert piped.getvalue() == ""


def test_progress_without_a_total_counts_and_is_throttled() -> None:
    screen = Terminal()
    ticks = iter([0.0, 0.01, 0.02, 0.5])
    progress = Progress("pull", unit="resources", stream=screen, clock=lambda: next(ticks), min_interval=0.1)
    for _ in range(4):
        progress.update()
    assert screen.getvalue().count("\r") == 2 and screen.getvalue().endswith("pull 4 resources")


def test_quiet_turns_the_progress_bar_off_even_on_a_terminal(server_url: str, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stderr", Terminal())
    main(["push", "--server", server_url, "--quiet", str(CASE3)])
    import sys
    assert "\r" not in sys.stderr.getvalue()
    monkeypatch.setattr("sys.stderr", Terminal())
    main(["push", "--server", server_url, str(CASE3)])
    assert f"push {CASE3.name} [########################] 1/1 bundles 100%" in sys.stderr.getvalue()
