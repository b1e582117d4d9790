"""A pytest plugin, registered at run time by the TestScript tests, that prints what each script did: its asserts
passed/total, failures with their messages, and the asserts not run grouped by reason."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from tests.conformance.testscripts.model import FAIL, NOT_RUN, WARNING, ScriptResult


class TestScriptReport:
    """Holds the results of a session's TestScript runs; pytest calls pytest_terminal_summary at the end."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, title: str, notes: dict[tuple[str, str, str], str] | None = None) -> None:
        """`notes`: why a known failure fails, by (script, section, label), printed beside it."""
        self.title = title
        self.results: list[ScriptResult] = []
        self.notes = notes or {}

    def lines(self) -> list[str]:
        out = []
        passed = sum(result.passed for result in self.results)
        total = sum(result.total for result in self.results)
        out.append(f"{self.title}: {passed}/{total} asserts passed")
        for result in self.results:
            verdict = "pass" if result.ok else "FAIL"
            out.append(f"  {verdict:4} {result.name}: {result.passed}/{result.total} passed, "
                       f"{result.count(FAIL)} failed, {result.count(WARNING)} warnings, "
                       f"{result.count(NOT_RUN)} not run")
            for outcome in result.outcomes:
                if outcome.status in (FAIL, WARNING):
                    out.append(f"       {outcome.status}: [{outcome.section}] {outcome.label}: {outcome.message}")
                    note = self.notes.get((outcome.script, outcome.section, outcome.label))
                    if note:
                        out.append(f"         known: {note}")
        reasons: dict[str, int] = defaultdict(int)
        for result in self.results:
            for outcome in result.outcomes:
                if outcome.status == NOT_RUN:
                    reasons[outcome.message] += 1
        if reasons:
            out.append("  not run, by reason:")
            out += [f"    {count} x {reason}" for reason, count in sorted(reasons.items())]
        return out

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results:
            return
        terminalreporter.section("REST TestScripts")
        for line in self.lines():
            terminalreporter.write_line(line)
