"""JSON -> XML (rest.xml_writer) -> JSON (formats.xml.parse_xml) gives back the same resource."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir_service.definitions import Definitions
from fhir_service.formats.xml import parse_xml
from fhir_service.rest.xml_writer import to_xml
from fhir_service.store import fhirjson
from tests.conftest import CONFORMANCE_DATA, REPO


def normal(value: Any) -> Any:
    """Differences XML itself erases: number types, `&quot;` vs `"` and CRLF inside the narrative."""
    if isinstance(value, dict):
        return {k: (v.replace("&quot;", '"').replace("\r\n", "\n") if k == "div" else normal(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def test_round_trip_of_every_case_bundle_and_fixture(definitions: Definitions) -> None:
    files = sorted((REPO / "bundles").glob("*.json")) + \
        sorted((CONFORMANCE_DATA / "fhir-candle-search" / "fixtures-r4").glob("*.json"))
    assert len(files) > 10
    for path in files:
        resource = fhirjson.loads(path.read_bytes())
        back = parse_xml(to_xml(resource, definitions), definitions)
        assert normal(back.resource) == normal(resource), path.name


def test_element_order_attributes_and_primitive_extensions(definitions: Definitions) -> None:
    patient = {"resourceType": "Patient", "gender": "male", "id": "p", "active": True,
               "name": [{"id": "n1", "family": "O'Brien & <Sons>"}],
               "_gender": {"extension": [{"url": "http://example.org/e", "valueCode": "x"}]},
               "extension": [{"url": "http://example.org/age", "valueDecimal": Decimal("1.50")}]}
    xml = to_xml(patient, definitions)
    assert xml.index("<id value=\"p\"/>") < xml.index("<extension") < xml.index("<active") < xml.index("<name")
    assert '<name id="n1"><family value="O\'Brien &amp; &lt;Sons&gt;"/></name>' in xml
    assert '<extension url="http://example.org/age"><valueDecimal value="1.50"/></extension>' in xml
    assert '<gender value="male"><extension url="http://example.org/e">' in xml
