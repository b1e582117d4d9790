"""The natively decided invariants (validation/native.py) agree with their FHIRPath expressions.

Every function is compared with the engine's result on each focus it applies to in the case bundles, the
conformance files (JSON test cases of the HL7 validator suite, FHIRPath and SQL-on-FHIR fixtures) and on mutations
of them (fields removed, duplicated, emptied, re-typed), and on hand-made edge cases. A native answer of None means
"not decided" and is always allowed; any True/False must equal the FHIRPath result.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from fhir_service.validation.fhirpath_adapter import compile_expression
from fhir_service.validation.native import NATIVE, bdl2, bdl5, bdl7, bdl8, con3, dom6

REPO = Path(__file__).resolve().parents[2]
CORPUS_DIRS = [REPO / "bundles", REPO / "tests" / "conformance" / "data"]

# which foci each expression applies to: "bundle", "entry" (Bundle.entry), "domain" (any resource), "Condition"
SCOPES = {
    "entry.all(request.exists()": "bundle",
    "entry.all(response.exists()": "bundle",
    "(type = 'history')": "bundle",
    "entry.search.empty()": "bundle",
    "resource.exists() or": "entry",
    "fullUrl.contains(": "entry",
    "text.`div`": "domain",
    "clinicalStatus.exists()": "Condition",
}


def _scope(expression: str) -> str:
    return next(scope for prefix, scope in SCOPES.items() if expression.startswith(prefix))


def _load_corpus() -> list[Any]:
    docs: list[Any] = []
    for base in CORPUS_DIRS:
        for path in sorted(base.rglob("*.json")):
            try:
                docs.append(json.loads(path.read_text(encoding="utf-8")))
            except (ValueError, UnicodeDecodeError):
                continue
    return docs


def _resources(node: Any) -> Iterator[dict]:
    """Every JSON object with a resourceType, at any depth (test-case wrappers hold resources inside)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("resourceType"), str):
                yield item
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)


def _mutations(bundle: dict) -> Iterator[dict]:
    """Variants of a Bundle that reach the native functions' other branches."""
    for kind in ("batch", "transaction", "history", "searchset", "batch-response", "collection", 3, None):
        variant = copy.deepcopy(bundle)
        if kind is None:
            variant.pop("type", None)
        else:
            variant["type"] = kind
        yield variant
    entries = bundle.get("entry")
    if isinstance(entries, list) and entries and all(isinstance(e, dict) for e in entries):
        dup = copy.deepcopy(bundle)
        dup["entry"].append(copy.deepcopy(entries[0]))
        yield dup
        changed = copy.deepcopy(bundle)
        first = changed["entry"][0]
        first["request"] = {"method": "POST", "url": "Patient"}
        first["response"] = {}
        first["search"] = {"mode": "match"}
        first["fullUrl"] = "http://x.org/fhir/Patient/1/_history/2"
        yield changed
        stripped = copy.deepcopy(bundle)
        for entry in stripped["entry"]:
            entry.pop("resource", None)
            entry.pop("fullUrl", None)
        yield stripped


def _foci(docs: list[Any]) -> dict[str, list[tuple[Any, Any]]]:
    """(focus, %resource) pairs per scope."""
    found: dict[str, list[tuple[Any, Any]]] = {"bundle": [], "entry": [], "domain": [], "Condition": []}
    for doc in docs:
        for res in _resources(doc):
            variants = list(_mutations(res)) if res.get("resourceType") == "Bundle" else []
            for item in [res, *variants]:
                rtype = item.get("resourceType")
                if rtype == "Bundle":
                    found["bundle"].append((item, item))
                    for entry in item.get("entry", []) if isinstance(item.get("entry"), list) else []:
                        found["entry"].append((entry, item))
                else:
                    found["domain"].append((item, item))
                if rtype == "Condition":
                    found["Condition"].append((item, item))
    return found


EDGE_CASES: dict[str, list[Any]] = {
    "bundle": [
        {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": "x"}}]},
        {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {"resourceType": "Patient"}}]},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"request": {}}]},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "a", "resource": {"resourceType": "Patient", "meta": {"versionId": "1"}}},
                                                               {"fullUrl": "a", "resource": {"resourceType": "Patient", "meta": {"versionId": "2"}}}]},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "a1"}, {"fullUrl": "a", "resource": {"resourceType": "Patient", "meta": {"versionId": "1"}}}]},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "a"}, {"fullUrl": "a"}]},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"_fullUrl": {"extension": []}}]},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"search": {"mode": "match"}}]},
        {"resourceType": "Bundle", "type": "searchset", "entry": [{"search": {"mode": "match"}}]},
        {"resourceType": "Bundle", "_type": {"id": "t"}, "entry": []},
        {"resourceType": "Bundle", "type": "collection", "entry": "not a list"},
        {"resourceType": "Bundle", "type": "collection"},
    ],
    "entry": [{}, {"fullUrl": "urn:uuid:1"}, {"fullUrl": "http://a/Patient/1/_history/1"}, {"fullUrl": 3},
              {"request": {}}, {"response": {"status": "200"}}, {"resource": None}, {"resource": []}],
    "domain": [{"resourceType": "Patient"}, {"resourceType": "Patient", "text": {"status": "generated"}},
               {"resourceType": "Patient", "text": {"div": ""}}, {"resourceType": "Patient", "text": None},
               {"resourceType": "Patient", "text": "x"}, {"resourceType": "Patient", "text": {"_div": {}}}],
    "Condition": [
        {"resourceType": "Condition"},
        {"resourceType": "Condition", "category": [{"text": "x"}]},
        {"resourceType": "Condition", "category": []},
        {"resourceType": "Condition", "category": [{}]},
        {"resourceType": "Condition", "category": {"text": "x"}},
        {"resourceType": "Condition", "category": [{"coding": [{"code": "problem-list-item"}]}],
         "clinicalStatus": {"text": "active"}},
        {"resourceType": "Condition", "category": [{"text": "x"}], "clinicalStatus": {}},
        {"resourceType": "Condition", "category": [{"text": "x"}], "verificationStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "entered-in-error"}]}},
        {"resourceType": "Condition", "category": [{"text": "x"}], "verificationStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]}},
        {"resourceType": "Condition", "category": [{"text": "x"}], "verificationStatus": {"coding": [
            {"system": "other", "code": "entered-in-error"}]}},
        {"resourceType": "Condition", "verificationStatus": {"text": "x"}},
        {"resourceType": "Condition", "verificationStatus": "bad"},
    ],
}


@pytest.fixture(scope="module")
def foci() -> dict[str, list[tuple[Any, Any]]]:
    found = _foci(_load_corpus())
    for scope, items in EDGE_CASES.items():
        for item in items:
            found[scope].append((item, item if scope != "entry" else {"resourceType": "Bundle", "entry": [item]}))
    return found


def _fhirpath(expression: str, focus: Any, resource: Any, scope: str) -> bool:
    context_type = "Bundle.entry" if scope == "entry" else None
    return compile_expression(expression).holds(focus, resource=resource, root_resource=resource,
                                                context_type=context_type)


@pytest.mark.parametrize("expression", sorted(NATIVE))
def test_native_matches_fhirpath(expression: str, foci: dict[str, list[tuple[Any, Any]]]) -> None:
    scope = _scope(expression)
    check = NATIVE[expression]
    decided = 0
    for focus, resource in foci[scope]:
        answer = check(focus, resource)
        if answer is None:
            continue
        decided += 1
        expected = _fhirpath(expression, focus, resource, scope)
        assert answer == expected, (expression, json.dumps(focus)[:400])
    assert decided >= 10, f"{expression}: too few decided cases to mean anything ({decided})"


def test_every_native_expression_is_a_core_invariant() -> None:
    """The keys are the R4 core expressions verbatim: a typo would silently disable the native path."""
    from fhir_service.definitions import default_definitions

    definitions = default_definitions()
    core: set[str] = set()
    for name in ("Bundle", "DomainResource", "Condition"):
        sd = definitions.structure_definition(name)
        for element in sd["snapshot"]["element"]:
            core.update(c.get("expression", "") for c in element.get("constraint", []))
    assert set(NATIVE) <= core


def test_native_answers_both_ways() -> None:
    assert bdl8({"fullUrl": "urn:uuid:1"}, None) is True
    assert bdl8({"fullUrl": "http://a/Patient/1/_history/1"}, None) is False
    assert bdl5({"request": {"method": "GET"}}, None) is True
    assert bdl5({}, None) is None  # left to FHIRPath
    assert bdl7({"type": "collection", "entry": [{"fullUrl": "a"}, {"fullUrl": "a"}]}, None) is False
    assert bdl7({"type": "history", "entry": [{"fullUrl": "a"}, {"fullUrl": "a"}]}, None) is True
    assert dom6({"resourceType": "Patient", "text": {"div": "<div/>"}}, None) is True
    assert dom6({"resourceType": "Patient"}, None) is False
    assert con3({"resourceType": "Condition", "category": [{"text": "x"}]}, None) is False
    assert con3({"resourceType": "Condition"}, None) is True
    assert bdl2({"type": "collection", "entry": [{"search": {"mode": "match"}}]}, None) is None  # left to FHIRPath
    assert bdl2({"type": "collection", "entry": [{"fullUrl": "a"}]}, None) is True


# -- through the Validator: each natively decided rule, failing and passing --------------------------------
NARRATIVE = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}


def _patient(pid: str) -> dict:
    return {"resourceType": "Patient", "id": pid, "text": NARRATIVE}


def _rules(issues: list) -> set[str | None]:
    return {i.rule for i in issues}


def _bundle(kind: str, entries: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def test_validator_reports_bdl3_and_bdl4(validator: Any) -> None:
    entry = {"fullUrl": "urn:uuid:0c3ce9b6-5bbe-4ed9-8a0c-7a2b4b5b7d31", "resource": _patient("a")}
    assert "bdl-3" in _rules(validator.validate(_bundle("transaction", [entry])))
    assert "bdl-3" not in _rules(validator.validate(_bundle("collection", [entry])))
    with_response = {**entry, "response": {"status": "201"}}
    assert "bdl-4" in _rules(validator.validate(_bundle("collection", [with_response])))
    assert "bdl-4" not in _rules(validator.validate(_bundle("transaction-response", [with_response])))


def test_validator_reports_bdl7_and_bdl8(validator: Any) -> None:
    url = "http://example.org/fhir/Patient/a"
    twice = [{"fullUrl": url, "resource": _patient("a")}, {"fullUrl": url, "resource": _patient("a")}]
    assert "bdl-7" in _rules(validator.validate(_bundle("collection", twice)))
    assert "bdl-7" not in _rules(validator.validate(_bundle("collection", twice[:1])))
    versioned = [{"fullUrl": url + "/_history/1", "resource": _patient("a")}]
    assert "bdl-8" in _rules(validator.validate(_bundle("collection", versioned)))


def test_validator_reports_bdl2_and_bdl5(validator: Any) -> None:
    searched = [{"fullUrl": "http://example.org/fhir/Patient/a", "resource": _patient("a"),
                 "search": {"mode": "match"}}]
    assert "bdl-2" in _rules(validator.validate(_bundle("collection", searched)))
    assert "bdl-2" not in _rules(validator.validate(_bundle("searchset", searched)))
    assert "bdl-5" in _rules(validator.validate(_bundle("collection", [{"fullUrl": "urn:uuid:1"}])))


def test_validator_reports_con3(validator: Any) -> None:
    condition = {"resourceType": "Condition", "text": NARRATIVE, "subject": {"reference": "Patient/a"},
                 "code": {"text": "CRS"}, "category": [{"coding": [{
                     "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                     "code": "problem-list-item"}]}]}
    assert "con-3" in _rules(validator.validate(condition))
    assert "con-3" not in _rules(validator.validate({**condition, "clinicalStatus": {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}}))
