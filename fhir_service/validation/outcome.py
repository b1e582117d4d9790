"""Issues found by validation and their rendering as a FHIR OperationOutcome (the output contract).

Every issue carries both the FHIRPath `expression` of the element (what FHIR clients read) and the raw JSON
`location` (keys and array indexes), which the CLI maps to a line and column of the input text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

SEVERITIES = ("fatal", "error", "warning", "information")
LINE_EXT = "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-line"
COL_EXT = "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-col"
SOURCE_EXT = "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-source"

Location = tuple[str | int, ...]


@dataclass(slots=True)
class Issue:
    """One finding. `code` is an IssueType code (structure, required, value, invariant, code-invalid, ...)."""

    severity: str
    code: str
    diagnostics: str
    expression: str | None = None
    location: Location = ()
    line: int | None = None
    col: int | None = None
    rule: str | None = None  # e.g. the invariant key `ele-1`, or a profile URL: shown to people, kept for tests
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.severity in ("error", "fatal")


def has_errors(issues: Iterable[Issue]) -> bool:
    return any(issue.is_error for issue in issues)


def issue_to_fhir(issue: Issue) -> dict[str, Any]:
    out: dict[str, Any] = {}
    extensions = []
    if issue.line is not None:
        extensions.append({"url": LINE_EXT, "valueInteger": issue.line})
    if issue.col is not None:
        extensions.append({"url": COL_EXT, "valueInteger": issue.col})
    if issue.rule:
        extensions.append({"url": SOURCE_EXT, "valueString": issue.rule})
    if extensions:
        out["extension"] = extensions
    out["severity"] = issue.severity
    out["code"] = issue.code
    out["diagnostics"] = issue.diagnostics
    if issue.expression:
        out["expression"] = [issue.expression]
    return out


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """An OperationOutcome for `issues`; with none, the conventional single `information` issue `All OK`."""
    rendered = [issue_to_fhir(issue) for issue in sort_issues(issues)]
    if not rendered:
        rendered = [{"severity": "information", "code": "informational", "diagnostics": "All OK"}]
    return {"resourceType": "OperationOutcome", "issue": rendered}


def sort_issues(issues: Iterable[Issue]) -> list[Issue]:
    """Issues in document order (line, column), then by severity; stable otherwise."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(issues, key=lambda i: (i.line if i.line is not None else 1 << 30, i.col or 0, rank.get(i.severity, 9)))
