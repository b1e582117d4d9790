"""Fresh ids (redate --fresh-ids): identifiers the Bundle owns get the seed's suffix; outside ones stay."""
from __future__ import annotations

from typing import Any

from fhir_service.transform.fresh_ids import refresh, suffix_of

SUFFIX = suffix_of("s")
OWN = {"system": "https://fhir.cart-tox.org/case-resource", "value": "case/patient"}
NPI = {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}


def bundle() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "identifier": {"system": "https://fhir.cart-tox.org/case", "value": "case"},
            "entry": [
                {"fullUrl": "urn:uuid:6d1c1f0e-1111-4222-8333-944455556666",
                 "resource": {"resourceType": "Patient", "id": "6d1c1f0e-1111-4222-8333-944455556666",
                              "identifier": [OWN]}},
                {"fullUrl": "urn:uuid:7d1c1f0e-1111-4222-8333-944455556666",
                 "resource": {"resourceType": "Observation", "id": "7d1c1f0e-1111-4222-8333-944455556666",
                              "identifier": [{"system": "urn:x", "value": "obs"}],
                              "status": "final", "code": {"text": "x"},
                              "subject": {"identifier": OWN, "display": "the case's patient"},
                              "performer": [{"identifier": NPI}]}},
            ]}


def test_every_owned_identifier_gets_the_suffix_once() -> None:
    out = refresh(bundle(), "s")
    patient, observation = (e["resource"] for e in out["entry"])
    assert out["identifier"]["value"] == "case" + SUFFIX
    assert patient["identifier"] == [{**OWN, "value": "case/patient" + SUFFIX}]
    assert observation["identifier"] == [{"system": "urn:x", "value": "obs" + SUFFIX}]


def test_a_logical_reference_follows_an_owned_identifier_but_not_an_outside_one() -> None:
    observation = refresh(bundle(), "s")["entry"][1]["resource"]
    assert observation["subject"]["identifier"]["value"] == "case/patient" + SUFFIX
    assert observation["performer"] == [{"identifier": NPI}]


def test_the_same_seed_gives_the_same_copy_and_the_input_is_not_changed() -> None:
    original = bundle()
    assert refresh(original, "s") == refresh(bundle(), "s")
    assert original == bundle()
