"""Rendering validation results: one line per issue for people, OperationOutcome JSON for machines.

Text: `FILE:LINE:COL: SEVERITY: EXPRESSION: MESSAGE` (the compiler-style prefix editors and CI logs turn into
links), then one summary line per file, `FILE: 2 errors, 1 warning, 0 information` (fatal counts as an error).
JSON: exactly one OperationOutcome for one file; for several, a `collection` Bundle of them whose fullUrls are
the files' `file://` URIs, in input order.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

import orjson

from fhir_service.validation.outcome import Issue, operation_outcome, sort_issues


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_line(name: str, issues: Iterable[Issue]) -> str:
    issues = list(issues)
    errors = sum(1 for i in issues if i.severity in ("error", "fatal"))
    warnings = sum(1 for i in issues if i.severity == "warning")
    information = sum(1 for i in issues if i.severity == "information")
    return f"{name}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}, {information} information"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def issue_line(name: str, issue: Issue) -> str:
    line = issue.line if issue.line is not None else 1
    col = issue.col if issue.col is not None else 1
    expression = issue.expression or "-"
    return f"{name}:{line}:{col}: {issue.severity}: {expression}: {_one_line(issue.diagnostics)}"


def text_report(name: str, issues: Sequence[Issue]) -> list[str]:
    """The lines for one file: its issues in document order, then its summary."""
    return [issue_line(name, issue) for issue in sort_issues(issues)] + [summary_line(name, issues)]


def file_uri(name: str) -> str:
    """The fullUrl of one input in the multi-file Bundle: its absolute file:// URI (stdin gets a urn:uuid)."""
    if name == "-":
        return f"urn:uuid:{uuid.uuid4()}"
    return Path(name).resolve().as_uri()


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")


def json_report(results: Sequence[tuple[str, Sequence[Issue]]]) -> str:
    """One OperationOutcome for one input, else a collection Bundle of them (fullUrl = the file's URI)."""
    if len(results) == 1:
        return dumps(operation_outcome(results[0][1]))
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": file_uri(name), "resource": operation_outcome(issues)} for name, issues in results],
    }
    return dumps(bundle)
