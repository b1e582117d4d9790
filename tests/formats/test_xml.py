"""FHIR XML is read into the FHIR JSON form the spec defines, keeping positions and what the XML really said."""
from __future__ import annotations

import pytest

from fhir_service.formats.xml import XmlFormatError, parse_xml

NS = 'xmlns="http://hl7.org/fhir"'


def parse(text: str, definitions):
    return parse_xml(text, definitions)


def test_repeating_elements_become_arrays_and_single_ones_do_not(definitions):
    result = parse(f'<Patient {NS}><active value="true"/><name><family value="Chalmers"/>'
                   '<given value="Peter"/><given value="James"/></name></Patient>', definitions)
    assert result.resource == {"resourceType": "Patient", "active": True,
                               "name": [{"family": "Chalmers", "given": ["Peter", "James"]}]}


def test_primitive_id_and_extensions_go_to_underscore_siblings_aligned_with_nulls(definitions):
    result = parse(f'<Patient {NS}><name><given value="A"/><given id="g2" value="B">'
                   '<extension url="http://x/e"><valueString value="v"/></extension></given></name>'
                   '<birthDate id="b"/></Patient>', definitions)
    name = result.resource["name"][0]
    assert name["given"] == ["A", "B"]
    assert name["_given"] == [None, {"extension": [{"url": "http://x/e", "valueString": "v"}], "id": "g2"}]
    assert result.resource["_birthDate"] == {"id": "b"}
    assert "birthDate" not in result.resource


def test_numbers_and_booleans_take_their_json_types_and_bad_values_stay_strings(definitions):
    result = parse(f'<Observation {NS}><status value="final"/><code><text value="x"/></code>'
                   '<valueQuantity><value value="5.40"/><unit value="mg"/></valueQuantity>'
                   '<component><code><text value="y"/></code><valueInteger value="7"/></component>'
                   '<component><code><text value="z"/></code><valueBoolean value="yes"/></component>'
                   '</Observation>', definitions)
    assert result.resource["valueQuantity"] == {"value": 5.4, "unit": "mg"}
    assert result.resource["component"][0]["valueInteger"] == 7
    assert result.resource["component"][1]["valueBoolean"] == "yes"  # left for the validator to reject


def test_contained_resources_and_bundle_entries_are_objects_with_resource_type(definitions):
    result = parse(f'<Bundle {NS}><type value="collection"/><entry><fullUrl value="urn:uuid:1"/><resource>'
                   '<Patient><id value="p"/><contained><Organization><id value="o"/></Organization></contained>'
                   '</Patient></resource></entry></Bundle>', definitions)
    patient = result.resource["entry"][0]["resource"]
    assert patient == {"resourceType": "Patient", "id": "p", "contained": [{"resourceType": "Organization", "id": "o"}]}
    assert result.positions[("entry", 0, "resource", "contained", 0)][0] == 1


def test_narrative_div_is_kept_as_xhtml_text(definitions):
    result = parse(f'<Patient {NS}><text><status value="generated"/>'
                   '<div xmlns="http://www.w3.org/1999/xhtml"><p>Hi <b>there</b> &amp; all</p></div></text></Patient>',
                   definitions)
    assert result.resource["text"]["div"] == '<div xmlns="http://www.w3.org/1999/xhtml"><p>Hi <b>there</b> &amp; all</p></div>'


def test_unknown_elements_are_kept_so_the_validator_can_report_them(definitions):
    result = parse(f'<Patient {NS}><colour value="blue"/><active value="true"/></Patient>', definitions)
    assert result.resource["colour"] == "blue"


def test_positions_are_line_and_column_of_each_element(definitions):
    text = f'<Patient {NS}>\n  <active value="true"/>\n  <name>\n    <family value="X"/>\n  </name>\n</Patient>'
    result = parse(text, definitions)
    assert result.positions[("active",)] == (2, 3)
    assert result.positions[("name", 0, "family")] == (4, 5)


def test_malformed_xml_is_an_error_with_its_position(definitions):
    with pytest.raises(XmlFormatError) as excinfo:
        parse(f'<Patient {NS}>\n<active value="true">\n</Patient>', definitions)
    assert excinfo.value.line == 3
    assert "not well-formed" in str(excinfo.value)


def test_a_root_outside_the_fhir_namespace_is_rejected(definitions):
    with pytest.raises(XmlFormatError, match="FHIR namespace"):
        parse('<Patient><active value="true"/></Patient>', definitions)
