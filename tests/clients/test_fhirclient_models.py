"""fhirclient (SMART on FHIR's Python client, R4 4.0.1 models) parsing what the server returns.

fhirclient's models are strict: an element R4 does not define, a wrong JSON type or a missing required
element raises FHIRValidationError. Parsing every preloaded resource, and getting back (as_json) exactly
what the bundles publish, shows that the server's output is R4 and that storage lost nothing.
"""
from __future__ import annotations

import importlib
from typing import Any

import pytest

from tests.clients import published as pub

fhirclient = pytest.importorskip("fhirclient", reason="fhirclient (test extra) is not installed")
from fhirclient import client as smart_client  # noqa: E402
from fhirclient.models.fhirabstractbase import FHIRValidationError  # noqa: E402
from fhirclient.models.observation import Observation  # noqa: E402
from fhirclient.models.patient import Patient  # noqa: E402

R4_TYPES = sorted({r["resourceType"] for r in pub.resources()})


@pytest.fixture(scope="module")
def server(base_url: str) -> Any:
    smart = smart_client.FHIRClient(settings={"app_id": "cart-tox-client-tests", "api_base": base_url + "/"})
    return smart.server


def model_class(resource_type: str) -> Any:
    module = importlib.import_module(f"fhirclient.models.{resource_type.lower()}")
    return getattr(module, resource_type)


def test_the_models_are_r4_401() -> None:
    source = importlib.import_module("fhirclient.models.patient").__file__
    with open(source, encoding="utf-8") as handle:
        assert "Generated from FHIR 4.0.1" in handle.read(2000)


def test_capability_statement_parses_and_declares_the_searches_used(server: Any) -> None:
    statement = server.capabilityStatement  # fetched from /metadata, parsed strictly
    assert statement.fhirVersion == "4.0.1" and statement.kind == "instance"
    resources = {r.type: r for r in statement.rest[0].resource}
    observation_params = {p.name: p.type for p in resources["Observation"].searchParam}
    assert observation_params["code"] == "token" and observation_params["date"] == "date"
    assert observation_params["patient"] == "reference"
    assert {i.code for i in resources["Observation"].interaction} >= {"read", "search-type", "create"}


def test_patient_read_into_the_r4_model(server: Any) -> None:
    patient = Patient.read(pub.PSCA_PATIENT, server)
    assert isinstance(patient, Patient) and patient.gender == "male"
    age = next(x.valueAge for x in patient.extension if x.url.endswith("/age-at-infusion"))
    assert (age.value, age.unit) == (67, "years")
    published = pub.by_id("Patient", pub.PSCA_PATIENT)
    doi = next(x["valueString"] for x in published["extension"] if x["url"].endswith("/source-publication"))
    assert doi in [x.valueString for x in patient.extension]


def test_search_results_are_r4_observations_with_their_quantities(server: Any) -> None:
    search = Observation.where(struct={"patient": pub.PSCA_PATIENT, "code": f"{pub.LOINC}|{pub.FERRITIN}"})
    found = list(search.perform_resources_iter(server))
    expected = pub.with_code("Observation", pub.LOINC, pub.FERRITIN, pub.PSCA_PATIENT)
    assert all(isinstance(o, Observation) for o in found)
    assert {o.id for o in found} == pub.ids(expected)
    values = sorted((o.valueQuantity.value, o.valueQuantity.comparator) for o in found)
    assert values == sorted((r["valueQuantity"]["value"], r["valueQuantity"].get("comparator")) for r in expected)
    assert (9580, None) in values  # the report's peak ferritin, ng/mL


def test_search_bundle_pages_parse_as_r4_bundles(server: Any) -> None:
    pages = list(Observation.where(struct={"_count": "25"}).perform_iter(server))
    total = len(pub.resources("Observation"))
    assert len(pages) == -(-total // 25)  # the client followed every next link
    assert all(p.type == "searchset" for p in pages)
    assert sum(len(p.entry or []) for p in pages) == total
    assert all(link.relation in ("self", "next", "previous", "first", "last") for p in pages for link in p.link)


@pytest.mark.parametrize("resource_type", R4_TYPES)
def test_every_preloaded_resource_parses_and_round_trips(server: Any, resource_type: str) -> None:
    model = model_class(resource_type)
    found = {r.id: r for r in model.where(struct={"_count": "200"}).perform_resources_iter(server)}
    expected = {r["id"]: r for r in pub.resources(resource_type)}
    assert set(found) == set(expected)
    for id, resource in found.items():
        served = pub.without_server_meta(resource.as_json())
        published = pub.without_primitive_extensions(pub.without_server_meta(expected[id]))
        assert served == published, f"{resource_type}/{id} differs from its bundle"


def test_the_models_reject_what_r4_does_not_define() -> None:
    """The check above can fail: the same models refuse an element R4 has not got."""
    with pytest.raises(FHIRValidationError):
        Observation({"resourceType": "Observation", "status": "final", "code": {"text": "CRP"},
                     "valueQuantity": {"value": 96.77, "unit": "mg/L"}, "severity": "grade 3"})
