"""`fhir-service validate` through `fhir_service.cli.main.main([...])`: the exit-code, output and input contract.

Exit 0: no issue of severity error/fatal; 1: at least one; 2: usage error or unreadable input.
"""
from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from fhir_service.cli.main import main
from fhir_service.validation.outcome import COL_EXT, LINE_EXT
from tests.cli.conftest import NARRATIVE, PROFILE_URL, clean_patient

LINE_RE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<severity>fatal|error|warning|information): "
                     r"(?P<expression>[^:]+(?::[^ ][^:]*)*): (?P<message>.+)$")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["validate", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def issue_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if LINE_RE.match(line)]


def extension(issue: dict[str, Any], url: str) -> int | None:
    return next((e["valueInteger"] for e in issue.get("extension", []) if e["url"] == url), None)


# -- exit codes and text output -----------------------------------------------------------------------------
class TestText:
    def test_clean_file_prints_only_the_summary_and_exits_0(self, capsys, write) -> None:
        path = write("ok.json", clean_patient())
        code, out, err = run(capsys, str(path))
        assert code == 0
        assert out == f"{path}: 0 errors, 0 warnings, 0 information\n"
        assert err == ""

    def test_an_error_exits_1_with_file_line_col_severity_expression_message(self, capsys, write) -> None:
        path = write("bad.json", clean_patient(active="yes"))
        code, out, _ = run(capsys, str(path))
        assert code == 1
        lines = issue_lines(out)
        assert lines, out
        match = LINE_RE.match(lines[0])
        assert match and match["file"] == str(path) and match["severity"] == "error"
        assert match["expression"] == "Patient.active"
        text = path.read_text().splitlines()
        assert '"active"' in text[int(match["line"]) - 1][int(match["col"]) - 1:]  # points at the property
        assert out.splitlines()[-1] == f"{path}: 1 error, 0 warnings, 0 information"

    def test_warnings_only_exit_0(self, capsys, write) -> None:
        resource = clean_patient()
        del resource["text"]  # dom-6: a warning
        code, out, _ = run(capsys, str(write("warn.json", resource)))
        assert code == 0
        assert "warning" in out and out.splitlines()[-1].endswith("0 errors, 1 warning, 0 information")

    def test_several_files_each_get_lines_and_a_summary_in_order(self, capsys, write) -> None:
        good = write("a.json", clean_patient())
        bad = write("b.json", "[1, 2]")
        code, out, _ = run(capsys, str(good), str(bad))
        assert code == 1
        summaries = [line for line in out.splitlines() if not LINE_RE.match(line)]
        assert summaries == [f"{good}: 0 errors, 0 warnings, 0 information",
                             f"{bad}: 1 error, 0 warnings, 0 information"]


# -- JSON output ------------------------------------------------------------------------------------------------
class TestJson:
    def test_one_file_prints_exactly_one_operation_outcome(self, capsys, write) -> None:
        code, out, err = run(capsys, "--output", "json", str(write("ok.json", clean_patient())))
        assert code == 0 and err == ""
        outcome = json.loads(out)
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"] == [{"severity": "information", "code": "informational", "diagnostics": "All OK"}]

    def test_issues_carry_expression_and_line_col_extensions(self, capsys, write) -> None:
        path = write("bad.json", clean_patient(birthDate="1970-13-45"))
        code, out, _ = run(capsys, "--output", "json", str(path))
        assert code == 1
        issue = next(i for i in json.loads(out)["issue"] if i["severity"] == "error")
        assert issue["expression"] == ["Patient.birthDate"]
        line, col = extension(issue, LINE_EXT), extension(issue, COL_EXT)
        assert path.read_text().splitlines()[line - 1][col - 1:].startswith('"birthDate"')

    def test_several_files_make_a_collection_bundle_with_file_uris_in_order(self, capsys, write) -> None:
        first, second = write("one.json", clean_patient()), write("two.json", "{")
        code, out, _ = run(capsys, "--output", "json", str(first), str(second))
        assert code == 1
        result = json.loads(out)
        assert result["resourceType"] == "Bundle" and result["type"] == "collection"
        assert [e["fullUrl"] for e in result["entry"]] == [first.resolve().as_uri(), second.resolve().as_uri()]
        assert all(e["resource"]["resourceType"] == "OperationOutcome" for e in result["entry"])
        assert result["entry"][1]["resource"]["issue"][0]["severity"] == "fatal"


# -- inputs ---------------------------------------------------------------------------------------------------
class TestInputs:
    def test_stdin_is_read_for_dash(self, capsys, monkeypatch) -> None:
        data = json.dumps(clean_patient()).encode()
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        code, out, _ = run(capsys, "-")
        assert code == 0 and out == "-: 0 errors, 0 warnings, 0 information\n"

    def test_missing_file_exits_2_with_one_line_on_stderr(self, capsys, tmp_path: Path) -> None:
        code, out, err = run(capsys, str(tmp_path / "nope.json"))
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "no such file" in err and "Traceback" not in err

    def test_a_directory_exits_2(self, capsys, tmp_path: Path) -> None:
        code, _, err = run(capsys, str(tmp_path))
        assert code == 2 and "directory" in err

    def test_permission_denied_exits_2(self, capsys, write) -> None:
        path = write("secret.json", clean_patient())
        path.chmod(0)
        try:
            if os.access(path, os.R_OK):
                pytest.skip("running as a user who can read any file (root): see the subprocess test as nobody")
            code, _, err = run(capsys, str(path))
        finally:
            path.chmod(0o644)
        assert code == 2 and "permission denied" in err

    def test_unreadable_file_among_others_still_validates_the_rest_and_exits_2(self, capsys, write,
                                                                               tmp_path: Path) -> None:
        good = write("ok.json", clean_patient())
        code, out, err = run(capsys, str(tmp_path / "missing.json"), str(good))
        assert code == 2
        assert f"{good}: 0 errors" in out and "missing.json" in err

    @pytest.mark.parametrize("content, code_word, message", [
        (b'{"resourceType": "Patient",\n  "id": }', "structure", "not valid JSON"),
        (b'{"resourceType": "Patient", "name": [{"text": "Ren\xe9"}]}', "invalid", "not valid UTF-8"),
        (b"[]", "structure", "not a FHIR resource"),
        (b"42", "structure", "not a FHIR resource"),
        (b"", "structure", "empty"),
        (b"[" * 10_000 + b"]" * 10_000, "too-costly", "nesting is too deep"),
    ])
    def test_unparseable_input_is_a_fatal_issue_exit_1(self, capsys, write, content: bytes, code_word: str,
                                                       message: str) -> None:
        code, out, err = run(capsys, "--output", "json", str(write("in.json", content)))
        assert code == 1 and "Traceback" not in err
        [issue] = json.loads(out)["issue"]
        assert issue["severity"] == "fatal" and issue["code"] == code_word and message in issue["diagnostics"]
        assert extension(issue, LINE_EXT) is not None

    def test_syntax_error_position_is_reported(self, capsys, write) -> None:
        code, out, _ = run(capsys, str(write("in.json", '{"resourceType": "Patient",\n  "id": }')))
        assert code == 1
        assert LINE_RE.match(out.splitlines()[0])["line"] == "2"
        assert LINE_RE.match(out.splitlines()[0])["col"] == "9"

    def test_deep_nesting_inside_an_object_is_fatal_not_a_recursion_error(self, capsys, write) -> None:
        deep = '{"resourceType": "Patient", "extension": ' + "[" * 10_000 + "]" * 10_000 + "}"
        code, out, err = run(capsys, str(write("deep.json", deep)))
        assert code == 1 and "nesting is too deep" in out and "RecursionError" not in err

    @pytest.mark.parametrize("resource, message", [
        ({"id": "x"}, "no resourceType"),
        ({"resourceType": "Patientt"}, "Unknown resource type 'Patientt'"),
    ])
    def test_missing_or_unknown_resource_type_is_an_error(self, capsys, write, resource, message) -> None:
        code, out, _ = run(capsys, str(write("r.json", resource)))
        assert code == 1 and message in out

    def test_duplicate_keys_are_an_error_at_the_second_occurrence(self, capsys, write) -> None:
        text = ('{\n  "resourceType": "Patient",\n  "id": "p1",\n  "text": ' + json.dumps(NARRATIVE)
                + ',\n  "id": "p2"\n}')
        code, out, _ = run(capsys, str(write("dup.json", text)))
        assert code == 1
        [line] = issue_lines(out)
        match = LINE_RE.match(line)
        assert (match["line"], match["col"], match["expression"]) == ("5", "3", "Patient.id")
        assert "Duplicate JSON property 'id'" in match["message"]

    def test_no_duplicate_issue_for_the_same_key_in_different_objects(self, capsys, write) -> None:
        resource = clean_patient(name=[{"text": "a"}, {"text": "b"}])
        assert run(capsys, str(write("ok.json", resource)))[0] == 0


# -- profiles and IGs -------------------------------------------------------------------------------------------
class TestProfiles:
    def test_profile_option_adds_a_profile(self, capsys, write, ig_dir: Path) -> None:
        patient = clean_patient()
        del patient["birthDate"]
        path = write("p.json", patient)
        assert run(capsys, "--ig", str(ig_dir), str(path))[0] == 0
        code, out, _ = run(capsys, "--ig", str(ig_dir), "--profile", PROFILE_URL, str(path))
        assert code == 1 and "birthDate" in out

    def test_profile_option_passes_a_conforming_resource(self, capsys, write, ig_dir: Path) -> None:
        code, _, _ = run(capsys, "--ig", str(ig_dir), "--profile", PROFILE_URL, str(write("p.json", clean_patient())))
        assert code == 0

    def test_meta_profile_is_honoured(self, capsys, write, ig_dir: Path) -> None:
        patient = clean_patient(meta={"profile": [PROFILE_URL]})
        del patient["birthDate"]
        code, out, _ = run(capsys, "--ig", str(ig_dir), str(write("p.json", patient)))
        assert code == 1 and "birthDate" in out

    def test_a_plain_folder_of_conformance_resources_is_an_ig_too(self, capsys, write, ig_dir: Path,
                                                                  tmp_path: Path) -> None:
        plain = tmp_path / "plain-ig"
        plain.mkdir()
        for source in ig_dir.glob("StructureDefinition-*.json"):
            (plain / source.name).write_text(source.read_text())
        patient = clean_patient()
        del patient["birthDate"]
        code, out, _ = run(capsys, "--ig", str(plain), "--profile", PROFILE_URL, str(write("p.json", patient)))
        assert code == 1 and "birthDate" in out

    def test_ig_is_repeatable(self, capsys, write, ig_dir: Path, tmp_path: Path) -> None:
        other = tmp_path / "other-ig"
        other.mkdir()
        (other / "ValueSet-x.json").write_text(json.dumps({
            "resourceType": "ValueSet", "id": "x", "url": "https://example.org/fhir/ValueSet/x", "status": "draft"}))
        code, _, _ = run(capsys, "--ig", str(other), "--ig", str(ig_dir), "--profile", PROFILE_URL,
                         str(write("p.json", clean_patient())))
        assert code == 0

    def test_ig_that_is_a_file_is_a_usage_error(self, capsys, write) -> None:
        not_a_folder = write("package.json", {"name": "x"})
        code, _, err = run(capsys, "--ig", str(not_a_folder), str(write("p.json", clean_patient())))
        assert code == 2 and "not a folder" in err

    def test_unknown_profile_is_a_usage_error(self, capsys, write) -> None:
        code, out, err = run(capsys, "--profile", "https://example.org/nope", str(write("p.json", clean_patient())))
        assert code == 2 and out == "" and "unknown profile" in err

    def test_missing_ig_folder_is_a_usage_error(self, capsys, write, tmp_path: Path) -> None:
        code, _, err = run(capsys, "--ig", str(tmp_path / "no-such-ig"), str(write("p.json", clean_patient())))
        assert code == 2 and "no such folder" in err

    def test_ig_folder_without_resources_is_a_usage_error(self, capsys, write, tmp_path: Path) -> None:
        empty = tmp_path / "empty-ig"
        empty.mkdir()
        code, _, err = run(capsys, "--ig", str(empty), str(write("p.json", clean_patient())))
        assert code == 2 and "no FHIR conformance resources" in err

    def test_ig_with_a_broken_package_json_is_a_usage_error(self, capsys, write, tmp_path: Path) -> None:
        broken = tmp_path / "broken-ig"
        broken.mkdir()
        (broken / "package.json").write_text("{not json")
        code, _, err = run(capsys, "--ig", str(broken), str(write("p.json", clean_patient())))
        assert code == 2 and "--ig" in err and "Traceback" not in err

    def test_no_file_is_a_usage_error(self, capsys) -> None:
        assert run(capsys)[0] == 2

    def test_unknown_output_format_is_a_usage_error(self, capsys, write) -> None:
        assert run(capsys, "--output", "xml", str(write("p.json", clean_patient())))[0] == 2


# -- bundles --------------------------------------------------------------------------------------------------
def test_bundle_rules_are_reported_with_positions(capsys, write) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:0b7e9d6c-3a1f-4c2e-8d5b-7e6f5a4b3c2d",
         "resource": clean_patient(managingOrganization={"reference": "urn:uuid:11111111-2222-4333-8444-555555555555"})},
        {"fullUrl": "Patient/p2", "resource": clean_patient(id="p2")}]}
    path = write("bundle.json", bundle)
    code, out, _ = run(capsys, str(path))
    assert code == 1
    lines = {LINE_RE.match(line)["expression"]: LINE_RE.match(line) for line in issue_lines(out)}
    assert lines["Bundle.entry[1].fullUrl"]["severity"] == "error"
    ref = lines["Bundle.entry[0].resource.managingOrganization"]
    assert ref["severity"] == "warning"
    text = path.read_text().splitlines()
    assert text[int(ref["line"]) - 1][int(ref["col"]) - 1:].startswith('"reference"')


def test_bundle_invariants_and_bundle_rules_are_each_reported_once(capsys, write) -> None:
    """bdl-7 (duplicate fullUrl) and bdl-9/10/11 (document) come from the invariants, never twice."""
    url = "urn:uuid:0b7e9d6c-3a1f-4c2e-8d5b-7e6f5a4b3c2d"
    bundle = {"resourceType": "Bundle", "type": "document", "entry": [
        {"fullUrl": url, "resource": clean_patient()}, {"fullUrl": url, "resource": clean_patient()}]}
    code, out, _ = run(capsys, "--output", "json", str(write("doc.json", bundle)))
    assert code == 1
    messages = [i["diagnostics"] for i in json.loads(out)["issue"]]
    for key in ("bdl-7", "bdl-9", "bdl-10", "bdl-11"):
        assert sum(key in m for m in messages) == 1, (key, messages)
    assert not any("fullUrl" in m and "bdl-7" not in m for m in messages), messages


def test_fhir_xml_input_is_validated_with_xml_line_numbers(capsys, write) -> None:
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Patient xmlns="http://hl7.org/fhir">\n  <id value="p1"/>\n'
           '  <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">Jane</div></text>\n'
           '  <active value="yes"/>\n</Patient>\n')
    code, out, _ = run(capsys, str(write("p.xml", xml)))
    assert code == 1
    [line] = issue_lines(out)
    match = LINE_RE.match(line)
    assert match["line"] == "5" and match["expression"] == "Patient.active"
