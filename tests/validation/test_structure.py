"""Structure rules of FHIR R4 JSON, each with a failing and a passing example.

JSON types, cardinality, unknown elements, choice types, primitive formats (including impossible calendar dates),
empty values (ele-1), primitive extensions (`_field`), contained resources, narrative, and the shape of
`expression` / `location` on every issue.
"""
from __future__ import annotations

from typing import Any

import pytest

from fhir_service.validation import Validator, validate_resource
from tests.validation.vhelpers import errors, messages


def patient(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
            **fields}


def observation(**fields: Any) -> dict[str, Any]:
    base = {"resourceType": "Observation", "status": "final", "code": {"text": "temperature"},
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}
    base.update(fields)
    return base


def error_at(issues: list, expression: str) -> list:
    return [i for i in errors(issues) if i.expression == expression]


# -- what is a resource at all ------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [[], "Patient", 42, None])
def test_content_that_is_not_an_object_is_fatal(validator: Validator, content: Any) -> None:
    issues = validator.validate(content)
    assert [i.severity for i in issues] == ["fatal"]


def test_resource_type_is_required_and_must_be_known(validator: Validator) -> None:
    assert "resourceType" in errors(validator.validate({"id": "x"}))[0].diagnostics
    unknown = errors(validator.validate({"resourceType": "Chicken"}))
    assert unknown and "Unknown resource type 'Chicken'" in unknown[0].diagnostics
    assert unknown[0].location == ("resourceType",)
    assert not errors(validator.validate(patient()))


def test_validate_resource_is_the_one_call_form(definitions: Any) -> None:
    assert not errors(validate_resource(patient(active=True), definitions))
    assert errors(validate_resource(patient(active="yes"), definitions))


# -- JSON types ---------------------------------------------------------------------------------------------
def test_json_type_of_a_primitive_must_match(validator: Validator) -> None:
    issues = validator.validate(patient(active="yes"))
    assert error_at(issues, "Patient.active"), messages(issues)
    assert error_at(issues, "Patient.active")[0].location == ("active",)
    assert not errors(validator.validate(patient(active=True)))


def test_integer_must_be_a_json_number_in_range(validator: Validator) -> None:
    bad = validator.validate(patient(multipleBirthInteger="2"))
    assert error_at(bad, "Patient.multipleBirth.ofType(integer)")
    assert error_at(validator.validate(patient(multipleBirthInteger=2**40)), "Patient.multipleBirth.ofType(integer)")
    assert not errors(validator.validate(patient(multipleBirthInteger=2)))


def test_complex_element_must_be_an_object(validator: Validator) -> None:
    assert error_at(validator.validate(observation(valueQuantity=5)), "Observation.value.ofType(Quantity)")
    assert not errors(validator.validate(observation(valueQuantity={"value": 5})))


# -- cardinality --------------------------------------------------------------------------------------------
def test_minimum_cardinality(validator: Validator) -> None:
    issues = validator.validate({"resourceType": "Observation", "code": {"text": "x"}})
    assert any("status: minimum required = 1" in i.diagnostics for i in errors(issues)), messages(issues)
    assert not errors(validator.validate(observation()))


def test_single_valued_element_given_as_array(validator: Validator) -> None:
    issues = validator.validate(patient(gender=["male"]))
    assert error_at(issues, "Patient.gender") and "not an array" in error_at(issues, "Patient.gender")[0].diagnostics
    assert not errors(validator.validate(patient(gender="male")))


def test_repeating_element_must_be_an_array(validator: Validator) -> None:
    assert error_at(validator.validate(patient(name={"family": "Doe"})), "Patient.name")
    assert not errors(validator.validate(patient(name=[{"family": "Doe"}])))


def test_empty_array_is_an_error(validator: Validator) -> None:
    assert error_at(validator.validate(patient(name=[])), "Patient.name")


# -- unknown elements and choice types ---------------------------------------------------------------------
def test_unknown_element(validator: Validator) -> None:
    issues = validator.validate(patient(favouriteColour="blue"))
    assert [i.location for i in errors(issues)] == [("favouriteColour",)]
    assert not errors(validator.validate(patient(birthDate="1970-01-01")))


def test_choice_type_names(validator: Validator) -> None:
    assert not errors(validator.validate(observation(valueQuantity={"value": 38.5, "unit": "C"})))
    assert not errors(validator.validate(observation(valueString="high")))
    bad = validator.validate(observation(valueChicken="x"))
    assert any("valueChicken" in i.diagnostics for i in errors(bad))


def test_only_one_choice_of_type(validator: Validator) -> None:
    issues = validator.validate(observation(valueString="high", valueBoolean=True))
    assert any("Only one choice" in i.diagnostics for i in errors(issues))


# -- primitive formats -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,ok", [
    ("1970-01-01", True), ("1970", True), ("1970-12", True), ("2024-02-29", True),
    ("2023-02-30", False), ("2023-04-31", False), ("2023-02-29", False), ("1970-13-01", False), ("01/02/1970", False),
    ("1970-01-01T10:00:00Z", False),
])
def test_date_format_and_real_calendar(validator: Validator, value: str, ok: bool) -> None:
    issues = error_at(validator.validate(patient(birthDate=value)), "Patient.birthDate")
    assert (not issues) == ok, messages(issues)


def test_impossible_date_message_names_the_day(validator: Validator) -> None:
    issue = error_at(validator.validate(patient(birthDate="2023-02-30")), "Patient.birthDate")[0]
    assert "2023-02-30" in issue.diagnostics and "not a valid date" in issue.diagnostics


@pytest.mark.parametrize("value,ok", [
    ("2023-01-01T10:00:00Z", True), ("2023-01-01T10:00:00.123+02:00", True),
    ("2023-01-01T10:00:00", False), ("2023-01-01", False), ("2023-02-31T10:00:00Z", False),
])
def test_instant_needs_time_and_timezone(validator: Validator, value: str, ok: bool) -> None:
    issues = error_at(validator.validate(observation(issued=value)), "Observation.issued")
    assert (not issues) == ok


@pytest.mark.parametrize("field,value,ok", [
    ("id", "abc-1.2", True), ("id", "bad_id!", False), ("id", "x" * 65, False),
])
def test_resource_id_format(validator: Validator, field: str, value: str, ok: bool) -> None:
    assert (not errors(validator.validate(patient(**{field: value})))) == ok


def test_code_without_surrounding_whitespace(validator: Validator) -> None:
    assert error_at(validator.validate(patient(gender=" male")), "Patient.gender")


def test_uri_without_whitespace_and_valid_oid(validator: Validator) -> None:
    bad = validator.validate(patient(identifier=[{"system": "http://a b", "value": "1"}]))
    assert error_at(bad, "Patient.identifier[0].system")
    assert error_at(validator.validate(patient(identifier=[{"system": "urn:oid:1.2.x", "value": "1"}])),
                    "Patient.identifier[0].system")
    assert not errors(validator.validate(patient(identifier=[{"system": "urn:oid:1.2.3", "value": "1"}])))


@pytest.mark.parametrize("url,ok", [("Questionnaire/q1", False), ("http://example.test/Questionnaire/q1", True),
                                    ("urn:uuid:6f1c2b4e-8a0d-4b8e-9a53-2f1a0c3d4e5f", True), ("#q1", True)])
def test_a_canonical_is_absolute_or_a_fragment(validator: Validator, url: str, ok: bool) -> None:
    response = {"resourceType": "QuestionnaireResponse", "status": "in-progress", "questionnaire": url,
                "text": patient()["text"]}
    bad = error_at(validator.validate(response), "QuestionnaireResponse.questionnaire")
    assert (not any("must be absolute" in i.diagnostics for i in bad)) == ok


def test_base64_content(validator: Validator) -> None:
    photo = {"contentType": "image/png", "data": "not base64!"}
    assert error_at(validator.validate(patient(photo=[photo])), "Patient.photo[0].data")
    assert not errors(validator.validate(patient(photo=[{"contentType": "image/png", "data": "aGVsbG8="}])))


def test_attachment_size_must_match_data(validator: Validator) -> None:
    assert error_at(validator.validate(patient(photo=[{"contentType": "text/plain", "data": "aGVsbG8=", "size": 6}])), "Patient.photo[0]")
    assert not errors(validator.validate(patient(photo=[{"contentType": "text/plain", "data": "aGVsbG8=", "size": 5}])))


def test_decimal_and_positive_int(validator: Validator) -> None:
    assert error_at(validator.validate(observation(valueQuantity={"value": "38.5"})),
                    "Observation.value.ofType(Quantity).value")
    assert error_at(validator.validate(patient(multipleBirthInteger=1.5)), "Patient.multipleBirth.ofType(integer)")


# -- empty values (ele-1) and primitive extensions ----------------------------------------------------------
def test_empty_object_violates_ele1(validator: Validator) -> None:
    issues = validator.validate(patient(name=[{}]))
    assert any(i.rule == "ele-1" and i.expression == "Patient.name[0]" for i in errors(issues))
    assert not errors(validator.validate(patient(name=[{"text": "A"}])))


def test_empty_string_is_not_a_value(validator: Validator) -> None:
    issues = validator.validate(patient(name=[{"given": ["Ann", ""]}]))
    assert error_at(issues, "Patient.name[0].given[1]")
    assert error_at(issues, "Patient.name[0].given[1]")[0].location == ("name", 0, "given", 1)


def test_primitive_extension_alone_is_a_value(validator: Validator) -> None:
    absent = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                             "valueCode": "unknown"}]}
    assert not errors(validator.validate(patient(_birthDate=absent)))
    bad = validator.validate(patient(_birthDate={"extension": [{"url": "http://x.org/e"}]}))
    assert errors(bad)


def test_primitive_arrays_align_with_their_extensions(validator: Validator) -> None:
    ext = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier",
                          "valueCode": "BR"}]}
    good = patient(name=[{"given": ["Ann", None], "_given": [None, ext]}])
    assert not errors(validator.validate(good)), messages(validator.validate(good))
    nulls = patient(name=[{"given": ["Ann", None]}])
    assert error_at(validator.validate(nulls), "Patient.name[0].given[1]")
    misaligned = patient(name=[{"given": ["Ann"], "_given": [None, ext]}])
    assert errors(validator.validate(misaligned))


def test_underscore_property_needs_a_primitive(validator: Validator) -> None:
    assert errors(validator.validate(patient(_name=[{"id": "x"}])))


# -- contained resources and narrative ---------------------------------------------------------------------
def test_contained_resources_are_validated_as_their_own_type(validator: Validator) -> None:
    res = patient(contained=[{"resourceType": "Practitioner", "id": "gp", "active": "yes"}],
                  generalPractitioner=[{"reference": "#gp"}])
    issues = validator.validate(res)
    assert error_at(issues, "Patient.contained[0].active")
    res["contained"][0]["active"] = True
    assert not errors(validator.validate(res))


def test_contained_resources_do_not_nest(validator: Validator) -> None:
    inner = {"resourceType": "Organization", "id": "o", "name": "x"}
    res = patient(contained=[{"resourceType": "Practitioner", "id": "gp", "contained": [inner]}],
                  generalPractitioner=[{"reference": "#gp"}])
    assert any(i.rule == "dom-2" for i in errors(validator.validate(res)))


def test_local_reference_must_resolve_to_a_contained_resource(validator: Validator) -> None:
    res = patient(generalPractitioner=[{"reference": "#nobody"}])
    assert errors(validator.validate(res))


@pytest.mark.parametrize("div,ok", [
    ("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Fine</p></div>", True),
    ("<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>", False),
    ("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p onclick=\"x()\">a</p></div>", False),
    ("<p xmlns=\"http://www.w3.org/1999/xhtml\">not a div</p>", False),
    ("<div>no namespace</div>", False),
    ("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>unclosed</div>", False),
])
def test_narrative_xhtml(validator: Validator, div: str, ok: bool) -> None:
    res = patient()
    res["text"] = {"status": "generated", "div": div}
    assert (not errors(validator.validate(res))) == ok


# -- robustness -------------------------------------------------------------------------------------------
def test_every_problem_is_reported_not_only_the_first(validator: Validator) -> None:
    issues = errors(validator.validate(patient(active="yes", birthDate="2023-02-30", foo=1, gender=["x"])))
    assert {i.expression for i in issues} >= {"Patient.active", "Patient.birthDate", "Patient", "Patient.gender"}


def test_deep_nesting_is_an_issue_not_a_crash(validator: Validator) -> None:
    node: dict[str, Any] = {"linkId": "leaf", "type": "display", "text": "x"}
    for i in range(10_000):
        node = {"linkId": f"i{i}", "type": "group", "item": [node]}
    res = {"resourceType": "Questionnaire", "status": "active", "item": [node]}
    issues = validator.validate(res)
    assert any("nested too deeply" in i.diagnostics for i in errors(issues))


def test_extra_rule_layers_run_on_the_top_level_resource(definitions: Any) -> None:
    from fhir_service.validation import Issue

    seen: list[str] = []

    def rule(resource: dict[str, Any], defs: Any) -> list[Issue]:
        seen.append(resource["resourceType"])
        return [Issue("warning", "business-rule", "checked by a rule layer", resource["resourceType"])]

    issues = Validator(definitions, rules=[rule]).validate(patient())
    assert seen == ["Patient"] and any(i.diagnostics == "checked by a rule layer" for i in issues)


def test_contained_resource_must_be_referenced(validator: Validator) -> None:
    orphan = patient(contained=[{"resourceType": "Practitioner", "id": "gp"}])
    assert any(i.rule == "dom-3" and i.location == ("contained", 0) for i in errors(validator.validate(orphan)))
    by_narrative = patient(contained=[{"resourceType": "Binary", "id": "pic", "contentType": "image/png"}])
    by_narrative["text"] = {"status": "generated",
                            "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><img src=\"#pic\" alt=\"x\"/></div>"}
    assert not errors(validator.validate(by_narrative))


def test_markdown_is_not_html(validator: Validator) -> None:
    comm = {"resourceType": "Communication", "text": patient()["text"], "status": "completed"}
    tagged = validator.validate({**comm, "note": [{"text": "use <b>bold</b>"}]})
    assert not errors(tagged) and any("HTML" in i.diagnostics for i in tagged if i.severity == "warning")
    assert not validator.validate({**comm, "note": [{"text": "use **bold**; 1 < 2"}]})


def test_security_checks_reject_html_in_strings(definitions: Any) -> None:
    tagged = patient(name=[{"text": "Ann <script>x()</script>"}])
    assert not errors(Validator(definitions).validate(tagged))
    assert errors(Validator(definitions, security_checks=True).validate(tagged))


def test_example_urls_can_be_refused(definitions: Any) -> None:
    doc = patient(photo=[{"contentType": "image/png", "url": "http://example.org/pic.png"}])
    assert not errors(Validator(definitions).validate(doc))
    assert errors(Validator(definitions, example_urls=False).validate(doc))


def test_narrative_internal_links_resolve(validator: Validator) -> None:
    linked = patient()
    linked["text"] = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">"
                      "<a name=\"top\"> </a><a href=\"#top\">top</a> <a href=\"#nowhere\">x</a></div>"}
    issues = errors(validator.validate(linked))
    assert len(issues) == 1 and "#nowhere" in issues[0].diagnostics
    linked["text"]["div"] = linked["text"]["div"].replace("#nowhere", "#top")
    assert not errors(validator.validate(linked))
