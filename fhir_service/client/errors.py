"""What can go wrong talking to a FHIR server, as one exception type the CLI and callers can report.

A `FhirClientError` always says which request failed (method and URL, never the token) and why: the HTTP
status with the server's OperationOutcome, parsed into `Issue`s (the same dataclass the validator emits), or a
transport problem (refused connection, timeout) with `status` None. Callers branch on `status`, people read
`str(error)`.
"""
from __future__ import annotations

from typing import Any

from fhir_service.validation.outcome import Issue

# Words for the statuses a FHIR client meets most, when the server sends no OperationOutcome to explain itself.
STATUS_HINTS = {
    400: "bad request",
    401: "unauthorised: the server refused the credentials (check the bearer token)",
    403: "forbidden: the token is not allowed to do this",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    410: "gone (deleted)",
    412: "precondition failed (the version given in If-Match is not the current one, or a conditional "
         "request matched more than one resource)",
    415: "unsupported media type",
    422: "unprocessable entity (the resource breaks a rule of the server)",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def issues_of(outcome: dict[str, Any] | None) -> list[Issue]:
    """The issues of an OperationOutcome as `Issue`s; tolerant of servers that send odd shapes."""
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return []
    found = []
    for raw in outcome.get("issue") or []:
        if not isinstance(raw, dict):
            continue
        expressions = raw.get("expression") or raw.get("location") or []
        expression = expressions[0] if isinstance(expressions, list) and expressions and \
            isinstance(expressions[0], str) else None
        details = raw["details"] if isinstance(raw.get("details"), dict) else {}
        text = raw.get("diagnostics") or details.get("text") or ""
        found.append(Issue(str(raw.get("severity") or "error"), str(raw.get("code") or "processing"),
                           str(text), expression))
    return found


class FhirClientError(Exception):
    """A request that did not succeed. `status` is the HTTP status (None for a transport failure),
    `outcome` the server's OperationOutcome (None if it sent none), `issues` that outcome parsed."""

    def __init__(self, message: str, *, method: str, url: str, status: int | None = None,
                 outcome: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.outcome = outcome
        self.issues = issues_of(outcome)
        self.headers = headers or {}
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.method} {self.url}"
        if self.status is None:
            return f"{where}: {self.reason}"
        details = "; ".join(f"{i.severity} {i.code}: {i.diagnostics}" + (f" (at {i.expression})" if i.expression
                                                                          else "")
                            for i in self.issues if i.diagnostics)
        text = f"{where}: HTTP {self.status} {self.reason}"
        return f"{text}: {details}" if details else text

    @property
    def is_transport(self) -> bool:
        """True when no HTTP answer arrived (connection refused, DNS, timeout)."""
        return self.status is None


class FhirTransportError(FhirClientError):
    """No HTTP response: the connection failed or timed out (after any retries that were safe)."""

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message, method=method, url=url)


def status_error(method: str, url: str, status: int, outcome: dict[str, Any] | None,
                 headers: dict[str, str] | None = None, note: str | None = None) -> FhirClientError:
    reason = STATUS_HINTS.get(status, "error")
    if note:
        reason = f"{reason} ({note})"
    return FhirClientError(reason, method=method, url=url, status=status, outcome=outcome, headers=headers)
