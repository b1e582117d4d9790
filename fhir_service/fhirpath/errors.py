"""The single exception type of the FHIRPath layer.

Callers (validator, store) catch one type, whatever went wrong: a syntax error at compile time or a runtime
error (wrong arity, a collection where a singleton is required, an unknown function). It subclasses ValueError
because a bad expression is bad input, not a programming error.
"""
from __future__ import annotations


class FhirPathError(ValueError):
    """A FHIRPath expression could not be compiled or evaluated.

    `expression` is the offending expression text; `position` the (line, column) of a syntax error, if known.
    """

    def __init__(self, message: str, expression: str | None = None,
                 position: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.expression = expression
        self.position = position


class FhirPathRecursionError(FhirPathError, RecursionError):
    """The data or expression nests too deeply to evaluate; also a RecursionError, so callers that report
    "too costly" separately can still tell it apart."""
