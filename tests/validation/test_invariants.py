"""FHIRPath invariants of the base specification and of profiles: error and warning severities, invariants of
data types on nested values, each evaluated at its element with its type; each expression compiled once."""
from __future__ import annotations

from typing import Any

from fhir_service.validation import Validator
from fhir_service.validation.elements import compiled
from tests.validation.vhelpers import by_severity, definitions_with, errors, messages, profile

NARRATIVE = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}


def observation(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "text": NARRATIVE, **fields}


def rules(issues: list, severity: str) -> set[str | None]:
    return {i.rule for i in by_severity(issues, severity)}


def test_error_invariant_of_a_resource_element(validator: Validator) -> None:
    issues = validator.validate(observation(referenceRange=[{"type": {"text": "normal"}}]))
    assert "obs-3" in rules(issues, "error"), messages(issues)
    assert [i.expression for i in errors(issues) if i.rule == "obs-3"] == ["Observation.referenceRange[0]"]
    assert not errors(validator.validate(observation(referenceRange=[{"low": {"value": 1}}])))


def test_warning_invariant_is_a_warning(validator: Validator) -> None:
    no_text = observation()
    del no_text["text"]
    issues = validator.validate(no_text)
    assert "dom-6" in rules(issues, "warning") and not errors(issues)
    assert "dom-6" not in rules(validator.validate(observation()), "warning")


def test_invariant_of_a_data_type_on_a_nested_value(validator: Validator) -> None:
    period = {"start": "2024-03-02", "end": "2024-03-01"}
    patient = {"resourceType": "Patient", "text": NARRATIVE, "name": [{"family": "Doe", "period": period}]}
    issues = validator.validate(patient)
    assert [(i.rule, i.expression) for i in errors(issues)] == [("per-1", "Patient.name[0].period")]
    patient["name"][0]["period"] = {"start": "2024-03-01", "end": "2024-03-02"}
    assert not errors(validator.validate(patient))


def test_data_type_invariant_inside_a_backbone_element(validator: Validator) -> None:
    bad = observation(component=[{"code": {"text": "c"}, "valueQuantity": {"code": "mg"}}])
    assert "qty-3" in rules(validator.validate(bad), "error")
    good = observation(component=[{"code": {"text": "c"}, "valueQuantity": {"code": "mg",
                                                                            "system": "http://unitsofmeasure.org"}}])
    assert not errors(validator.validate(good))


def test_invariant_over_the_resource_uses_percent_resource(validator: Validator) -> None:
    # obs-7: a component's code must not repeat the Observation's code when the Observation has a value
    code = {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]}
    same = observation(code=code, valueString="x", component=[{"code": code, "valueString": "y"}])
    assert "obs-7" in rules(validator.validate(same), "error"), messages(validator.validate(same))
    other = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
    assert not errors(validator.validate(observation(code=code, valueString="x",
                                                     component=[{"code": other, "valueString": "y"}])))


def test_extension_must_have_value_or_extensions_not_both(validator: Validator) -> None:
    both = {"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", "valueString": "x",
            "extension": [{"url": "a", "valueString": "b"}]}
    patient = {"resourceType": "Patient", "text": NARRATIVE, "extension": [both]}
    assert "ext-1" in rules(validator.validate(patient), "error")


def test_profile_invariants_with_their_severity() -> None:
    url = "http://example.test/StructureDefinition/obs-inv"
    sd = profile(url, "Observation", [
        {"path": "Observation", "constraint": [
            {"key": "tst-1", "severity": "error", "human": "must have a value", "expression": "value.exists()"},
            {"key": "tst-2", "severity": "warning", "human": "should have a note", "expression": "note.exists()"},
        ]},
        {"path": "Observation.valueQuantity", "constraint": [
            {"key": "tst-3", "severity": "error", "human": "positive", "expression": "value > 0"}]},
    ])
    validator = Validator(definitions_with(sd))
    issues = validator.validate(observation(), [url])
    assert rules(issues, "error") >= {"tst-1"} and "tst-2" in rules(issues, "warning")
    negative = validator.validate(observation(valueQuantity={"value": -1}, note=[{"text": "n"}]), [url])
    assert rules(negative, "error") == {"tst-3"}, messages(negative)
    assert not errors(validator.validate(observation(valueQuantity={"value": 1}, note=[{"text": "n"}]), [url]))


def test_each_definition_is_compiled_once(definitions: Any) -> None:
    first = compiled(definitions, "Observation")
    assert first is compiled(definitions, "Observation")
    constraint = next(c for c in first.by_id["Observation.referenceRange"].constraints if c.key == "obs-3")
    again = compiled(definitions, "Observation").by_id["Observation.referenceRange"].constraints
    assert any(c.compiled is constraint.compiled for c in again)


def test_dom_3_with_its_trace_is_evaluated_silently(validator: Validator, capsys: Any) -> None:
    """dom-3 calls trace(): the engine logs it at DEBUG, so validation prints nothing and keeps its meaning."""
    orphan = observation(contained=[{"resourceType": "Device", "id": "d"}])
    assert "dom-3" in rules(validator.validate(orphan), "error")
    used = observation(contained=[{"resourceType": "Device", "id": "d"}], device={"reference": "#d"})
    assert "dom-3" not in rules(validator.validate(used), "error")
    assert capsys.readouterr().out == ""
