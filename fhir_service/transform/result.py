"""What every transform returns, and the small helpers transforms use to report issues.

A transform never raises for bad input: it returns the output Bundle (or None when it could not produce one)
and the `Issue`s found on the way, the same `Issue` the validator emits, so the CLI and the HTTP operation
render them as one OperationOutcome.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_service.validation.outcome import Issue, has_errors


@dataclass
class TransformResult:
    """`bundle` is None only when the transform could not run at all (the issues say why)."""

    bundle: dict[str, Any] | None
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bundle is not None and not has_errors(self.issues)


def error(code: str, diagnostics: str, expression: str | None = None) -> Issue:
    return Issue("error", code, diagnostics, expression)


def warning(code: str, diagnostics: str, expression: str | None = None) -> Issue:
    return Issue("warning", code, diagnostics, expression)


def information(code: str, diagnostics: str, expression: str | None = None) -> Issue:
    return Issue("information", code, diagnostics, expression)
