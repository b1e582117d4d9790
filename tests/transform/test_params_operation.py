"""Parameters (marshmallow) shared by CLI and HTTP, and the framework-free `Bundle/$transform` operation."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fhir_service.transform import TRANSFORMS, run_transform
from fhir_service.transform.operation import transform_operation
from fhir_service.transform.params import RedateParams, TransactionParams, load_params, parameters_to_raw
from tests.transform.conftest import case_bundle


def test_every_transform_has_a_schema() -> None:
    for name in TRANSFORMS:
        assert load_params(name, {"infusionDate": "2030-01-01"} if name == "redate" else {})[1] == []


@pytest.mark.parametrize("name, raw, expected", [
    ("to-transaction", {}, TransactionParams(False)),
    ("to-transaction", {"batch": True}, TransactionParams(True)),
    ("redate", {"infusionDate": "2030-01-31", "freshIds": True, "seed": "a"},
     RedateParams(dt.date(2030, 1, 31), False, True, "a")),
])
def test_good_parameters(name: str, raw: dict[str, Any], expected: Any) -> None:
    assert load_params(name, raw) == (expected, [])


@pytest.mark.parametrize("name, raw, expression, words", [
    ("to-transaction", {"batch": "perhaps"}, "batch", "Not a valid boolean"),
    ("to-transaction", {"bulk": True}, "bulk", "unknown parameter"),
    ("redate", {}, "infusionDate", "is required"),
    ("redate", {"infusionDate": "2030-13-01"}, "infusionDate", "YYYY-MM-DD"),
    ("redate", {"infusionDate": "2030-01-01", "seed": "x"}, "seed", "only meaningful with freshIds"),
    ("redate", {"infusionDate": "2030-01-01", "freshIds": True, "seed": "  "}, "seed", "not blank"),
    ("nonsense", {}, "transform", "unknown transform"),
])
def test_bad_parameters_are_issues_naming_the_parameter(name: str, raw: dict[str, Any], expression: str,
                                                        words: str) -> None:
    params, issues = load_params(name, raw)
    assert params is None
    assert [i.expression for i in issues] == [expression] and words in issues[0].diagnostics


def test_parameters_resource_to_raw() -> None:
    raw, issues = parameters_to_raw({"resourceType": "Parameters", "parameter": [
        {"name": "infusionDate", "valueDate": "2030-01-01"}, {"name": "freshIds", "valueBoolean": True}]})
    assert raw == {"infusionDate": "2030-01-01", "freshIds": True} and issues == []
    raw, issues = parameters_to_raw({"resourceType": "Parameters", "parameter": [
        {"name": "freshIds", "valueBoolean": True}, {"name": "freshIds", "valueBoolean": False},
        {"name": "seed"}]})
    assert [i.diagnostics for i in issues] == ["parameter 'freshIds' is repeated",
                                               "parameter 'seed' needs exactly one of valueBoolean, valueDate, "
                                               "valueString, valueCode, valueInteger"]


def test_run_transform_checks_parameters_before_the_input() -> None:
    result = run_transform("redate", "not a bundle", {})
    assert result.bundle is None and result.issues[0].code == "invalid"
    result = run_transform("redate", "not a bundle", {"infusionDate": "2030-01-01"})
    assert result.issues[0].code == "structure"


def _parameters(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parts)}


def test_operation_returns_the_bundle() -> None:
    status, body = transform_operation(_parameters(
        {"name": "transform", "valueCode": "redate"},
        {"name": "bundle", "resource": case_bundle("004-case1-tisacel-emapalumab")},
        {"name": "infusionDate", "valueDate": "2030-01-01"}))
    assert status == 200 and body["resourceType"] == "Bundle"


@pytest.mark.parametrize("parts, status, words", [
    ([{"name": "transform", "valueCode": "redate"}], 400, "'bundle' (resource) is required"),
    ([{"name": "bundle", "resource": {"resourceType": "Bundle", "type": "collection"}}], 400,
     "'transform' (code) is required"),
    ([{"name": "transform", "valueCode": "to-r5"}, {"name": "bundle", "resource": {"resourceType": "Patient"}}],
     422, "expected a FHIR Bundle"),
    ([{"name": "transform", "valueCode": "redate"},
      {"name": "bundle", "resource": {"resourceType": "Bundle", "type": "collection"}},
      {"name": "infusionDate", "valueDate": "soon"}], 400, "YYYY-MM-DD"),
    ([{"name": "transform", "valueCode": "redate"},
      {"name": "bundle", "resource": {"resourceType": "Bundle", "type": "collection"}},
      {"name": "infusionDate", "valueDate": "2030-01-01"}], 422, "infusion date"),
])
def test_operation_errors_are_operation_outcomes(parts: list[dict[str, Any]], status: int, words: str) -> None:
    got_status, body = transform_operation(_parameters(*parts))
    assert got_status == status and body["resourceType"] == "OperationOutcome"
    assert words in body["issue"][0]["diagnostics"]
