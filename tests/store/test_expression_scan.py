"""The store reads the top level of SearchParameter expressions: unions and dotted chains, never splitting inside
string literals (escaped quotes included) or parentheses."""
from __future__ import annotations

from fhir_service.store.expression_scan import depth_after
from fhir_service.store.fast_path import _top_level_segments
from fhir_service.store.search_params import split_union


def test_unions_split_at_the_top_level_only() -> None:
    assert split_union("Observation.code | Condition.code") == ["Observation.code", "Condition.code"]
    assert split_union("A.where(b = 'x|y') | (C | D)") == ["A.where(b = 'x|y')", "(C | D)"]
    assert split_union(r"A.where(b = 'it\'s|x').c | D") == [r"A.where(b = 'it\'s|x').c", "D"]


def test_dotted_chains_keep_calls_and_strings_whole() -> None:
    assert _top_level_segments("A.b.where(x = 'y.z').c") == ["A", "b", "where(x = 'y.z')", "c"]
    assert _top_level_segments(r"A.where(x = 'a\'.b').c") == ["A", r"where(x = 'a\'.b')", "c"]
    assert _top_level_segments("A.b | C") is None  # not a single chain
    assert _top_level_segments("(A.b") is None  # unbalanced


def test_depth_ignores_parentheses_in_strings() -> None:
    assert depth_after("a.where(b = ')')") == 0
    assert depth_after("a.where(b") == 1
