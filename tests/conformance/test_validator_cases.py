"""The HL7 validator test cases (fhir-test-cases, R4) as the yardstick of the validation engine.

Runs the cases that need no terminology server and no external package: useTest, not needsTerminology, no
`packages`, no `externalProfiles`, module other than matchetype, a known expected errorCount, and a JSON file
(XML cases are counted and reported as "not run: XML"). Each case's supporting files (and its profileStep source)
are added to a copy of the definitions; the instance is validated (base step), and against the profileStep's
profile when present. A verdict agrees when (expected errorCount == 0) == (our error count == 0).

Run as a script to list the disagreements: `.venv/bin/python tests/conformance/test_validator_cases.py [-v] [name]`.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fhir_service.definitions import Definitions, default_definitions  # noqa: E402
from fhir_service.validation import Validator  # noqa: E402
from fhir_service.validation.outcome import Issue  # noqa: E402

SUITE = ROOT / "tests" / "conformance" / "data" / "fhir-test-cases-validator"
# Floors only go up: raise them when the engine improves.
BASE_FLOOR = 0.88
PROFILE_FLOOR = 0.60


@dataclass
class CaseResult:
    name: str
    expected_errors: int
    errors: list[Issue]
    profile_expected: int | None = None
    profile_errors: list[Issue] | None = None
    note: str = ""
    issues: list[Issue] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return (self.expected_errors == 0) == (not self.errors)

    @property
    def profile_agrees(self) -> bool | None:
        if self.profile_expected is None or self.profile_errors is None:
            return None
        return (self.profile_expected == 0) == (not self.profile_errors)


def select_cases() -> tuple[list[dict[str, Any]], int]:
    """(runnable JSON cases, number of otherwise-eligible XML cases)."""
    index = json.loads((SUITE / "r4-index.json").read_text())
    runnable, xml = [], 0
    for case in index:
        expected = case.get("expected") or {}
        if (not case.get("useTest", True) or case.get("needsTerminology") or case.get("packages")
                or case.get("externalProfiles") or case.get("module") == "matchetype"
                or expected.get("errorCount") is None):
            continue
        if not case["file"].endswith(".json"):
            xml += 1
            continue
        runnable.append(case)
    return runnable, xml


def _load(rel: str) -> Any:
    return orjson.loads((SUITE / rel).read_bytes())


def _add_conformance(defs: Definitions, resource: Any) -> None:
    if not isinstance(resource, dict):
        return
    if resource.get("resourceType") == "Bundle":
        for entry in resource.get("entry", []) or []:
            if isinstance(entry, dict):
                _add_conformance(defs, entry.get("resource"))
        return
    defs.add(resource)


def run_case(case: dict[str, Any], base_defs: Definitions) -> CaseResult:
    defs = base_defs.copy()
    sources = list(case.get("supporting", []))
    step = case.get("profileStep")
    if step and step.get("source"):
        sources.append(step["source"])
    for rel in sources:
        if rel.endswith(".json") and (SUITE / rel).exists():
            try:
                _add_conformance(defs, _load(rel))
            except orjson.JSONDecodeError:
                pass
    validator = Validator(defs)
    try:
        instance = _load(case["file"])
        issues = validator.validate(instance)
    except orjson.JSONDecodeError as exc:
        issues = [Issue("fatal", "structure", f"JSON parse error: {exc}")]
    result = CaseResult(case["name"], case["expected"]["errorCount"], [i for i in issues if i.is_error],
                        issues=issues)
    if step and step.get("source") and (step.get("expected") or {}).get("errorCount") is not None:
        try:
            url = _load(step["source"]).get("url")
        except (orjson.JSONDecodeError, AttributeError):
            url = None
        if url and isinstance(instance := _try_load(case["file"]), dict):
            profile_issues = validator.validate(instance, [url])
            result.profile_expected = step["expected"]["errorCount"]
            result.profile_errors = [i for i in profile_issues if i.is_error]
    return result


def _try_load(rel: str) -> Any:
    try:
        return _load(rel)
    except orjson.JSONDecodeError:
        return None


def run_all(names: set[str] | None = None) -> tuple[list[CaseResult], int]:
    cases, xml = select_cases()
    base = default_definitions()
    results = []
    for case in cases:
        if names and case["name"] not in names:
            continue
        results.append(run_case(case, base))
    return results, xml


def summary(results: list[CaseResult], xml: int) -> tuple[int, int, int, int]:
    agree = sum(r.agrees for r in results)
    steps = [r for r in results if r.profile_agrees is not None]
    step_agree = sum(bool(r.profile_agrees) for r in steps)
    print(f"validator conformance: {agree}/{len(results)} verdicts agree ({100 * agree / max(1, len(results)):.1f}%)"
          f"; not run: XML {xml}")
    print(f"validator conformance (profile step): {step_agree}/{len(steps)} verdicts agree "
          f"({100 * step_agree / max(1, len(steps)):.1f}%)")
    return agree, len(results), step_agree, len(steps)


def test_validator_conformance(report_score: Any) -> None:
    results, xml = run_all()
    agree, total, step_agree, steps = summary(results, xml)
    report_score("validator conformance (base step)", agree, total)
    report_score("validator conformance (profile step)", step_agree, steps)
    assert total > 250, "the selection of cases shrank unexpectedly"
    assert agree / total >= BASE_FLOOR
    assert step_agree / max(1, steps) >= PROFILE_FLOOR


def main(argv: list[str]) -> None:
    verbose = "-v" in argv
    names = {a for a in argv if not a.startswith("-")} or None
    results, xml = run_all(names)
    for r in results:
        if not r.agrees or r.profile_agrees is False or verbose:
            mark = "OK " if r.agrees else "BAD"
            print(f"{mark} {r.name}: expected {r.expected_errors} errors, found {len(r.errors)}"
                  + (f"; profile step expected {r.profile_expected}, found {len(r.profile_errors or [])}"
                     if r.profile_expected is not None else ""))
            shown = r.issues if verbose else r.errors
            for i in shown[:8]:
                print(f"     {i.severity} {i.expression}: {i.diagnostics[:200]}")
            if r.profile_agrees is False:
                for i in (r.profile_errors or [])[:6]:
                    print(f"     [profile] {i.expression}: {i.diagnostics[:200]}")
    summary(results, xml)


if __name__ == "__main__":
    main(sys.argv[1:])
