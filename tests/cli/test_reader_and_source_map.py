"""The input reader (fhir_service.validation.reader) and the source map (fhir_service.validation.source_map):
what the validate command relies on to turn bytes into a resource and JSON locations into line/column."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from fhir_service.validation.reader import EXIT_USAGE, parse_bytes, read_input
from fhir_service.validation.source_map import PositionMap, SourceMap, expression_of

TEXT = """{
  "resourceType": "Patient",
  "name": [ {"family": "Doe", "given": ["Jane", "Q"]}, {"text": "J. Doe"} ],
  "active": true,
  "contact": [],
  "extension": [{"url": "u", "valueString": "a\\"b"}],
  "_birthDate": {"extension": [{"url": "x", "valueCode": "unknown"}]}
}"""


@pytest.fixture(params=["full map", "targeted scan"], autouse=True)
def scan_mode(request, monkeypatch) -> str:
    """Every source-map test runs both ways: a small text mapped completely, and a large text's targeted scan."""
    if request.param == "targeted scan":
        monkeypatch.setattr("fhir_service.validation.source_map.FULL_MAP_LIMIT", 0)
    return request.param


class TestSourceMap:
    @pytest.mark.parametrize("location, position", [
        ((), (1, 1)),
        (("resourceType",), (2, 3)),
        (("name",), (3, 3)),
        (("name", 0), (3, 13)),
        (("name", 0, "family"), (3, 14)),
        (("name", 0, "given", 1), (3, 49)),
        (("name", 1, "text"), (3, 57)),
        (("active",), (4, 3)),
        (("extension", 0, "valueString"), (6, 30)),
        (("_birthDate", "extension", 0, "valueCode"), (7, 45)),
    ])
    def test_positions_of_properties_and_array_items(self, location, position) -> None:
        assert SourceMap(TEXT).lookup(location) == position

    @pytest.mark.parametrize("location, ancestor", [
        (("name", 1, "family"), ("name", 1)),  # a missing required element reports at its parent
        (("name", 7), ("name",)),
        (("contact", 0, "name"), ("contact",)),
        (("nope", "deeper"), ()),
    ])
    def test_missing_locations_fall_back_to_the_nearest_existing_ancestor(self, location, ancestor) -> None:
        source_map = SourceMap(TEXT)
        assert source_map.lookup(location) == source_map.lookup(ancestor)

    def test_many_locations_resolve_in_one_call(self) -> None:
        found = SourceMap(TEXT).resolve([("active",), ("name", 0, "given", 0), ("missing",)])
        assert found == {("active",): (4, 3), ("name", 0, "given", 0): (3, 41), ("missing",): (1, 1)}

    def test_columns_count_characters_not_bytes(self) -> None:
        text = '{"a": "ééé", "b": 1}'
        assert SourceMap(text).lookup(("b",)) == (1, 14)

    def test_escaped_keys_are_decoded(self) -> None:
        assert SourceMap('{"a\\u0062": 1}').lookup(("ab",)) == (1, 2)

    def test_duplicate_keys_are_found_per_object(self) -> None:
        text = '{"a": {"x": 1, "x": 2}, "b": [{"y": 1}, {"y": 2}], "a": 3}'
        duplicates = SourceMap(text).duplicates
        assert [(d.location, d.col) for d in duplicates] == [(("a", "x"), 16), (("a",), 52)]

    def test_no_duplicates_in_ordinary_json(self) -> None:
        assert SourceMap(TEXT).duplicates == []

    def test_ten_thousand_levels_deep_needs_no_recursion(self) -> None:
        text = '{"a": ' + "[" * 10_000 + "1" + "]" * 10_000 + "}"
        assert SourceMap(text).max_depth == 10_001

    def test_positions_deep_down(self) -> None:
        # orjson parses up to 1024 levels: the deepest text a lookup is ever asked about
        text = '{"a": ' + "[" * 1_000 + "1" + "]" * 1_000 + "}"
        assert SourceMap(text).lookup(("a",) + (0,) * 1_000) == (1, 1_007)

    def test_position_map_falls_back_like_the_source_map(self) -> None:
        positions = PositionMap({(): (1, 1), ("name",): (3, 4)})
        assert positions.lookup(("name", 0, "family")) == (3, 4)

    def test_expression_of_a_location(self) -> None:
        assert expression_of(("name", 0, "given", 1), "Patient") == "Patient.name[0].given[1]"
        assert expression_of(("_birthDate", "extension", 0), "Patient") == "Patient.birthDate.extension[0]"


class TestReader:
    def test_reads_a_resource_with_its_source_map(self, tmp_path: Path) -> None:
        path = tmp_path / "p.json"
        path.write_text(TEXT)
        result = read_input(path)
        assert result.resource["resourceType"] == "Patient" and result.issues == [] and result.exit_code == 0
        assert result.source_map.lookup(("active",)) == (4, 3)

    def test_stdin(self) -> None:
        result = read_input("-", stdin=io.BytesIO(TEXT.encode()))
        assert result.resource is not None and result.name == "-"

    @pytest.mark.parametrize("make, reason", [
        (lambda p: p / "missing.json", "no such file"),
        (lambda p: p, "is a directory"),
    ])
    def test_unreadable_inputs_are_usage_errors(self, tmp_path: Path, make, reason) -> None:
        result = read_input(make(tmp_path))
        assert result.exit_code == EXIT_USAGE and result.resource is None and reason in result.message

    def test_utf8_bom_is_accepted(self) -> None:
        assert parse_bytes(b"\xef\xbb\xbf" + TEXT.encode()).resource is not None

    def test_not_utf8_reports_the_position_of_the_bad_byte(self) -> None:
        [issue] = parse_bytes(b'{"resourceType": "Patient",\n "name": [{"text": "Ren\xe9"}]}').issues
        assert (issue.severity, issue.code, issue.line, issue.col) == ("fatal", "invalid", 2, 24)

    def test_utf16_is_named_as_such(self) -> None:
        [issue] = parse_bytes('{"resourceType": "Patient"}'.encode("utf-16")).issues
        assert issue.severity == "fatal" and "UTF-16" in issue.diagnostics

    def test_json_syntax_error_position(self) -> None:
        [issue] = parse_bytes(b'{\n  "resourceType": "Patient"\n  "id": "x"\n}').issues
        assert (issue.severity, issue.code, issue.line, issue.col) == ("fatal", "structure", 3, 3)

    def test_scalar_top_level_is_not_a_resource(self) -> None:
        [issue] = parse_bytes(b'  "Patient"').issues
        assert issue.severity == "fatal" and "a string" in issue.diagnostics and issue.col == 3

    def test_too_deep_is_fatal(self) -> None:
        [issue] = parse_bytes(b"[" * 10_000 + b"]" * 10_000).issues
        assert issue.severity == "fatal" and "too deep" in issue.diagnostics

    def test_unknown_resource_type_is_an_error_and_nothing_to_validate(self) -> None:
        result = parse_bytes(json.dumps({"resourceType": "Patientt"}).encode())
        assert result.resource is None
        assert [(i.severity, i.location, i.line, i.col) for i in result.issues] == [
            ("error", ("resourceType",), 1, 2)]

    def test_duplicate_keys_are_errors_but_the_resource_is_still_validated(self) -> None:
        result = parse_bytes(b'{"resourceType": "Patient", "active": true, "active": false}')
        assert result.resource == {"resourceType": "Patient", "active": False}
        assert [(i.severity, i.expression, i.col) for i in result.issues] == [("error", "Patient.active", 45)]

    def test_xml_input_is_read_with_positions(self) -> None:
        xml = (b'<?xml version="1.0"?>\n<Patient xmlns="http://hl7.org/fhir">\n  <id value="p1"/>\n'
               b'  <active value="true"/>\n</Patient>\n')
        result = parse_bytes(xml)
        assert result.resource == {"resourceType": "Patient", "id": "p1", "active": True}
        assert result.source_map.lookup(("active",))[0] == 4

    def test_malformed_xml_is_fatal_with_a_position(self) -> None:
        [issue] = parse_bytes(b'<Patient xmlns="http://hl7.org/fhir">\n  <id value="p1">\n</Patient>').issues
        assert issue.severity == "fatal" and issue.line is not None
