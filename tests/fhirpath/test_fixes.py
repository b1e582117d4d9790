"""Each correction of fhirpathpy in fhir_service/fhirpath/fixes.py, as a failing and a passing case."""
from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_service import fhirpath
from fhir_service.fhirpath import FhirPathError


def test_single_of_many_is_an_error_and_of_one_is_the_item() -> None:
    with pytest.raises(FhirPathError, match="single"):
        fhirpath.evaluate({}, "(1 | 2).single()")
    assert fhirpath.evaluate({}, "(1).single()") == [1]
    assert fhirpath.evaluate({}, "{}.single()") == []


PATIENT = {
    "resourceType": "Patient",
    "birthDate": "1974-12-25",
    "_birthDate": {"extension": [{"url": "http://example.org/time", "valueTime": "14:35:45"}]},
    "name": [{"given": [None, "James"], "_given": [{"extension": [{"url": "http://example.org/syl",
                                                                   "valueString": "five"}]}]}],
}


def test_primitive_value_and_its_extension_are_one_element() -> None:
    # fhirpathpy alone yields two items for birthDate (the value and the `_birthDate` object)
    assert fhirpath.evaluate(PATIENT, "birthDate.count()") == [1]
    assert fhirpath.evaluate(PATIENT, "birthDate = @1974-12-25") == [True]
    assert fhirpath.evaluate(PATIENT, "birthDate.extension.value") == ["14:35:45"]
    assert fhirpath.evaluate(PATIENT, "birthDate.extension('http://example.org/time').exists()") == [True]
    assert fhirpath.evaluate(PATIENT, "birthDate.extension('http://example.org/other').exists()") == [False]


def test_null_value_with_extension_is_an_element_without_value() -> None:
    assert fhirpath.evaluate(PATIENT, "name.given.count()") == [2]
    assert fhirpath.evaluate(PATIENT, "name.given.select($this.hasValue())") == [False, True]
    assert fhirpath.evaluate(PATIENT, "name.given") == ["James"]  # the value-less one has nothing to return


def test_decimal_literal_keeps_its_scale() -> None:
    assert fhirpath.evaluate({}, "1.0.is(Decimal)") == [True]
    assert fhirpath.evaluate({}, "1.is(Integer)") == [True]
    assert fhirpath.evaluate({}, "1.0.toString()") == ["1.0"]


def test_date_literal_is_a_date_not_a_datetime() -> None:
    assert fhirpath.evaluate({}, "@2015-02-04.is(Date)") == [True]
    assert fhirpath.evaluate({}, "@2015-02-04.is(DateTime)") == [False]
    assert fhirpath.evaluate({}, "@2015-02-04T10:00:00Z.is(DateTime)") == [True]


def test_sort_with_descending_keys_on_strings() -> None:
    assert fhirpath.evaluate({}, "('b' | 'c' | 'a').sort(-$this)") == ["c", "b", "a"]
    assert fhirpath.evaluate({}, "(3 | 1 | 2).sort()") == [1, 2, 3]
    names = {"resourceType": "Patient", "name": [{"family": "B", "use": "x"}, {"family": "A", "use": "y"}]}
    assert fhirpath.evaluate(names, "name.sort(family).use") == ["y", "x"]
    with pytest.raises(FhirPathError):
        fhirpath.evaluate({}, "(1 | 'a').sort()")


def test_type_name_at_path_start_matches_subtypes() -> None:
    observation = {"resourceType": "Observation", "id": "o1", "status": "final"}
    assert fhirpath.evaluate(observation, "Resource.id") == ["o1"]
    assert fhirpath.evaluate(observation, "DomainResource.id") == ["o1"]
    assert fhirpath.evaluate(observation, "Patient.id") == []
    assert fhirpath.evaluate({"id": "no-type"}, "Patient.id") == []  # fhirpathpy raised KeyError here
    assert fhirpath.evaluate({"value": 1}, "Quantity.value", context_type="Quantity") == [1]


def test_this_is_restored_after_an_expression_argument() -> None:
    claim = {"resourceType": "Claim", "item": [{"sequence": 1}, {"sequence": 2}], "careTeam": [{"sequence": 1}]}
    # inside subsetOf's argument, $this is the focus again, not the last item where() looked at
    assert fhirpath.evaluate(claim, "careTeam.where(sequence = 1).sequence.subsetOf($this.item.sequence)") == [True]


def test_union_keeps_types_and_removes_equal_values() -> None:
    from fhir_service.fhirpath.search import extract_typed

    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "t"}}
    assert extract_typed(observation, "Observation.code | Observation.status") == [
        ("CodeableConcept", {"text": "t"}), ("code", "final")]
    assert fhirpath.evaluate({}, "(1 | 1.0 | 2 | 'a' | 'a')") == [1, 2, "a"]
    assert fhirpath.evaluate({}, "(1 | true).count()") == [2]


@pytest.mark.parametrize(("expression", "expected"), [
    ("'abc'.indexOf({})", []),
    ("''.startsWith('')", [True]),
    ("'123'.replace('2', {})", []),
    ("'abc'.replaceMatches('', 'x')", ["abc"]),
    ("'abc'.replaceMatches('(b)', '[$1]')", ["a[b]c"]),
    ("true.toString()", ["true"]),
    ("5.5 'mg'.toString()", ["5.5 'mg'"]),
    ("1.0.convertsToBoolean()", [True]),
    ("2.0.toBoolean()", []),
    ("1.round()", [Decimal("1")]),
    ("3.14159.round(2)", [Decimal("3.14")]),
    ("(-5.5 'mg').abs() = 5.5 'mg'", [True]),
    ("'\\\"1<2\\\"'.unescape('json')", ['"1<2"']),
    ("today().is(Date)", [True]),
    ("now().is(DateTime)", [True]),
    ("now() > today()", []),  # precision differs: unknown
    ("iif({}, 'a', 'b')", ["b"]),
])
def test_corrected_functions(expression: str, expected: list) -> None:
    assert fhirpath.evaluate({}, expression) == expected


@pytest.mark.parametrize("expression", [
    "('a' | 'b').iif(true, 1, 2)",       # iif on a collection
    "iif('not a boolean', 1, 2)",        # non-boolean criterion
    "{}.as(string1)",                    # unknown type
    "@T14:34:28Z",                       # a Time has no offset
    "(1 | 2).toString()",
])
def test_corrected_functions_raise(expression: str) -> None:
    with pytest.raises(FhirPathError):
        fhirpath.evaluate({}, expression)


def test_conforms_to_core_types_and_callbacks() -> None:
    patient = {"resourceType": "Patient"}
    core = "http://hl7.org/fhir/StructureDefinition/"
    assert fhirpath.evaluate(patient, f"conformsTo('{core}Patient')") == [True]
    assert fhirpath.evaluate(patient, f"conformsTo('{core}DomainResource')") == [True]
    assert fhirpath.evaluate(patient, f"conformsTo('{core}Person')") == [False]
    with pytest.raises(FhirPathError, match="unknown profile"):
        fhirpath.evaluate(patient, "conformsTo('http://example.org/StructureDefinition/x')")
    checked = fhirpath.evaluate(patient, "conformsTo('http://example.org/StructureDefinition/x')",
                                variables={"conformsTo": lambda resource, url: resource["resourceType"] == "Patient"})
    assert checked == [True]


def test_as_with_the_system_name_of_a_primitive_type_casts_it() -> None:
    """`value as String` on a FHIR string keeps it (the Java engine compares `as` type names without case)."""
    street = {"resourceType": "Patient", "gender": "male", "address": [{"line": ["Musterstr. 1"], "_line": [
        {"extension": [{"url": "http://x/street", "valueString": "Musterstr."}]}]}]}
    cast = "(address.line[0].extension('http://x/street').value as String) = 'Musterstr.'"
    assert fhirpath.evaluate(street, cast) == [True]
    assert fhirpath.evaluate(street, "address.line.first() as System.String") == ["Musterstr. 1"]
    assert fhirpath.evaluate(street, "gender as String") == []  # a code is not a string
    assert fhirpath.evaluate(street, "gender as code") == ["male"]


def test_as_function_filters_collections_for_dom_3() -> None:
    """dom-3 (every DomainResource) applies as(canonical) to all descendants."""
    dom3 = ("contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical)"
            " | %resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants()"
            ".where(reference = '#').exists() or descendants().where(as(canonical) = '#').exists() or "
            "descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()")
    referenced = {"resourceType": "Observation", "contained": [{"resourceType": "Device", "id": "d"}],
                  "device": {"reference": "#d"}, "status": "final", "code": {"text": "x"}}
    orphan = dict(referenced, device={"reference": "Device/other"})
    assert fhirpath.evaluate(referenced, dom3) == [True]
    assert fhirpath.evaluate(orphan, dom3) == [False]
    components = {"resourceType": "Observation", "component": [{"valueQuantity": {"value": 1}},
                                                                 {"valueString": "x"}, {"valueQuantity": {"value": 2}}]}
    # the core search parameter component-value-quantity
    assert fhirpath.evaluate(components, "(Observation.component.value as Quantity)") == [{"value": 1}, {"value": 2}]


def test_has_extension() -> None:
    item = {"resourceType": "QuestionnaireResponse", "item": [
        {"linkId": "a", "extension": [{"url": "http://x/isSubject", "valueBoolean": True}]}, {"linkId": "b"}]}
    assert fhirpath.evaluate(item, "item.where(hasExtension('http://x/isSubject')).linkId") == ["a"]


def test_trace_logs_instead_of_printing(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.DEBUG, logger="fhir_service.fhirpath"):
        assert fhirpath.evaluate({}, "(1 | 2).trace('numbers', $this + 1).count()") == [2]
    assert capsys.readouterr().out == ""
    assert "numbers" in caplog.text and "[2, 3]" in caplog.text


def test_identifiers_plain_and_delimited() -> None:
    patient = {"resourceType": "Patient", "name": [{"given": ["Peter"]}]}
    assert fhirpath.evaluate(patient, "name.`given`") == ["Peter"]
    for _ in range(2):  # the second evaluation uses the names cached in the syntax tree
        assert fhirpath.evaluate(patient, "Patient.name.given") == ["Peter"]
        assert fhirpath.evaluate(patient, "Patient.name.family") == []


def test_is_and_as_bind_tighter_than_union_and_comparison() -> None:
    assert fhirpath.evaluate({}, "(1 | 1 is Integer).count()") == [2]  # 1 | (1 is Integer)
    with pytest.raises(FhirPathError, match="singleton"):
        fhirpath.evaluate({}, "(1 | 2) is Integer")  # parenthesised: left as written, `is` needs one item
    with pytest.raises(FhirPathError):
        fhirpath.evaluate({}, "1 > 2 is Boolean")  # 1 > (2 is Boolean): comparing a number with a boolean
    obs = {"resourceType": "Observation", "valueQuantity": {"value": 1}}
    assert fhirpath.evaluate(obs, "Observation.value as Quantity | Observation.value as Period") == [{"value": 1}]
