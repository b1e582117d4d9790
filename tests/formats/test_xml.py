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


def messages(result) -> list[str]:
    return [issue.diagnostics for issue in result.issues]


def test_elements_must_follow_the_order_of_their_definition(definitions):
    ordered = parse(f'<Patient {NS}><id value="p"/><active value="true"/><name><family value="X"/></name>'
                    '<gender value="male"/></Patient>', definitions)
    assert ordered.issues == []
    swapped = parse(f'<Patient {NS}><gender value="male"/><name><family value="X"/></name></Patient>', definitions)
    assert [(i.severity, i.expression) for i in swapped.issues] == [("error", "Patient")]
    assert "Element 'name' is out of order (found after gender)" in swapped.issues[0].diagnostics
    nested = parse(f'<Patient {NS}><name><given value="A"/><family value="X"/></name></Patient>', definitions)
    assert nested.issues[0].expression == "Patient.name[0]"


def test_a_repeating_element_split_by_another_is_out_of_order(definitions):
    result = parse(f'<Patient {NS}><name><given value="A"/></name><telecom><value value="1"/></telecom>'
                   '<name><given value="B"/></name></Patient>', definitions)
    assert any("'name' is out of order" in m for m in messages(result))


def test_only_the_attributes_fhir_defines_are_allowed(definitions):
    good = parse(f'<Patient {NS}><extension url="http://x/e"><valueString value="v"/></extension>'
                 '<active id="a1" value="true"/></Patient>', definitions)
    assert good.issues == []
    bad = parse(f'<Patient {NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                f'xsi:schemaLocation="http://hl7.org/fhir x.xsd"><name value="Peter"><family value="X"/></name>'
                '<gender value="male" something="x"/></Patient>', definitions)
    assert messages(bad) == ["Undefined attribute '@xsi:schemaLocation' on Patient for type Patient",
                             "Undefined attribute '@value' on name for type HumanName",
                             "Undefined attribute '@something' on gender for type code"]
    assert "value" not in bad.resource["name"][0]  # reported once, by the reader


def test_elements_must_be_in_the_fhir_namespace_and_the_div_in_xhtml(definitions):
    result = parse(f'<Patient {NS}><active xmlns="http://example.org/other" value="true"/></Patient>', definitions)
    assert any("'active' must be in the FHIR namespace" in m for m in messages(result))
    div = parse(f'<Patient {NS}><text><status value="generated"/><div><p>x</p></div></text></Patient>', definitions)
    assert any("div must be in the XHTML namespace" in m for m in messages(div))
    assert div.resource["text"]["div"].startswith("<div")


def test_comments_and_processing_instructions_are_ignored(definitions):
    result = parse(f'<?xml version="1.0"?><?xml-stylesheet href="x.xsl"?><!-- a comment --><Patient {NS}>'
                   '<!-- inside --><active value="true"/></Patient>', definitions)
    assert result.issues == [] and result.resource == {"resourceType": "Patient", "active": True}


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE Patient [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
    '<!DOCTYPE Patient SYSTEM "http://example.org/patient.dtd">',
])
def test_a_dtd_is_refused_so_no_entity_is_ever_expanded(definitions, doctype):
    with pytest.raises(XmlFormatError, match="DTD"):
        parse(f'<?xml version="1.0"?>{doctype}<Patient {NS}><gender value="male"/></Patient>', definitions)


def test_an_undeclared_entity_is_not_well_formed(definitions):
    with pytest.raises(XmlFormatError, match="not well-formed"):
        parse(f'<Patient {NS}><name><family value="A&reg;"/></name></Patient>', definitions)
