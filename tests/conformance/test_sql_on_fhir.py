"""The SQL-on-FHIR v2 ViewDefinition test suite (tests/conformance/data/sql-on-fhir-v2, 134 cases) against
`fhir_service.transform.views`.

Every case of every file runs as its own test: the view over the file's fixture resources must give the
expected rows (compared as the reference runner sof-js does: as a multiset, regardless of row order, with
the same keys in each row; numbers by value, so the decimal 0.95000000 of lowBoundary() equals 0.95, but a
boolean never equals a number), the exact column order where `expectColumns` is given, and an error where
`expectError` is set. The score (shareable cases and all cases) is printed in the terminal summary;
FLOOR_SHAREABLE / FLOOR_ALL must hold (raise them when the score improves).

"Shareable" is the suite's own tag: cases every conformant implementation must pass. The 11 "experimental"
ones (fn_boundary: lowBoundary/highBoundary, fn_join: join()) test FHIRPath functions still in ballot; they
run and count in the "all" score too.

Run `python -m tests.conformance.test_sql_on_fhir` to list failures and write test_report.json (the
format the suite's README asks runners to publish) to the current directory.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from fhir_service.transform.views import ViewDefinitionError, run_view

SUITE = Path(__file__).resolve().parent / "data" / "sql-on-fhir-v2" / "tests"
TOTAL = 134
SHAREABLE = 123
FLOOR_SHAREABLE = 123  # the score reached; only ever raise it
FLOOR_ALL = 134


@dataclass(frozen=True)
class Case:
    file: str
    title: str
    test: dict[str, Any]
    resources: list[dict[str, Any]]

    @property
    def shareable(self) -> bool:
        return "shareable" in (self.test.get("tags") or [])

    @property
    def id(self) -> str:
        return f"{self.file}:{self.title}"


@lru_cache(maxsize=1)
def load_cases() -> tuple[Case, ...]:
    cases = []
    for path in sorted(SUITE.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        for test in suite["tests"]:
            cases.append(Case(path.name, test["title"], test, suite.get("resources", [])))
    return tuple(cases)


def _comparable(value: Any) -> Any:
    """A value as the comparison sees it: numbers by value (int, float, Decimal alike), booleans apart."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (int, float, Decimal)):
        return ("number", Decimal(str(value)).normalize())
    if isinstance(value, list):
        return ("list", tuple(_comparable(item) for item in value))
    if isinstance(value, dict):
        return ("object", tuple(sorted((key, _comparable(item)) for key, item in value.items())))
    return ("other", repr(value))


def _row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((key, _comparable(value)) for key, value in row.items()))


def check(case: Case) -> str | None:
    """None when the case passes, else why it fails."""
    test = case.test
    try:
        rows = list(run_view(test["view"], case.resources))
    except ViewDefinitionError as exc:
        return None if test.get("expectError") else f"unexpected error: {exc}"
    if test.get("expectError"):
        return f"expected an error, got {len(rows)} rows"
    if "expectCount" in test and len(rows) != test["expectCount"]:
        return f"expected {test['expectCount']} rows, got {len(rows)}"
    if "expectColumns" in test:
        for row in rows:
            if list(row) != test["expectColumns"]:
                return f"columns {list(row)}, expected {test['expectColumns']}"
    if "expect" in test:
        got = sorted(map(_row_key, rows), key=repr)
        expected = sorted(map(_row_key, test["expect"]), key=repr)
        if got != expected:
            return f"rows differ:\n got      {rows}\n expected {test['expect']}"
    return None


CASES = load_cases()


def test_the_suite_is_complete() -> None:
    assert len(CASES) == TOTAL
    assert sum(case.shareable for case in CASES) == SHAREABLE
    assert len({case.id for case in CASES}) == TOTAL


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case: Case) -> None:
    failure = check(case)
    assert failure is None, failure


def test_score(report_score: Any) -> None:
    results = {case.id: check(case) is None for case in CASES}
    shareable = sum(ok for case in CASES if case.shareable for ok in [results[case.id]])
    passed = sum(results.values())
    report_score("SQL-on-FHIR v2 ViewDefinitions, shareable cases", shareable, SHAREABLE)
    report_score("SQL-on-FHIR v2 ViewDefinitions, all cases", passed, TOTAL)
    assert shareable >= FLOOR_SHAREABLE
    assert passed >= FLOOR_ALL


def write_report(directory: Path) -> dict[str, Any]:
    """The suite README's test_report.json: {"<file>": {"tests": [{"name", "result": {"passed", "reason"?}}]}}."""
    report: dict[str, Any] = {}
    for case in CASES:
        failure = check(case)
        result: dict[str, Any] = {"passed": failure is None}
        if failure is not None:
            result["reason"] = failure
        report.setdefault(case.file, {"tests": []})["tests"].append({"name": case.title, "result": result})
    (directory / "test_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


if __name__ == "__main__":
    outcome = write_report(Path.cwd())
    failed = [(f, t["name"], t["result"]["reason"]) for f, v in outcome.items() for t in v["tests"]
              if not t["result"]["passed"]]
    for file_name, title, reason in failed:
        print(f"FAIL {file_name}: {title}\n  {reason}")
    print(f"{TOTAL - len(failed)}/{TOTAL} passed; test_report.json written")
    sys.exit(1 if failed else 0)
