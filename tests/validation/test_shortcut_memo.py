"""The invariant memo (validation/shortcuts.py) stays bounded: large keys are never kept, and the total size of the
keys' JSON has a budget, so validating a 10,000-entry Bundle does not hold its entries' JSON in memory."""
from __future__ import annotations

import pytest

from fhir_service.validation import shortcuts
from fhir_service.validation.fhirpath_adapter import compile_expression

EXPRESSION = compile_expression("name.exists()")
ROOTS = frozenset({"name"})


def _patient(name: str) -> dict:
    return {"resourceType": "Patient", "name": [{"family": name}]}


def test_small_results_are_kept_and_reused() -> None:
    shortcuts._memo.clear()
    shortcuts._memo_bytes = 0
    first = shortcuts.memoised(EXPRESSION, ROOTS, _patient("Ng"), None)
    assert first == [True]
    entries, size = shortcuts.memo_size()
    assert entries == 1 and size > 0
    assert shortcuts.memoised(EXPRESSION, ROOTS, _patient("Ng"), None) == [True]
    assert shortcuts.memo_size() == (entries, size)  # the same key: nothing added


def test_large_keys_are_evaluated_but_not_kept() -> None:
    shortcuts._memo.clear()
    shortcuts._memo_bytes = 0
    huge = {"resourceType": "Patient", "name": [{"family": f"name-{i}"} for i in range(5000)]}
    reads_family = compile_expression("name.family.exists()")  # the families are all part of the key
    assert shortcuts.memoised(reads_family, ROOTS, huge, None) == [True]
    assert shortcuts.memo_size() == (0, 0)


def test_keys_leave_out_what_the_expression_cannot_read() -> None:
    """name.exists() never looks inside a name: patients differing only in their families share one result."""
    shortcuts._memo.clear()
    shortcuts._memo_bytes = 0
    for family in ("Ng", "Okafor", "Silva"):
        assert shortcuts.memoised(EXPRESSION, ROOTS, _patient(family), None) == [True]
    assert shortcuts.memo_size()[0] == 1


def test_total_key_bytes_stay_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    shortcuts._memo.clear()
    shortcuts._memo_bytes = 0
    monkeypatch.setattr(shortcuts, "MEMO_BYTES", 2000)
    reads_family = compile_expression("name.family.exists()")
    for i in range(200):
        assert shortcuts.memoised(reads_family, ROOTS, _patient(f"family-{i}"), None) == [True]
        assert shortcuts.memo_size()[1] <= 2000
    assert 0 < shortcuts.memo_size()[0] < 200
