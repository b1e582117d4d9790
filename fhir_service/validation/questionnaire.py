"""A QuestionnaireResponse checked against its Questionnaire: the Questionnaire is the definition of the answers.

As in the HL7 Java validator's QuestionnaireValidator: items are matched by linkId level by level; unknown
linkIds, answers on display/group items, repeated answers on non-repeating items, answers of the wrong type,
answers outside answerOption / answerValueSet, and the constraint extensions (minValue, maxValue, minLength,
maxLength, maxDecimalPlaces, regex, min/maxOccurs, mimeType, maxSize, referenceResource, unitOption,
unitValueSet, min/maxQuantity, optionExclusive) are errors; required items without answers are errors when the
response is completed; enableWhen is evaluated against the response's answers (an item that is not enabled must
not be answered, and is not required).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from fhir_service.validation.fhirpath_adapter import compile_expression, satisfied
from fhir_service.validation.jsonshape import as_list
from fhir_service.validation.outcome import Location
from fhir_service.validation.patterns import equal

if TYPE_CHECKING:
    from fhir_service.validation.walker import ResourceFrame, Walk

EXT = "http://hl7.org/fhir/StructureDefinition/"
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
KANTA_ENABLE_WHEN = "http://phr.kanta.fi/StructureDefinition/fiphr-ext-questionnaire-enablewhen"
ANSWER_TYPES: dict[str, tuple[str, ...]] = {
    "boolean": ("valueBoolean",), "decimal": ("valueDecimal",), "integer": ("valueInteger",),
    "date": ("valueDate",), "dateTime": ("valueDateTime",), "time": ("valueTime",), "string": ("valueString",),
    "text": ("valueString",), "url": ("valueUri",), "choice": ("valueCoding",),
    "open-choice": ("valueCoding", "valueString"), "attachment": ("valueAttachment",),
    "reference": ("valueReference",), "quantity": ("valueQuantity",),
}
TYPE_NAMES = {"text": "string", "url": "uri", "choice": "Coding", "open-choice": "Coding", "attachment": "Attachment",
              "reference": "Reference", "quantity": "Quantity"}


def _ext(item: dict[str, Any], *urls: str) -> Any:
    for ext in as_list(item.get("extension")):
        if isinstance(ext, dict) and ext.get("url") in urls:
            for key, value in ext.items():
                if key.startswith("value"):
                    return value
    return None


def _exts(item: dict[str, Any], url: str) -> list[Any]:
    out = []
    for ext in as_list(item.get("extension")):
        if isinstance(ext, dict) and ext.get("url") == url:
            out.extend(v for k, v in ext.items() if k.startswith("value"))
    return out


def _value(answer: dict[str, Any]) -> tuple[str | None, Any]:
    for key, value in answer.items():
        if key.startswith("value"):
            return key, value
    return None, None


def enable_when_expression(q_item: dict[str, Any]) -> str | None:
    """The FHIRPath of an item's enableWhen expression extension: the SDC one (valueExpression in text/fhirpath)
    or the Finnish PHR one (valueString), which the Java validator also honours."""
    for ext in as_list(q_item.get("extension")):
        if not isinstance(ext, dict):
            continue
        if ext.get("url") == KANTA_ENABLE_WHEN and isinstance(ext.get("valueString"), str):
            return ext["valueString"]
        if ext.get("url") == SDC + "sdc-questionnaire-enableWhenExpression":
            value = ext.get("valueExpression")
            if isinstance(value, dict) and value.get("language") == "text/fhirpath" \
                    and isinstance(value.get("expression"), str):
                return value["expression"]
    return None


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class QuestionnaireCheck:
    def __init__(self, walk: "Walk", frame: "ResourceFrame", completed: bool,
                 response_items: list[dict[str, Any]] | None = None,
                 response: dict[str, Any] | None = None) -> None:
        self.walk = walk
        self.frame = frame
        self.completed = completed
        self.response = response
        self.answers: dict[str, list[tuple[str, Any]]] = {}
        self._index(response_items or [])

    def _index(self, items: list[dict[str, Any]]) -> None:
        """Every answer of the response by linkId (enableWhen may name a question anywhere in the response)."""
        stack = list(items)
        while stack:
            item = stack.pop()
            link = item.get("linkId")
            for answer in _list(item.get("answer")):
                key, value = _value(answer)
                if key is not None and isinstance(link, str):
                    self.answers.setdefault(link, []).append((key, value))
                stack.extend(_list(answer.get("item")))
            stack.extend(_list(item.get("item")))

    def enabled(self, q_item: dict[str, Any]) -> bool:
        expression = enable_when_expression(q_item)
        if expression is not None and self.response is not None:
            return self._expression_enabled(expression)
        conditions = _list(q_item.get("enableWhen"))
        if not conditions:
            return True
        results = [self._condition(c) for c in conditions]
        return all(results) if q_item.get("enableBehavior") == "all" else any(results)

    def _expression_enabled(self, expression: str) -> bool:
        """An enableWhen expression (FHIRPath on the response) decides alone, as in the Java validator; one that
        cannot be evaluated leaves the item enabled (no error is invented from an engine failure)."""
        try:
            return satisfied(compile_expression(expression).evaluate(
                self.response, resource=self.response, root_resource=self.response,
                context_type="QuestionnaireResponse"))
        except Exception:  # noqa: BLE001 - a bad expression is the Questionnaire's problem, not the answer's
            return True

    def _condition(self, condition: dict[str, Any]) -> bool:
        question = condition.get("question")
        answers = self.answers.get(question, []) if isinstance(question, str) else []
        operator = condition.get("operator")
        expected = next((v for k, v in condition.items() if k.startswith("answer")), None)
        if operator == "exists":
            return bool(answers) == (expected is True)
        results = []
        for _, value in answers:
            if isinstance(value, dict) and isinstance(expected, dict):
                same = value.get("code") == expected.get("code") and value.get("system") == expected.get("system")
                order = None
            else:
                same = equal(value, expected)
                order = _compare(value, expected)
            if operator == "=":
                results.append(same)
            elif operator == "!=":
                results.append(not same)
            elif order is not None and operator in (">", "<", ">=", "<="):
                results.append({">": order > 0, "<": order < 0, ">=": order >= 0, "<=": order <= 0}[operator])
        return any(results)

    def err(self, message: str, expr: str, loc: Location, severity: str = "error") -> None:
        self.walk.issue(severity, "structure" if severity != "information" else "informational", message, expr, loc)

    # -- items -----------------------------------------------------------------------------------------------
    def items(self, q_items: list[dict[str, Any]], r_items: list[dict[str, Any]], expr: str, loc: Location,
              key: str = "item") -> None:
        by_link = {q["linkId"]: q for q in q_items if isinstance(q.get("linkId"), str)}
        counts: dict[str, int] = {}
        for i, r_item in enumerate(r_items):
            link = r_item.get("linkId")
            if not isinstance(link, str):
                continue  # the structure checks report a missing or malformed linkId
            item_expr, item_loc = f"{expr}.{key}[{i}]", loc + (key, i)
            q_item = by_link.get(link)
            if q_item is None:
                self.err(f"LinkId '{link}' not found in questionnaire", item_expr, item_loc)
                continue
            counts[link] = counts.get(link, 0) + 1
            if counts[link] == 2 and not q_item.get("repeats"):
                self.err(f"Only one response item with this linkId allowed ('{link}')", item_expr, item_loc)
            if (r_item.get("answer") or r_item.get("item")) and not self.enabled(q_item):
                self.err(f"Item has answer, even though it is not enabled (item id = '{link}')", item_expr, item_loc)
            self.item(q_item, r_item, item_expr, item_loc)
        if not self.completed:
            return
        for q_item in q_items:
            if not q_item.get("required") or q_item.get("type") == "display" or not self.enabled(q_item):
                continue
            link = q_item.get("linkId")
            answered = [r for r in r_items if r.get("linkId") == link]
            if q_item.get("type") == "group":
                if not any(r.get("item") for r in answered):
                    self.err(f"No sub-items found for required group '{link}'", expr, loc)
            elif not any(r.get("answer") for r in answered):
                self.err(f"No response answer found for required item '{link}'", expr, loc)

    def item(self, q_item: dict[str, Any], r_item: dict[str, Any], expr: str, loc: Location) -> None:
        item_type = q_item.get("type")
        answers = _list(r_item.get("answer"))
        children = _list(q_item.get("item"))
        if answers and item_type == "display":
            self.err("Items of type 'display' cannot have answers", expr, loc)
        elif answers and item_type in ("group", "question"):
            self.err(f"Items of type {item_type} should not have answers", expr, loc)
        if len(answers) > 1 and not q_item.get("repeats"):
            self.err("Only one response answer item with this linkId allowed", expr, loc)
        max_occurs = _ext(q_item, EXT + "questionnaire-maxOccurs")
        min_occurs = _ext(q_item, EXT + "questionnaire-minOccurs")
        if isinstance(max_occurs, int) and len(answers) > max_occurs:
            self.err(f"The maximum number of answers is {max_occurs} but this has {len(answers)} answers", expr, loc)
        if isinstance(min_occurs, int) and len(answers) < min_occurs and self.completed:
            self.err(f"The minimum number of answers is {min_occurs} but this has {len(answers)} answers", expr, loc)
        if isinstance(item_type, str) and item_type in ANSWER_TYPES:
            for j, answer in enumerate(answers):
                self.answer(q_item, item_type, answer, answers, f"{expr}.answer[{j}]", loc + ("answer", j))
        for j, answer in enumerate(answers):
            nested = _list(answer.get("item"))
            if nested:
                self.items(children, nested, f"{expr}.answer[{j}]", loc + ("answer", j))
        nested = _list(r_item.get("item"))
        if nested or (item_type == "group" and children):
            self.items(children, nested, expr, loc)

    # -- answers ---------------------------------------------------------------------------------------------
    def answer(self, q_item: dict[str, Any], item_type: str, answer: dict[str, Any],
               answers: list[dict[str, Any]], expr: str, loc: Location) -> None:
        key, value = _value(answer)
        if key is None:
            return
        allowed = ANSWER_TYPES[item_type]
        vexpr = f"{expr}.value.ofType({_type_name(key)})"
        vloc = loc + (key,)
        if key == "valueString" and item_type == "choice":
            self.err("A string answer to a choice item: a Coding is expected", vexpr, vloc, "warning")
            return
        if key not in allowed:
            expected = TYPE_NAMES.get(item_type, item_type)
            self.err(f"Answer value must be of the type {expected} not {_type_name(key)}", vexpr, vloc)
            return
        self.options(q_item, item_type, key, value, answers, answer, vexpr, vloc, expr, loc)
        if key in ("valueInteger", "valueDecimal", "valueDate", "valueDateTime", "valueTime"):
            low = _ext(q_item, EXT + "minValue")
            high = _ext(q_item, EXT + "maxValue")
            if low is not None and _compare(value, low) == -1:
                self.err(f"The value {value} is less than the allowed minimum of {low}", vexpr, vloc)
            if high is not None and _compare(value, high) == 1:
                self.err(f"The value {value} is greater than the allowed maximum of {high}", vexpr, vloc)
        if key == "valueDecimal":
            places = _ext(q_item, EXT + "maxDecimalPlaces")
            if isinstance(places, int) and _decimals(value) > places:
                self.err(f"The value {value} has too many decimal places (limit = {places})", vexpr, vloc)
        if key == "valueString" and isinstance(value, str):
            min_length = _ext(q_item, EXT + "minLength")
            max_length = q_item.get("maxLength")
            if isinstance(min_length, int) and len(value) < min_length:
                self.err(f"The answer '{value}' is shorter then the required minimum length of {min_length}",
                         vexpr, vloc)
            if isinstance(max_length, int) and len(value) > max_length:
                self.err(f"The answer '{value}' is longer then the allowed maximum length of {max_length}",
                         vexpr, vloc)
            regex = _ext(q_item, EXT + "regex")
            if isinstance(regex, str):
                try:
                    if not re.search(regex, value):
                        self.err(f"The answer '{value}' does not conform to the expected format (regex '{regex}')",
                                 vexpr, vloc)
                except re.error:
                    pass
        if key == "valueQuantity" and isinstance(value, dict):
            self.quantity(q_item, value, vexpr, vloc)
        if key == "valueAttachment" and isinstance(value, dict):
            self.attachment(q_item, value, expr, loc)
        if key == "valueReference" and isinstance(value, dict):
            self.reference(q_item, value, vexpr, vloc)

    def options(self, q_item: dict[str, Any], item_type: str, key: str, value: Any, answers: list[dict[str, Any]],
                answer: dict[str, Any], vexpr: str, vloc: Location, expr: str, loc: Location) -> None:
        options = _list(q_item.get("answerOption"))
        if options:
            matched = None
            for option in options:
                okey, ovalue = _value(option)
                if okey != key:
                    continue
                if key == "valueCoding" and isinstance(value, dict) and isinstance(ovalue, dict):
                    if value.get("code") == ovalue.get("code") and value.get("system") == ovalue.get("system"):
                        matched = option
                elif equal(value, ovalue):
                    matched = option
                if matched is not None:
                    break
            if matched is None:
                if item_type == "open-choice" and key == "valueString":
                    return
                shown = f"{value.get('system')}::{value.get('code')}" if isinstance(value, dict) else value
                kind = {"valueInteger": "integer", "valueDate": "date", "valueTime": "time",
                        "valueString": "string"}.get(key, "code")
                self.err(f"The {kind} {shown} is not in the set of permitted values", vexpr, vloc)
                return
            if _ext(matched, EXT + "questionnaire-optionExclusive") is True and len(answers) > 1:
                shown = f"{value.get('system')}#{value.get('code')}" if isinstance(value, dict) else value
                self.err(f"Selected answer {shown} is an exclusive option - can't select anything else at the same "
                         "time", expr, loc)
            return
        vs = q_item.get("answerValueSet")
        if isinstance(vs, str) and self.walk.bindings is not None:
            terminology = self.walk.bindings.terminology
            if key == "valueCoding" and isinstance(value, dict):
                result = terminology.validate_code(vs, value.get("system"), value.get("code"),
                                                   value.get("display"))
            elif key == "valueString" and item_type == "open-choice":
                return
            elif isinstance(value, str):
                result = terminology.validate_code(vs, None, value)
            else:
                return
            if result.outcome == "invalid":
                self.err(f"The value '{value.get('code') if isinstance(value, dict) else value}' is not in the "
                         f"options value set {vs}: {result.message}", expr, loc)
            elif result.outcome == "not-checkable":
                self.err(result.message or f"The answer could not be checked against {vs}", expr, loc,
                         "information")
            if result.display_issue:
                self.err(result.display_issue, f"{vexpr}.display", vloc + ("display",))

    def quantity(self, q_item: dict[str, Any], value: dict[str, Any], expr: str, loc: Location) -> None:
        units = _exts(q_item, SDC + "sdc-questionnaire-unitOption") + _exts(q_item, EXT + "questionnaire-unitOption")
        if units and not any(isinstance(u, dict) and u.get("code") == value.get("code")
                             and u.get("system") == value.get("system") for u in units):
            self.err(f"The value {value.get('value')} {value.get('unit')} has a unit that is not valid", expr, loc)
        unit_vs = _ext(q_item, SDC + "sdc-questionnaire-unitValueSet", EXT + "questionnaire-unitValueSet")
        if isinstance(unit_vs, str) and self.walk.bindings is not None:
            code = value.get("code")
            result = self.walk.bindings.terminology.validate_code(unit_vs, value.get("system"), code) \
                if isinstance(code, str) else None
            if result is None or result.outcome == "invalid":
                self.err(f"The value {value.get('value')} {value.get('unit')} has a unit that is not in the unit "
                         f"value set '{unit_vs}'", expr, loc)
        for url, word, sign in ((SDC + "sdc-questionnaire-minQuantity", "minimum", -1),
                                (SDC + "sdc-questionnaire-maxQuantity", "maximum", 1)):
            limit = _ext(q_item, url)
            if not isinstance(limit, dict):
                continue
            if not value.get("code") or not limit.get("code") or value.get("system") != limit.get("system"):
                self.err(f"The quantity {value.get('value')} {value.get('unit')} cannot be compared to the allowed "
                         f"{word} of {limit.get('value')} {limit.get('unit')} because no formal units are "
                         "specified", expr, loc)
            elif value.get("code") != limit.get("code"):
                self.err(f"The quantity {value.get('value')} {value.get('code')} cannot be compared to the allowed "
                         f"{word} of {limit.get('value')} {limit.get('code')} (different units)", expr, loc)
            elif _compare(value.get("value"), limit.get("value")) == sign:
                self.err(f"The quantity {value.get('value')} is {'less' if sign < 0 else 'greater'} than the "
                         f"allowed {word} of {limit.get('value')}", expr, loc)

    def attachment(self, q_item: dict[str, Any], value: dict[str, Any], expr: str, loc: Location) -> None:
        types = [t for t in _exts(q_item, EXT + "mimeType") if isinstance(t, str)]
        content_type = value.get("contentType")
        if types and isinstance(content_type, str) and content_type not in types:
            self.err(f"The mime type {content_type} is not valid for this answer (allowed = {', '.join(types)})",
                     expr, loc)
        max_size = _ext(q_item, EXT + "maxSize")
        size = value.get("size")
        if isinstance(max_size, (int, float)) and isinstance(size, int) and size > max_size:
            self.err(f"The attachment is too large (allowed = {max_size}, found = {size})", expr, loc)

    def reference(self, q_item: dict[str, Any], value: dict[str, Any], expr: str, loc: Location) -> None:
        reference = value.get("reference")
        if not isinstance(reference, str):
            return
        if re.search(r"\s", reference):
            self.err(f"The reference '{reference}' is not a valid reference", expr, loc)
        if reference.startswith("#"):
            return
        parts = [p for p in reference.split("?")[0].split("/") if p]
        if "_history" in parts:
            parts = parts[:parts.index("_history")]
        rtype = parts[-2] if len(parts) >= 2 else None
        if rtype is None:
            return
        if rtype not in self.walk.defs.resource_types:
            self.err(f"The resource type {rtype} in the reference {reference} is not valid", expr, loc)
            return
        allowed = [t for t in _exts(q_item, EXT + "questionnaire-referenceResource") if isinstance(t, str)]
        if allowed and rtype not in allowed:
            self.err(f"The resource type '{rtype}' in the reference {reference} is not allowed (allowed = "
                     f"{','.join(allowed)})", expr, loc)


def _type_name(key: str) -> str:
    name = key[5:]
    if name in ("Boolean", "Decimal", "Integer", "Date", "DateTime", "Time", "String", "Uri"):
        return name[0].lower() + name[1:]
    return name


def _compare(a: Any, b: Any) -> int | None:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    return None


def _decimals(value: Any) -> int:
    try:
        exponent = Decimal(str(value)).as_tuple().exponent
    except InvalidOperation:
        return 0
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def check(walk: "Walk", response: dict[str, Any], expr: str, loc: Location, frame: "ResourceFrame") -> None:
    """Check a QuestionnaireResponse against the Questionnaire it names (when that can be found)."""
    url = response.get("questionnaire")
    if not isinstance(url, str) or not url:
        return
    if url.startswith("#"):
        questionnaire = frame.contained(url[1:])
    else:
        questionnaire = walk.defs.resolve(url)
    if questionnaire is None:
        walk.issue("warning", "not-found", f"The questionnaire '{url}' could not be resolved, so no validation can "
                   "be performed against the base questionnaire", f"{expr}.questionnaire", loc + ("questionnaire",))
        return
    if questionnaire.get("resourceType") != "Questionnaire":
        walk.issue("error", "structure", f"Canonical URL '{url}' refers to a resource that has the wrong type. Found "
                   f"{questionnaire.get('resourceType')} expecting one of [Questionnaire]", f"{expr}.questionnaire",
                   loc + ("questionnaire",))
        return
    completed = response.get("status") in ("completed", "amended")
    items = _list(response.get("item"))
    QuestionnaireCheck(walk, frame, completed, items, response).items(_list(questionnaire.get("item")), items, expr, loc)


def check_definition(walk: "Walk", questionnaire: dict[str, Any], expr: str, loc: Location) -> None:
    """Rules of a Questionnaire itself: enableWhen names an existing question outside the item, and several
    enableWhen conditions need an enableBehavior (que-12, whose R4 FHIRPath only fires from three on)."""
    all_links: set[str] = set()
    stack: list[dict[str, Any]] = list(_list(questionnaire.get("item")))
    while stack:
        item = stack.pop()
        if isinstance(item.get("linkId"), str):
            all_links.add(item["linkId"])
        stack.extend(_list(item.get("item")))

    def inner_links(item: dict[str, Any]) -> set[str]:
        found: set[str] = set()
        pending = list(_list(item.get("item")))
        while pending:
            child = pending.pop()
            if isinstance(child.get("linkId"), str):
                found.add(child["linkId"])
            pending.extend(_list(child.get("item")))
        return found

    work: list[tuple[dict[str, Any], str, Location]] = [
        (item, f"{expr}.item[{i}]", loc + ("item", i)) for i, item in enumerate(_list(questionnaire.get("item")))]
    while work:
        item, item_expr, item_loc = work.pop()
        conditions = _list(item.get("enableWhen"))
        if len(conditions) > 1 and "enableBehavior" not in item:
            walk.issue("error", "invariant", "Constraint failed: que-12: 'If there are more than one enableWhen, "
                       "enableBehavior must be specified'", item_expr, item_loc, rule="que-12")
        if conditions:
            inner = inner_links(item)
            for j, condition in enumerate(conditions):
                question = condition.get("question")
                where = (f"{item_expr}.enableWhen[{j}]", item_loc + ("enableWhen", j))
                if not isinstance(question, str):
                    continue
                if question in inner or question == item.get("linkId"):
                    walk.issue("error", "business-rule", "Questions with an enableWhen cannot refer to an inner "
                               f"question for its enableWhen condition ('{question}')", *where)
                elif question not in all_links:
                    walk.issue("error", "business-rule", f"The enableWhen question '{question}' is not an item of "
                               "this Questionnaire", *where)
        work.extend((child, f"{item_expr}.item[{k}]", item_loc + ("item", k))
                    for k, child in enumerate(_list(item.get("item"))))
