"""Shared by the conformance suites: a `report_score(name, passed, total)` fixture whose figures are printed in
pytest's terminal summary, so every run (even a plain `pytest -q`) shows the scores, e.g.

    def test_my_suite_score(report_score):
        report_score("FHIRPath R4 conformance", passed, total)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

ScoreReporter = Callable[[str, int, int], None]
_SCORES: dict[str, tuple[int, int]] = {}


@pytest.fixture(scope="session")
def report_score() -> ScoreReporter:
    """Record a suite's score; printed as `<name>: <passed>/<total> passed (<pct>%)` at the end of the run."""

    def record(name: str, passed: int, total: int) -> None:
        _SCORES[name] = (passed, total)

    return record


def format_score(name: str, passed: int, total: int) -> str:
    percent = 100.0 * passed / total if total else 0.0
    return f"{name}: {passed}/{total} passed ({percent:.1f}%)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _SCORES:
        return
    terminalreporter.section("conformance scores")
    for name, (passed, total) in sorted(_SCORES.items()):
        terminalreporter.write_line(format_score(name, passed, total))
