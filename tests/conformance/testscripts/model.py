"""What a TestScript run produces: the HTTP exchanges and one Outcome per assert."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS, FAIL, WARNING, NOT_RUN = "pass", "fail", "warning", "not-run"


class Unsupported(Exception):
    """A feature this runner cannot provide offline (XPath beyond the mappable subset, a value the tester must
    type in, a fixture the script does not define): the assert or operation is counted as not run."""


class ScriptError(Exception):
    """The TestScript itself is malformed (unknown operation code, missing resource type): reported as a failure
    of the assert that depends on it, with this message."""


@dataclass
class Exchange:
    """One HTTP request and its response, as the asserts see them."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: Any  # the resource sent (JSON form), or None
    status: int
    headers: dict[str, str]  # response headers, names lower-cased
    body: Any  # the response resource in JSON form (parsed from JSON or XML), or None
    raw: bytes = b""
    format_issues: list[Any] = field(default_factory=list)  # what the FHIR XML reader found in an XML body


    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Outcome:
    """The result of one assert: status is pass, fail, warning (a warningOnly assert that failed) or not-run."""

    script: str
    section: str  # setup, test name, teardown
    label: str
    status: str
    message: str = ""

    def describe(self) -> str:
        detail = f" - {self.message}" if self.message else ""
        return f"{self.script} / {self.section} / {self.label}: {self.status}{detail}"


@dataclass
class ScriptResult:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # operations that could not be sent or failed outside asserts

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def passed(self) -> int:
        return self.count(PASS)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def ok(self) -> bool:
        """A script passes when no assert failed (warnings and not-run asserts do not fail it)."""
        return self.count(FAIL) == 0
