"""The typed walk: each primitive visited with its FHIR type from the R4 definitions, nothing guessed."""
from __future__ import annotations

from typing import Any

from fhir_service.transform.element_types import shared_element_types, walk_typed


def visited(resource: dict[str, Any]) -> dict[str, str]:
    seen: dict[str, str] = {}

    def visit(type_code: str, path: tuple[str, ...], value: Any) -> Any:
        seen[".".join(path)] = type_code
        return value

    walk_typed(resource, resource["resourceType"], visit)
    return seen


def test_choice_types_backbones_and_primitive_extensions() -> None:
    seen = visited({
        "resourceType": "Observation", "status": "final", "effectivePeriod": {"start": "2024-01-01"},
        "valueString": "2024-01-01", "issued": "2024-01-01T00:00:00Z",
        "component": [{"code": {"text": "x"}, "valueDateTime": "2024-01-02"}],
        "_status": {"extension": [{"url": "http://x", "valueDate": "2024-01-03"}]},
    })
    assert seen["effectivePeriod.start"] == "dateTime"
    assert seen["valueString"] == "string"
    assert seen["issued"] == "instant"
    assert seen["component.valueDateTime"] == "dateTime"
    assert seen["_status.extension.valueDate"] == "date"


def test_nested_and_contained_resources_use_their_own_type() -> None:
    seen = visited({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "birthDate": "2000-01-01",
                      "contained": [{"resourceType": "Condition", "onsetDateTime": "2010"}]}}]})
    assert seen["entry.resource.birthDate"] == "date"
    assert seen["entry.resource.contained.onsetDateTime"] == "dateTime"


def test_unknown_elements_are_copied_not_visited() -> None:
    resource = {"resourceType": "Patient", "notAnElement": "2024-01-01"}
    assert visited(resource) == {}
    assert walk_typed(resource, "Patient", lambda t, p, v: "changed") == resource


def test_cardinality_is_known() -> None:
    types = shared_element_types()
    assert types.child("Patient", "name").many and not types.child("Patient", "birthDate").many
    assert types.child("Encounter.diagnosis", "rank").type == "positiveInt"
