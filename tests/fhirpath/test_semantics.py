"""Strict-mode checks: expressions against the R4 model, as the Java validator checks invariants on load."""
from __future__ import annotations

import pytest

from fhir_service.definitions import Definitions
from fhir_service.fhirpath import FhirPathError
from fhir_service.fhirpath.semantics import check, require_valid


@pytest.mark.parametrize(("expression", "context", "problem"), [
    ("name.given1", "Patient", "'given1' is not an element of HumanName"),
    ("code.codng.code", "Observation", "'codng' is not an element of CodeableConcept"),
    ("Encounter.status", "Patient", "the context is Patient, not Encounter"),
    ("Observation.valueQuantity.unit", "Observation", "'valueQuantity' names a choice type"),
    ("(Observation.value as Period).unit", "Observation", "'unit' is not an element of Period"),
    ("component.value.ofType(Quantity).codee", "Observation", "'codee' is not an element of Quantity"),
    ("low.valu", "Range", "'valu' is not an element of Quantity"),
])
def test_problems_are_reported(expression: str, context: str, problem: str) -> None:
    problems = check(expression, context)
    assert any(problem in p for p in problems), problems
    with pytest.raises(FhirPathError):
        require_valid(expression, context)


@pytest.mark.parametrize(("expression", "context"), [
    ("dataAbsentReason.empty() or value.empty()", "Observation"),
    ("component.where(code.coding.code = 'x').value.ofType(Quantity).unit", "Observation"),
    ("Condition.code | Observation.code", "Observation"),  # a union with another type's branch is fine
    ("Resource.id | DomainResource.text.`div`", "Observation"),
    ("contained.where(id = 'x').anything.at.all", "Patient"),  # inside contained: any resource
    ("value.exists()", "Observation.component"),
    ("code.empty() or system.exists()", "Observation.valueQuantity"),
    ("Patient.name.first().subsetOf($this.name)", "Patient"),
    ("extension('http://x').value.ofType(integer) > 0", "Observation"),
    ("ConceptMap.group.element.target.product.property", "ConceptMap"),  # a contentReference element
])
def test_valid_expressions_pass(expression: str, context: str) -> None:
    assert check(expression, context) == []


def test_project_invariants_and_search_parameters_reference_real_elements(definitions: Definitions) -> None:
    """Every invariant and search parameter of the project's own package names real elements."""
    problems = {}
    for structure in definitions.resources_of_type("StructureDefinition"):
        if not str(structure.get("url", "")).startswith("https://fhir.cart-tox.org/"):
            continue
        for element in (structure.get("snapshot") or {}).get("element", []):
            for constraint in element.get("constraint") or ():
                if constraint.get("expression") and constraint.get("key", "").startswith("cart"):
                    found = check(constraint["expression"], element["path"])
                    if found:
                        problems[f"{structure['id']} {constraint['key']}"] = found
    for parameter in definitions.resources_of_type("SearchParameter"):
        if str(parameter.get("url", "")).startswith("https://fhir.cart-tox.org/") and parameter.get("expression"):
            for base in parameter.get("base") or ():
                found = check(parameter["expression"], base)
                if found:
                    problems[f"{parameter['id']} on {base}"] = found
    assert problems == {}


def test_order_dependent_functions_on_unordered_collections() -> None:
    assert check("Patient.children().skip(1)", "Patient", ordered_functions=True) == [
        "skip() depends on order, but children() returns an unordered collection"]
    assert check("Patient.descendants()[0]", "Patient", ordered_functions=True) != []
    assert check("Patient.children().skip(1)", "Patient") == []  # only when asked
    assert check("Patient.name.skip(1)", "Patient", ordered_functions=True) == []
    assert check("Patient.children().where(true).count()", "Patient", ordered_functions=True) == []
