"""run_view: the SQL-on-FHIR v2 processing rules, each shown failing (or absent) and holding."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fhir_service.transform.views import ViewDefinitionError, compile_view, run_view

PATIENTS: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p1", "active": True, "birthDate": "1980-05-01",
     "name": [{"use": "official", "family": "Ng", "given": ["Ana", "B"]}, {"family": "Ngo"}],
     "link": [{"other": {"reference": "urn:uuid:u2"}}]},
    {"resourceType": "Patient", "id": "p2", "active": False},
    {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}},
]


def view(*selects: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resource": "Patient", "select": list(selects), **extra}


def col(name: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "path": path, **extra}


def rows(v: dict[str, Any], resources: list[dict[str, Any]] = PATIENTS, **kw: Any) -> list[dict[str, Any]]:
    return list(run_view(v, resources, **kw))


def test_only_resources_of_the_view_type_give_rows() -> None:
    assert rows(view({"column": [col("id", "id")]})) == [{"id": "p1"}, {"id": "p2"}]
    assert rows({"resource": "Observation", "select": [{"column": [col("id", "id")]}]}) == [{"id": "o1"}]


def test_items_that_are_not_resources_are_skipped() -> None:
    assert rows(view({"column": [col("id", "id")]}), [None, "x", {"id": "p9"}, PATIENTS[1]]) == [{"id": "p2"}]


def test_where_keeps_resources_whose_path_is_true_and_drops_false_and_empty() -> None:
    assert rows(view({"column": [col("id", "id")]}, where=[{"path": "active"}])) == [{"id": "p1"}]
    assert rows(view({"column": [col("id", "id")]}, where=[{"path": "deceased.exists()"}])) == []


def test_where_that_is_not_boolean_is_an_error_naming_the_resource() -> None:
    with pytest.raises(ViewDefinitionError, match="Patient/p1: where 'name.family' must give a boolean"):
        rows(view({"column": [col("id", "id")]}, where=[{"path": "name.family"}]))


def test_a_column_with_several_values_needs_collection_true() -> None:
    with pytest.raises(ViewDefinitionError, match="Patient/p1: column 'given' .* gives 2 values"):
        rows(view({"column": [col("given", "name.given")]}))
    assert rows(view({"column": [col("given", "name.given", collection=True)]})) == [
        {"given": ["Ana", "B"]}, {"given": []}]


def test_empty_column_is_null() -> None:
    assert rows(view({"column": [col("g", "gender")]})) == [{"g": None}, {"g": None}]


def test_for_each_gives_a_row_per_item_and_none_for_no_item() -> None:
    got = rows(view({"column": [col("id", "id")]}, {"forEach": "name", "column": [col("family", "family")]}))
    assert got == [{"id": "p1", "family": "Ng"}, {"id": "p1", "family": "Ngo"}]


def test_for_each_or_null_gives_one_null_row_for_no_item() -> None:
    got = rows(view({"column": [col("id", "id")]}, {"forEachOrNull": "name", "column": [col("family", "family")]}))
    assert got[-1] == {"id": "p2", "family": None}


def test_this_is_the_for_each_item() -> None:
    got = rows(view({"forEach": "name.given", "column": [col("given", "$this")]}))
    assert got == [{"given": "Ana"}, {"given": "B"}]


def test_nested_selects_multiply_and_union_all_concatenates() -> None:
    got = rows(view({"column": [col("id", "id")],
                     "unionAll": [{"forEach": "name", "column": [col("v", "family")]},
                                  {"forEach": "name.given", "column": [col("v", "$this")]}]}),
               PATIENTS[:1])
    assert got == [{"id": "p1", "v": "Ng"}, {"id": "p1", "v": "Ngo"}, {"id": "p1", "v": "Ana"}, {"id": "p1", "v": "B"}]


def test_columns_come_in_spec_order_column_select_union() -> None:
    v = view({"unionAll": [{"column": [col("u", "'u'")]}], "select": [{"column": [col("s", "'s'")]}],
              "column": [col("c", "'c'")]})
    assert list(rows(v, PATIENTS[:1])[0]) == ["c", "s", "u"] == list(compile_view(v).columns)


def test_repeat_walks_depth_first() -> None:
    qr = {"resourceType": "QuestionnaireResponse", "id": "q", "item": [
        {"linkId": "1", "item": [{"linkId": "1.1"}], "answer": [{"item": [{"linkId": "1.a"}]}]}, {"linkId": "2"}]}
    v = {"resource": "QuestionnaireResponse",
         "select": [{"repeat": ["item", "answer.item"], "column": [col("id", "linkId"), col("i", "%rowIndex")]}]}
    assert rows(v, [qr]) == [{"id": "1", "i": 0}, {"id": "1.1", "i": 1}, {"id": "1.a", "i": 2}, {"id": "2", "i": 3}]


def test_row_index_counts_within_each_for_each() -> None:
    got = rows(view({"forEach": "name", "column": [col("n", "%rowIndex")],
                     "select": [{"forEach": "given", "column": [col("g", "%rowIndex")]}]}), PATIENTS[:1])
    assert got == [{"n": 0, "g": 0}, {"n": 0, "g": 1}]


def test_constants_are_typed_values() -> None:
    v = view({"column": [col("born", "birthDate = %born"), col("official", "name.where(use = %use).family")]},
             constant=[{"name": "born", "valueDate": "1980-05-01"}, {"name": "use", "valueCode": "official"}])
    assert rows(v, PATIENTS[:1]) == [{"born": True, "official": "Ng"}]


def test_resource_and_reference_keys_join_through_the_bundle_map() -> None:
    v = view({"column": [col("key", "getResourceKey()"), col("other", "link.other.getReferenceKey(Patient)"),
                         col("wrong_type", "link.other.getReferenceKey(Group)")]})
    mapped = rows(v, PATIENTS[:1], reference_map={"urn:uuid:u2": ("Patient", "p2")})
    assert mapped == [{"key": "Patient/p1", "other": "Patient/p2", "wrong_type": None}]
    # without the Bundle, a urn:uuid reference cannot be tied to a resource: no key
    assert rows(v, PATIENTS[:1])[0]["other"] is None


@pytest.mark.parametrize("reference, key", [
    ("Patient/p2", "Patient/p2"),
    ("http://example.org/fhir/Patient/p2/_history/3", "Patient/p2"),
    ("#contained", None),
])
def test_reference_key_forms(reference: str, key: str | None) -> None:
    patient = {"resourceType": "Patient", "id": "p1", "link": [{"other": {"reference": reference}}]}
    assert rows(view({"column": [col("k", "link.other.getReferenceKey()")]}), [patient]) == [{"k": key}]


def test_rows_stream_one_resource_at_a_time() -> None:
    pulled: list[str] = []

    def source() -> Iterator[dict[str, Any]]:
        for index in range(1_000_000):
            pulled.append(str(index))
            yield {"resourceType": "Patient", "id": f"p{index}"}

    stream = run_view(view({"column": [col("id", "id")]}), source())
    assert next(stream) == {"id": "p0"} and next(stream) == {"id": "p1"}
    assert pulled == ["0", "1"]


def test_a_compiled_view_is_reused_as_is() -> None:
    compiled = compile_view(view({"column": [col("id", "id")]}))
    assert rows(compiled) == rows(compiled) == [{"id": "p1"}, {"id": "p2"}]


def test_an_invalid_view_fails_before_any_row() -> None:
    with pytest.raises(ViewDefinitionError, match="resource is required"):
        run_view({"select": [{"column": [col("id", "id")]}]}, PATIENTS)
