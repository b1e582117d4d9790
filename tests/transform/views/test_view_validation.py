"""ViewDefinition validation: every rule rejects a broken view with a located Issue and accepts the fixed one."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_service.transform.views import ViewDefinitionError, compile_view, validate_view

VALID: dict[str, Any] = {
    "resourceType": "ViewDefinition",
    "name": "patient_names",
    "resource": "Patient",
    "constant": [{"name": "use", "valueCode": "official"}],
    "where": [{"path": "active = true"}],
    "select": [
        {"column": [{"name": "id", "path": "getResourceKey()"}]},
        {"forEach": "name.where(use = %use)", "column": [{"name": "family", "path": "family"}]},
        {"unionAll": [{"column": [{"name": "tel", "path": "telecom.value.first()"}]},
                      {"forEach": "contact", "column": [{"name": "tel", "path": "telecom.value.first()"}]}]},
    ],
}


def broken(change: Any) -> dict[str, Any]:
    view = copy.deepcopy(VALID)
    change(view)
    return view


def errors(view: Any) -> list[str]:
    return [f"{issue.expression}: {issue.diagnostics}" for issue in validate_view(view) if issue.is_error]


def test_a_valid_view_has_no_issue_and_compiles() -> None:
    assert validate_view(VALID) == []
    assert compile_view(VALID).columns == ("id", "family", "tel")


@pytest.mark.parametrize("change, where, words", [
    (lambda v: v.pop("resource"), "ViewDefinition.resource", "is required"),
    (lambda v: v.update(resource="patient"), "ViewDefinition.resource", "resource type name"),
    (lambda v: v.update(resourceType="Library"), "ViewDefinition.resourceType", "expected resourceType ViewDefinition"),
    (lambda v: v.update(name="lab-values"), "ViewDefinition.name", "SQL-friendly identifier"),
    (lambda v: v.pop("select"), "ViewDefinition.select", "is required"),
    (lambda v: v.update(select=[]), "ViewDefinition.select", "must not be empty"),
    (lambda v: v.update(select={}), "ViewDefinition.select", "must be an array"),
    (lambda v: v["select"][0]["column"][0].update(name="1st"), "ViewDefinition.select[0].column[0].name",
     "identifier"),
    (lambda v: v["select"][0]["column"][0].pop("name"), "ViewDefinition.select[0].column[0].name", "identifier"),
    (lambda v: v["select"][0]["column"][0].pop("path"), "ViewDefinition.select[0].column[0].path", "is required"),
    (lambda v: v["select"][1]["column"][0].update(name="id"), "ViewDefinition.select", "more than once"),
    (lambda v: v["select"][1].update(forEach=1), "ViewDefinition.select[1].forEach", "must be a FHIRPath"),
    (lambda v: v["select"][1].update(forEach="@@"), "ViewDefinition.select[1].forEach", "invalid FHIRPath"),
    (lambda v: v["select"][1].update(forEachOrNull="name"), "ViewDefinition.select[1]", "cannot be used together"),
    (lambda v: v["select"][1].update(forEch="name"), "ViewDefinition.select[1].forEch", "unknown element"),
    (lambda v: v["select"][0]["column"][0].update(collection="yes"), "ViewDefinition.select[0].column[0].collection",
     "true or false"),
    (lambda v: v["select"][2]["unionAll"][1]["column"][0].update(name="phone"), "ViewDefinition.select[2].unionAll[1]",
     "same columns in the same order"),
    (lambda v: v["select"][2].update(unionAll=[]), "ViewDefinition.select[2].unionAll", "must not be empty"),
    (lambda v: v["where"][0].update(path="active = %unknown"), "ViewDefinition.where[0].path",
     "%unknown is not a constant"),
    (lambda v: v["where"].append({}), "ViewDefinition.where[1].path", "is required"),
    (lambda v: v["constant"][0].pop("valueCode"), "ViewDefinition.constant[0]", "exactly one value[x]"),
    (lambda v: v["constant"][0].update(valueString="x"), "ViewDefinition.constant[0]", "exactly one value[x]"),
    (lambda v: v["constant"][0].update(name="my use"), "ViewDefinition.constant[0].name", "identifier"),
    (lambda v: v["constant"].append({"name": "use", "valueCode": "usual"}), "ViewDefinition.constant[1].name",
     "more than once"),
    (lambda v: v["select"].append({}), "ViewDefinition.select[3]", "needs a column, select or unionAll"),
    (lambda v: v["select"][1].update(repeat=[]), "ViewDefinition.select[1]", "cannot be used together"),
])
def test_each_rule_rejects_a_broken_view_where_it_breaks(change: Any, where: str, words: str) -> None:
    found = errors(broken(change))
    assert any(line.startswith(f"{where}: ") and words in line for line in found), found


def test_not_an_object_is_an_issue_not_a_crash() -> None:
    assert errors([]) == ["ViewDefinition: a ViewDefinition must be a JSON object, got list"]


def test_builtin_variables_are_known_without_constants() -> None:
    view = {"resource": "Patient", "select": [{"column": [
        {"name": "a", "path": "%resource.id"}, {"name": "b", "path": "%rowIndex"},
        {"name": "c", "path": "%ucum"}, {"name": "d", "path": "%`vs-administrative-gender`"}]}]}
    assert validate_view(view) == []


def test_compile_raises_with_every_issue() -> None:
    view = broken(lambda v: (v.pop("resource"), v["select"][1].update(forEach="@@")))
    with pytest.raises(ViewDefinitionError) as caught:
        compile_view(view)
    assert len(caught.value.issues) == 2
    assert "ViewDefinition.resource is required" in str(caught.value)
