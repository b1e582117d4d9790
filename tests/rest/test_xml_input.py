"""XML request bodies: refused (400) only when they cannot be read as FHIR; what the XML reader finds besides
(element order, `xsi:schemaLocation` and other undefined attributes) is a validation finding, reported by
`$validate` and by validate-on-write, as the HL7 validator and other servers treat published examples."""
from __future__ import annotations

from pathlib import Path

from fhir_service.rest import FhirRest, RestConfig
from fhir_service.store.sql_repository import SqlRepository
from tests.rest.conftest import Client

XML = {"Content-Type": "application/fhir+xml"}
# a published-example style Patient: schemaLocation on the root, gender before name (definition order is
# name, telecom, gender)
PATIENT_OUT_OF_ORDER = (
    '<Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xsi:schemaLocation="http://hl7.org/fhir ../../schema/patient.xsd">'
    '<gender value="female"/><name><family value="Doe"/></name></Patient>')
PATIENT_IN_ORDER = ('<Patient xmlns="http://hl7.org/fhir"><name><family value="Doe"/></name>'
                    '<gender value="female"/></Patient>')


def test_xml_with_validation_findings_is_created(client: Client) -> None:
    response = client("POST", "/Patient", PATIENT_OUT_OF_ORDER, headers=XML)
    assert response.status == 201, response.body
    stored = client("GET", f"/Patient/{response.body['id']}").body
    assert stored["gender"] == "female" and stored["name"][0]["family"] == "Doe"


def test_xml_that_is_not_readable_is_400(client: Client) -> None:
    for body in ('<Patient xmlns="http://hl7.org/fhir"><name>',  # not well-formed
                 '<Patient><gender value="male"/></Patient>',  # not in the FHIR namespace
                 '<!DOCTYPE Patient [<!ENTITY x "y">]><Patient xmlns="http://hl7.org/fhir"/>'):  # a DTD
        response = client("POST", "/Patient", body, headers=XML)
        assert response.status == 400, body
        assert response.body["issue"][0]["code"] == "structure"


def test_validate_reports_xml_findings(client: Client) -> None:
    response = client("POST", "/Patient/$validate", PATIENT_OUT_OF_ORDER, headers=XML)
    assert response.status == 200
    messages = [issue.get("diagnostics", "") for issue in response.body["issue"]
                if issue["severity"] in ("error", "fatal")]
    assert any("out of order" in m for m in messages), messages
    assert any("schemaLocation" in m for m in messages), messages


def test_validate_of_xml_in_order_has_no_xml_findings(client: Client) -> None:
    response = client("POST", "/Patient/$validate", PATIENT_IN_ORDER, headers=XML)
    assert response.status == 200
    messages = [issue.get("diagnostics", "") for issue in response.body["issue"]]
    assert not any("out of order" in m or "schemaLocation" in m for m in messages), messages


def test_enforce_refuses_xml_findings_warn_keeps_them(tmp_path: Path) -> None:
    repo = SqlRepository(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        enforce = Client(FhirRest(repo, config=RestConfig(validate_on_write="enforce")))
        refused = enforce("POST", "/Patient", PATIENT_OUT_OF_ORDER, headers=XML)
        assert refused.status == 422
        assert any("out of order" in i.get("diagnostics", "") for i in refused.body["issue"])
        assert enforce("POST", "/Patient", PATIENT_IN_ORDER, headers=XML).status == 201
        warn = Client(FhirRest(repo, config=RestConfig(validate_on_write="warn")))
        kept = warn("POST", "/Patient", PATIENT_OUT_OF_ORDER,
                    headers={**XML, "Prefer": "return=OperationOutcome"})
        assert kept.status == 201
        assert any("out of order" in i.get("diagnostics", "") for i in kept.body["issue"])
    finally:
        repo.close()
