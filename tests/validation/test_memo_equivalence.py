"""Memoised invariant results (validation/shortcuts.py, including a resource's own invariants that read
`%resource.name`) give exactly the issues that evaluating every invariant in full gives.

The case bundles and mutations of them that break the profiles' rules (severity removed or swapped, relative days
changed, codes changed) are validated twice: as usual, and with memoisation switched off."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from fhir_service.validation import Validator, guards, walker

BUNDLES = sorted((Path(__file__).resolve().parents[2] / "bundles").glob("*.json"))


def _mutations(bundle: dict) -> Iterator[dict]:
    yield bundle
    for n, change in enumerate(("drop-severity", "swap-severity", "days", "code", "not-toxicity", "refs")):
        variant = copy.deepcopy(bundle)
        for i, entry in enumerate(variant.get("entry", [])):
            res = entry.get("resource", {})
            if (i + n) % 2:
                continue
            if change == "drop-severity":
                res.pop("severity", None)
            elif change == "swap-severity" and isinstance(res.get("severity"), dict):
                for coding in res["severity"].get("coding", []):
                    if isinstance(coding.get("code"), str) and coding["code"].startswith("grade-"):
                        coding["code"] = "grade-5" if coding["code"] != "grade-5" else "grade-1"
            elif change == "days":
                _shift_days(res)
            elif change == "not-toxicity" and res.get("resourceType") == "Condition":
                res["code"] = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C83.30"}],
                               "text": "lymphoma"}
                res.pop("category", None)
            elif change == "refs" and isinstance(res.get("reasonReference"), list):
                for ref in res["reasonReference"]:
                    if isinstance(ref, dict):
                        ref["reference"] = "urn:uuid:00000000-0000-4000-8000-000000000000"  # resolves to nothing
                        ref["display"] = "changed"
            elif change == "code" and isinstance(res.get("code"), dict):
                for coding in res["code"].get("coding", []):
                    if coding.get("system") == "http://hl7.org/fhir/sid/icd-10-cm":
                        coding["code"] = "D89.839" if coding.get("code") != "D89.839" else "D89.832"
        yield variant


def _shift_days(node: Any) -> None:
    if isinstance(node, dict):
        if str(node.get("url", "")).endswith("/relative-day") and isinstance(node.get("valueInteger"), int):
            node["valueInteger"] = -node["valueInteger"] - 1
        for value in node.values():
            _shift_days(value)
    elif isinstance(node, list):
        for item in node:
            _shift_days(item)


def _shown(issues: list[Any]) -> list[tuple]:
    """Issues comparably; an engine failure's message names the part of the expression that failed (a
    short-circuit runs a part alone), so only the fact that the constraint could not be evaluated is compared."""
    def text(diagnostics: str) -> str:
        return diagnostics.split(": ", 1)[0] if "could not be evaluated" in diagnostics else diagnostics
    return sorted((i.severity, i.code, text(i.diagnostics), i.expression or "", str(i.location), i.rule or "")
                  for i in issues)


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_memoised_results_equal_full_evaluation(path: Path, validator: Validator,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = json.loads(path.read_text())
    variants = list(_mutations(bundle))
    usual = [_shown(validator.validate(v)) for v in variants]
    monkeypatch.setattr(walker.Walk, "_memoised", lambda self, c, val, context_type, frame: None)
    monkeypatch.setattr(walker.Walk, "_shortcut", staticmethod(lambda c, val, context_type: None))
    full = [_shown(validator.validate(v)) for v in variants]
    assert usual == full


def test_mutations_break_the_profiles_rules(validator: Validator) -> None:
    """The comparison above means something: the mutations do produce new issues."""
    changed = 0
    for path in BUNDLES:
        variants = list(_mutations(json.loads(path.read_text())))
        usual = [_shown(validator.validate(v)) for v in variants]
        changed += sum(u != usual[0] for u in usual[1:])
    assert changed >= 3


def test_read_names() -> None:
    cart3 = ("reasonReference.all(resolve().empty() or resolve().ofType(Condition).where(code.coding.where("
             "system = 'http://hl7.org/fhir/sid/icd-10-cm' and code.startsWith('D89.83')).exists()))")
    assert {"reasonReference", "code", "coding", "system"} <= guards.read_names(cart3)
    assert "text" not in guards.read_names(cart3) and "display" not in guards.read_names(cart3)
    assert {"value", "code", "system", "unit", "url"} <= guards.read_names("low.empty() or (low <= high)")
    assert guards.read_names("code = %resource.code") is None  # whole items compared
    assert guards.read_names("coding.intersect(%resource.code.coding).exists()") is None
    assert guards.read_names("(a | b).count() = 1") is None
    assert guards.read_names("code.coding.code contains 'x'") is None  # membership: equality of items
    assert {"name", "given", "contains"} <= guards.read_names("name.given.contains('x')")  # the string function
    assert guards.read_names("code ~ 'x'") is None
    assert guards.read_names("value = %ucum") is None


def test_resource_reads() -> None:
    assert guards.resource_reads("code.all(iif(code = 'x', %resource.severity.empty(), true))") == {"severity"}
    assert guards.resource_reads("extension.all($this >= %resource.extension.first())") == {"extension"}
    assert guards.resource_reads("code.exists()") == frozenset()
    assert guards.resource_reads("%resource.exists()") is None  # a function of %resource itself
    assert guards.resource_reads("code = %rootResource.code") is None
    assert guards.resource_reads("reference.resolve().exists() and %resource.id.exists()") is None
    assert guards.resource_reads("value = %ucum") is None


def _any_present_reference(node: dict, roots: frozenset[str]) -> bool:
    """The plain definition: a key (less a leading `_`) is a root, or a root followed by a type name."""
    for key in node:
        key = key[1:] if key.startswith("_") else key
        if key in roots or any(key.startswith(n) and key[len(n):len(n) + 1].isupper() for n in roots):
            return True
    return False


def test_any_present_matches_its_definition() -> None:
    keys = ["value", "valueString", "_valueString", "_value", "values", "valueless", "code", "_code", "coding",
            "codeableConcept", "id", "extension", "modifierExtension", "onsetPeriod", "onset", "_onset", "text"]
    roots_list = [frozenset(r) for r in (["value"], ["code"], ["onset", "text"], ["extension"], ["coding", "id"],
                                         ["valueString"], ["modifier"], ["x"])]
    checked = 0
    for i in range(len(keys)):
        for j in range(i, min(i + 4, len(keys))):
            node = {k: 1 for k in keys[i:j + 1]}
            for roots in roots_list:
                assert guards.any_present(node, roots) == _any_present_reference(node, roots), (node, roots)
                checked += 1
    assert checked > 200


def test_reads_key_matches_any_present() -> None:
    keys = ["value", "valueString", "_valueString", "_value", "values", "code", "_code", "coding", "onsetPeriod",
            "text", "_text", "textual", "id"]
    for roots in (frozenset({"value"}), frozenset({"code", "onset"}), frozenset({"text"}), frozenset({"x"})):
        for key in keys:
            assert guards.reads_key(key, roots) == _any_present_reference({key: 1}, roots), (key, roots)


CONFORMANCE_FILES = sorted((Path(__file__).resolve().parents[2] / "tests" / "conformance" / "data"
                            / "fhir-test-cases-validator" / "files").glob("*.json"))


def test_memoised_results_equal_full_evaluation_on_conformance_files(validator: Validator,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The HL7 validator test files, one after another (so results memoised from one file meet the next)."""
    resources = []
    for path in CONFORMANCE_FILES:
        try:
            resource = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str) and path.stat().st_size < 200_000:
            resources.append(resource)
    assert len(resources) > 100
    usual = [_shown(validator.validate(r)) for r in resources]
    monkeypatch.setattr(walker.Walk, "_memoised", lambda self, c, val, context_type, frame: None)
    monkeypatch.setattr(walker.Walk, "_shortcut", staticmethod(lambda c, val, context_type: None))
    full = [_shown(validator.validate(r)) for r in resources]
    for resource, a, b in zip(resources, usual, full):
        assert a == b, resource.get("id")
