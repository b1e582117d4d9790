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


@pytest.mark.parametrize("expression, context, foci", [
    ("low.empty() or high.empty() or (low <= high)", "Range",  # a Quantity's value and code are read unnamed
     [{"low": {"value": 1, "system": "http://unitsofmeasure.org", "code": "mg"},
       "high": {"value": 5, "system": "http://unitsofmeasure.org", "code": "mg"}},
      {"low": {"value": 10, "system": "http://unitsofmeasure.org", "code": "mg"},
       "high": {"value": 5, "system": "http://unitsofmeasure.org", "code": "mg"}}]),
    ("extension('http://a.org/x').exists()", None,  # extension(url) reads url unnamed
     [{"extension": [{"url": "http://a.org/x", "valueString": "s"}]},
      {"extension": [{"url": "http://b.org/y", "valueString": "s"}]}]),
    ("name.family.exists()", None,
     [{"name": [{"family": "Ng"}]}, {"name": [{"given": ["Ada"]}]}]),
])
def test_memoised_results_follow_what_is_read_unnamed(expression: str, context: str | None,
                                                     foci: list[dict]) -> None:
    compiled = compile_expression(expression)
    from fhir_service.validation.guards import root_names

    roots = root_names(expression) or frozenset({"extension"})
    shortcuts._memo.clear()
    shortcuts._memo_bytes = 0
    results = [shortcuts.memoised(compiled, roots, focus, context) for focus in foci]
    expected = [shortcuts._normalised(compiled.evaluate(f, resource=f, root_resource=f, context_type=context))
                for f in foci]
    assert results == expected
    assert results[0] != results[1]


def test_chained_resolve_is_never_memoised() -> None:
    """Only first-level resolve() targets are part of a memo key, so a resolve() of a resolved target must be
    evaluated every time (else a result could be reused across bundles whose second-level targets differ)."""
    from fhir_service.validation.guards import is_pure

    assert is_pure("reasonReference.resolve().code.exists()", allow_resolve=True)
    assert is_pure("reasonReference.all(resolve().empty() or resolve().ofType(Condition).code.exists())",
                   allow_resolve=True)  # two resolve() of the same focus: first level only
    assert not is_pure("subject.resolve().managingOrganization.resolve().active", allow_resolve=True)
    assert not is_pure("subject.resolve().where(active).link.other.resolve().exists()", allow_resolve=True)
    assert not is_pure("reasonReference.resolve().code.exists()")
