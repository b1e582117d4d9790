"""fhirpy (beda.software's FHIR client, sync API) reading and searching the preloaded CAR-T case reports.

Each test asks the server what one published case holds and compares the answer with the bundle files
(tests/clients/published.py), so the assertions are about clinical data, not only statuses.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.clients import published as pub

fhirpy = pytest.importorskip("fhirpy", reason="fhirpy (test extra) is not installed")
from fhirpy.base.exceptions import ResourceNotFound  # noqa: E402


@pytest.fixture(scope="module")
def client(base_url: str) -> Any:
    return fhirpy.SyncFHIRClient(base_url)


def quantities(resources: list[Any]) -> set[tuple[Any, Any, Any]]:
    return {(r["valueQuantity"]["value"], r["valueQuantity"].get("comparator"), r["valueQuantity"]["unit"])
            for r in resources}


def test_read_patient_by_id_returns_the_published_demographics(client: Any) -> None:
    patient = client.reference("Patient", pub.CASE3_PATIENT).to_resource()
    published = pub.by_id("Patient", pub.CASE3_PATIENT)
    assert patient["gender"] == published["gender"] == "female"
    ages = [x["valueAge"] for x in patient["extension"] if x["url"].endswith("/age-at-infusion")]
    assert ages == [x["valueAge"] for x in published["extension"] if x["url"].endswith("/age-at-infusion")]
    assert ages[0]["value"] == 38 and ages[0]["code"] == "a"


def test_read_of_an_unknown_patient_is_not_found(client: Any) -> None:
    with pytest.raises(ResourceNotFound):
        client.reference("Patient", "no-such-patient").to_resource()


def test_ferritin_of_one_patient_by_loinc_code(client: Any) -> None:
    found = client.resources("Observation").search(
        patient=pub.CASE3_PATIENT, code=f"{pub.LOINC}|{pub.FERRITIN}").fetch_all()
    expected = pub.with_code("Observation", pub.LOINC, pub.FERRITIN, pub.CASE3_PATIENT)
    assert pub.ids(found) == pub.ids(expected) and len(found) == len(expected)
    # the report: ferritin above 70,000 ng/mL before etoposide, later below 20,000
    assert quantities(found) == quantities(expected) == {(70000, ">", "ng/mL"), (20000, "<", "ng/mL")}


def test_crp_of_the_psca_case_by_subject_reference_and_code(client: Any) -> None:
    found = client.resources("Observation").search(
        subject=f"Patient/{pub.PSCA_PATIENT}", code=f"{pub.LOINC}|{pub.CRP}").fetch_all()
    expected = pub.with_code("Observation", pub.LOINC, pub.CRP, pub.PSCA_PATIENT)
    assert expected and pub.ids(found) == pub.ids(expected)
    assert (96.77, None, "mg/L") in quantities(found)


def test_a_code_of_another_system_matches_nothing(client: Any) -> None:
    # 2276-4 is a LOINC code; under RxNorm it names nothing in these cases
    assert client.resources("Observation").search(code=f"{pub.RXNORM}|{pub.FERRITIN}").fetch() == []
    assert client.resources("Observation").search(patient=pub.CASE3_PATIENT,
                                                  code=f"{pub.LOINC}|{pub.CRP}").fetch() == []


def test_observations_by_date_range(client: Any) -> None:
    found = client.resources("Observation").search(date__ge="2024-01-01", date__lt="2024-01-15").fetch_all()
    expected = pub.effective_between("Observation", "2024-01-01", "2024-01-15")
    assert expected and pub.ids(found) == pub.ids(expected)
    assert all("2024-01-01" <= r["effectiveDateTime"][:10] < "2024-01-15" for r in found)


def test_a_date_range_before_every_case_matches_nothing(client: Any) -> None:
    assert client.resources("Observation").search(date__ge="1990-01-01", date__lt="2000-01-01").fetch() == []


def test_medication_administrations_of_the_patient(client: Any) -> None:
    found = client.resources("MedicationAdministration").search(patient=pub.CASE3_PATIENT).fetch_all()
    expected = pub.of_patient("MedicationAdministration", pub.CASE3_PATIENT)
    assert pub.ids(found) == pub.ids(expected)
    drugs = {c for r in found for c in pub.codings(r, "medicationCodeableConcept")}
    # the report: anakinra, methylprednisolone then etoposide for IEC-HS after a CD22 CAR-T infusion
    assert {(pub.RXNORM, "72435"), (pub.RXNORM, "6902"), (pub.RXNORM, "4179")} <= drugs


def test_conditions_by_icd10cm_crs_code(client: Any) -> None:
    for code in (pub.CRS_GRADE_2, pub.CRS_GRADE_4):
        found = client.resources("Condition").search(code=f"{pub.ICD10CM}|{code}").fetch_all()
        expected = pub.with_code("Condition", pub.ICD10CM, code)
        assert expected and pub.ids(found) == pub.ids(expected), code
        assert all((pub.ICD10CM, code) in pub.codings(r) for r in found)


def test_crs_codes_combined_with_a_comma_are_or(client: Any) -> None:
    found = client.resources("Condition").search(
        code=f"{pub.ICD10CM}|{pub.CRS_GRADE_2},{pub.ICD10CM}|{pub.CRS_GRADE_4}").fetch_all()
    expected = pub.with_code("Condition", pub.ICD10CM, pub.CRS_GRADE_2) + \
        pub.with_code("Condition", pub.ICD10CM, pub.CRS_GRADE_4)
    assert pub.ids(found) == pub.ids(expected)


def test_a_crs_grade_no_case_reports_matches_nothing(client: Any) -> None:
    assert not pub.with_code("Condition", pub.ICD10CM, pub.CRS_GRADE_5)
    assert client.resources("Condition").search(code=f"{pub.ICD10CM}|{pub.CRS_GRADE_5}").fetch() == []


def test_iteration_follows_next_links_across_pages(client: Any) -> None:
    search = client.resources("Observation").limit(10)
    first_page = search.fetch_raw()
    assert len(first_page["entry"]) == 10
    assert any(link["relation"] == "next" for link in first_page["link"])
    everything = list(search)  # fhirpy's iterator walks Bundle.link[next] until there is none
    expected = pub.resources("Observation")
    assert len(expected) > 10
    assert len(everything) == len(expected) and pub.ids(everything) == pub.ids(expected)


def test_count_is_the_number_of_published_resources(client: Any) -> None:
    assert client.resources("Condition").count() == len(pub.resources("Condition"))
    assert client.resources("MedicationAdministration").search(patient=pub.PSCA_PATIENT).count() == \
        len(pub.of_patient("MedicationAdministration", pub.PSCA_PATIENT))


def test_a_malformed_date_is_an_operation_outcome_fhirpy_raises(client: Any) -> None:
    with pytest.raises(fhirpy.base.exceptions.OperationOutcome) as raised:
        client.resources("Observation").search(date="2024-13").fetch()
    issue = raised.value.resource["issue"][0]
    assert issue["severity"] in ("error", "fatal") and issue["code"] == "invalid"
