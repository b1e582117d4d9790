"""The parse-level check (rest.shape): what a FHIR JSON parser rejects, and what it leaves to validation."""
from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_service.definitions import Definitions
from fhir_service.rest.shape import check


@pytest.mark.parametrize("resource,expression", [
    ({"resourceType": "Patient", "gender": 5}, "Patient.gender"),
    ({"resourceType": "Patient", "shoeSize": 42}, "Patient.shoeSize"),
    ({"resourceType": "Patient", "name": {"family": "x"}}, "Patient.name"),
    ({"resourceType": "Patient", "gender": ["male"]}, "Patient.gender"),
    ({"resourceType": "Patient", "active": "true"}, "Patient.active"),
    ({"resourceType": "Patient", "birthDate": "2020-13-01"}, "Patient.birthDate"),
    ({"resourceType": "Patient", "birthDate": "2020-01-01T10:00:00Z"}, "Patient.birthDate"),
    ({"resourceType": "Patient", "multipleBirthInteger": Decimal("1.5")}, "Patient.multipleBirthInteger"),
    ({"resourceType": "Patient", "name": [{"given": "Ann"}]}, "Patient.name[0].given"),
    ({"resourceType": "Patient", "contained": [{"resourceType": "Nope"}]}, "Patient.contained[0]"),
    ({"resourceType": "Observation", "component": [{"valueQuantity": {"value": "7"}}]},
     "Observation.component[0].valueQuantity.value"),
    ({"resourceType": "Observation", "valueDate": "2020"}, "Observation.valueDate"),  # not a value[x] type
    ({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "x": 1}}]},
     "Bundle.entry[0].resource.x"),
    ({"resourceType": "Questionnaire", "item": [{"item": [{"linkId": 5}]}]}, "Questionnaire.item[0].item[0].linkId"),
])
def test_what_a_parser_rejects(definitions: Definitions, resource: dict, expression: str) -> None:
    issues = check(resource, definitions)
    assert issues and issues[0].expression == expression and issues[0].is_error


@pytest.mark.parametrize("resource", [
    {"resourceType": "Patient", "gender": "not-a-code"},                                 # terminology
    {"resourceType": "Observation"},                                                     # cardinality
    {"resourceType": "Patient", "extension": [{"url": "http://example.org/x", "valueString": "a"}]},
    {"resourceType": "Patient", "birthDate": "1970", "_birthDate": {"extension": []}},
    {"resourceType": "Patient", "name": [{"given": ["A", None], "_given": [None, {"id": "g"}]}]},
    {"resourceType": "Observation", "valueQuantity": {"value": Decimal("1.50")}, "effectivePeriod": {"start": "2020"}},
    {"resourceType": "Patient", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"/>"}},
])
def test_what_a_parser_accepts(definitions: Definitions, resource: dict) -> None:
    assert check(resource, definitions) == []


def test_integers_are_32_bit_but_decimals_are_not_limited(definitions: Definitions) -> None:
    assert check({"resourceType": "Patient", "multipleBirthInteger": 2 ** 31}, definitions)
    assert not check({"resourceType": "Observation", "valueQuantity": {"value": 10 ** 30}}, definitions)


def test_the_quick_yes_no_walk_agrees_with_the_issue_walk(definitions: Definitions) -> None:
    """`check` answers valid resources from a walk that builds no issues; on every case bundle resource,
    candle fixture and a seeded set of broken variants of them, both walks must agree."""
    import random

    from fhir_service.rest.shape import _resource, _valid_resource
    from tests.store.test_fast_path import sample_resources

    rng = random.Random(7)
    junk = [5, "x", True, None, [], {}, [None], {"x": 1}, Decimal("1.5"), "2020-13-01", ["a"], [{"y": 2}]]

    def mutate(value: object, depth: int = 0) -> object:
        if isinstance(value, dict) and value and depth < 6:
            key = rng.choice(sorted(value))
            if rng.random() < 0.3 and key != "resourceType":
                return {**value, key: rng.choice(junk)}
            return {**value, key: mutate(value[key], depth + 1)}
        if isinstance(value, list) and value and depth < 6:
            index = rng.randrange(len(value))
            return [*value[:index], mutate(value[index], depth + 1), *value[index + 1:]]
        return rng.choice(junk)

    resources = sample_resources()
    variants = resources + [mutate(r) for r in resources for _ in range(3)]
    invalid = 0
    for resource in variants:
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            continue
        issues = list(_resource(resource, resource["resourceType"], definitions))
        assert _valid_resource(resource, definitions) == (not issues), (resource.get("id"), issues[:1])
        invalid += bool(issues)
    assert invalid > 100
