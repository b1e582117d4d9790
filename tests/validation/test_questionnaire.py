"""A QuestionnaireResponse checked against its Questionnaire, and the rules of a Questionnaire itself."""
from __future__ import annotations

from typing import Any

import pytest

from fhir_service.validation import Validator
from tests.validation.vhelpers import definitions_with, errors, messages

NARRATIVE = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}
Q_URL = "http://example.test/Questionnaire/ice"
QUESTIONNAIRE = {
    "resourceType": "Questionnaire", "url": Q_URL, "status": "active", "text": NARRATIVE,
    "item": [
        {"linkId": "score", "type": "integer", "required": True, "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/minValue", "valueInteger": 0},
            {"url": "http://hl7.org/fhir/StructureDefinition/maxValue", "valueInteger": 10}]},
        {"linkId": "grade", "type": "choice", "answerOption": [
            {"valueCoding": {"system": "http://example.test/grades", "code": "1"}},
            {"valueCoding": {"system": "http://example.test/grades", "code": "2"}}]},
        {"linkId": "why", "type": "string", "enableWhen": [
            {"question": "score", "operator": "<", "answerInteger": 5}]},
    ],
}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(definitions_with(QUESTIONNAIRE))


def response(*items: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    res = {"resourceType": "QuestionnaireResponse", "text": NARRATIVE, "questionnaire": Q_URL, "status": status}
    if items:
        res["item"] = list(items)
    return res


def score(value: Any) -> dict[str, Any]:
    key = "valueInteger" if isinstance(value, int) else "valueString"
    return {"linkId": "score", "answer": [{key: value}]}


def test_conforming_response(validator: Validator) -> None:
    good = response(score(3), {"linkId": "why", "answer": [{"valueString": "drowsy"}]})
    assert not errors(validator.validate(good)), messages(validator.validate(good))


def test_unknown_link_id(validator: Validator) -> None:
    issues = errors(validator.validate(response(score(3), {"linkId": "nope", "answer": [{"valueString": "x"}]})))
    assert [i.expression for i in issues] == ["QuestionnaireResponse.item[1]"]


def test_answer_type_must_match_the_item_type(validator: Validator) -> None:
    assert errors(validator.validate(response(score("three"))))


def test_min_and_max_value(validator: Validator) -> None:
    assert errors(validator.validate(response(score(11))))
    assert not errors(validator.validate(response(score(10))))


def test_required_item_when_completed(validator: Validator) -> None:
    assert any("required item 'score'" in i.diagnostics for i in errors(validator.validate(response())))
    assert not errors(validator.validate(response(status="in-progress")))


def test_answer_options(validator: Validator) -> None:
    def grade(code: str) -> dict[str, Any]:
        return {"linkId": "grade", "answer": [{"valueCoding": {"system": "http://example.test/grades", "code": code}}]}

    assert not errors(validator.validate(response(score(7), grade("2"))))
    assert errors(validator.validate(response(score(7), grade("9"))))


def test_answers_of_disabled_items(validator: Validator) -> None:
    why = {"linkId": "why", "answer": [{"valueString": "fine"}]}
    issues = errors(validator.validate(response(score(8), why)))
    assert any("not enabled" in i.diagnostics for i in issues), messages(issues)


def test_questionnaire_enable_when_rules(validator: Validator) -> None:
    q = {"resourceType": "Questionnaire", "status": "active", "text": NARRATIVE, "item": [
        {"linkId": "a", "type": "integer"}, {"linkId": "b", "type": "integer"},
        {"linkId": "c", "type": "string", "enableWhen": [
            {"question": "a", "operator": "=", "answerInteger": 1},
            {"question": "b", "operator": "=", "answerInteger": 1}]}]}
    assert any(i.rule == "que-12" for i in errors(validator.validate(q)))
    q["item"][2]["enableBehavior"] = "any"
    assert not errors(validator.validate(q))
    q["item"][2]["enableWhen"][0]["question"] = "zz"
    assert errors(validator.validate(q))


@pytest.mark.parametrize("extension", [
    {"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression",
     "valueExpression": {"language": "text/fhirpath",
                         "expression": "%resource.item.where(linkId='flag').answer.value.ofType(boolean)"}},
    {"url": "http://phr.kanta.fi/StructureDefinition/fiphr-ext-questionnaire-enablewhen",
     "valueString": "QuestionnaireResponse.descendants().where(linkId='flag').answer.value.ofType(boolean)"},
])
def test_an_enable_when_expression_decides_whether_an_item_may_be_answered(extension: dict[str, Any]) -> None:
    url = "http://example.test/Questionnaire/expr"
    q = {"resourceType": "Questionnaire", "url": url, "status": "active", "text": NARRATIVE, "item": [
        {"linkId": "flag", "type": "boolean"},
        {"linkId": "detail", "type": "boolean", "extension": [extension]}]}
    check = Validator(definitions_with(q))

    def answered(flag: bool) -> dict[str, Any]:
        return {"resourceType": "QuestionnaireResponse", "text": NARRATIVE, "questionnaire": url,
                "status": "completed", "item": [{"linkId": "flag", "answer": [{"valueBoolean": flag}]},
                                                {"linkId": "detail", "answer": [{"valueBoolean": True}]}]}

    assert any("not enabled" in i.diagnostics for i in errors(check.validate(answered(False))))
    assert not errors(check.validate(answered(True)))
