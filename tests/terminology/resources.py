"""Small CodeSystems and ValueSets written for these tests (the core package has few filter examples)."""
from __future__ import annotations

from typing import Any

TOX = "http://example.org/fhir/CodeSystem/toxicity"
TOX_VS = "http://example.org/fhir/ValueSet/"


def toxicity_code_system(**overrides: Any) -> dict[str, Any]:
    """A hierarchy built the three FHIR ways: nesting, `parent`/`subsumedBy` properties, `child` properties."""
    resource: dict[str, Any] = {
        "resourceType": "CodeSystem", "id": "toxicity", "url": TOX, "version": "1.0.0", "status": "active",
        "content": "complete", "caseSensitive": True, "hierarchyMeaning": "is-a",
        "property": [{"code": "parent", "type": "code"}, {"code": "subsumedBy", "type": "code"},
                     {"code": "child", "type": "code"}, {"code": "organ", "type": "code"},
                     {"code": "grade", "type": "integer"}, {"code": "notSelectable", "type": "boolean"}],
        "concept": [
            {"code": "toxicity", "display": "CAR-T toxicity",
             "property": [{"code": "notSelectable", "valueBoolean": True}],
             "concept": [
                 {"code": "crs", "display": "Cytokine release syndrome",
                  "designation": [{"language": "de", "value": "Zytokin-Freisetzungssyndrom"},
                                  {"use": {"system": "http://snomed.info/sct", "code": "900000000000013009"},
                                   "value": "Cytokine storm"}],
                  "property": [{"code": "organ", "valueCode": "systemic"}],
                  "concept": [
                      {"code": "crs-g1", "display": "CRS grade 1", "property": [{"code": "grade", "valueInteger": 1}]},
                      {"code": "crs-g2", "display": "CRS grade 2", "property": [{"code": "grade", "valueInteger": 2}]},
                  ]},
                 {"code": "icans", "display": "Immune effector cell-associated neurotoxicity syndrome",
                  "property": [{"code": "organ", "valueCode": "neuro"}]},
             ]},
            {"code": "iec-hs", "display": "IEC-associated HLH-like syndrome",
             "property": [{"code": "parent", "valueCode": "toxicity"}, {"code": "organ", "valueCode": "systemic"}]},
            {"code": "late-crs", "display": "Late-onset CRS", "property": [{"code": "subsumedBy", "valueCode": "crs"}]},
            {"code": "other", "display": "Other event", "property": [{"code": "child", "valueCode": "cytopenia"}]},
            {"code": "cytopenia", "display": "Prolonged cytopenia"},
        ],
    }
    resource.update(overrides)
    return resource


def value_set(vs_id: str, compose: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "id": vs_id, "url": TOX_VS + vs_id, "status": "active",
            "compose": compose, **extra}


def include_filter(prop: str, op: str, value: str, system: str = TOX) -> dict[str, Any]:
    return {"include": [{"system": system, "filter": [{"property": prop, "op": op, "value": value}]}]}
