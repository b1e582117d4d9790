"""Request/Response values of the REST core and the small HTTP helpers every interaction shares."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from fhir_service.validation.outcome import Issue, operation_outcome

FHIR_JSON = "application/fhir+json"
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
FORM = "application/x-www-form-urlencoded"
_ETAG_RE = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


class FhirError(Exception):
    """An HTTP error with the OperationOutcome issue that explains it."""

    def __init__(self, status: int, diagnostics: str, code: str = "invalid", expression: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
        self.headers = dict(headers or {})

    def outcome(self) -> dict[str, Any]:
        return outcome_of("error", self.code, self.diagnostics, self.expression)


def outcome_of(severity: str, code: str, diagnostics: str, expression: str | None = None) -> dict[str, Any]:
    return operation_outcome([Issue(severity=severity, code=code, diagnostics=diagnostics, expression=expression)])


@dataclass
class Request:
    method: str
    path: str  # relative to the FHIR base, e.g. "/Patient/1"
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    base: str = "http://localhost/fhir"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def prefer(self, key: str) -> str | None:
        """A token of the Prefer header: `return`, `handling`, `respond-async`."""
        for part in (self.header("prefer") or "").split(";"):
            for item in part.split(","):
                name, _, value = item.strip().partition("=")
                if name.strip().lower() == key:
                    return value.strip().strip('"') or name.strip()
        return None


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    media_type: str = FHIR_JSON  # the negotiated format (see rest.negotiation.render)
    # a body that is not a resource (CSV, NDJSON rows), written as it is produced; Content-Type in headers
    stream: Iterator[bytes] | None = None


def error_response(error: FhirError) -> Response:
    return Response(error.status, dict(error.headers), error.outcome())


def etag(version: int | str) -> str:
    return f'W/"{version}"'


def parse_etag(value: str | None, header: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    match = _ETAG_RE.match(value)
    if not match:
        raise FhirError(400, f'{header}: {value!r} is not a version ETag like W/"3"', "invalid")
    return int(match.group(1))


def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()
