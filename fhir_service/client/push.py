"""Pushing a Bundle to a FHIR server and reporting what happened to each of its entries.

A case Bundle is a `collection`; a server loads a `transaction` (all or nothing) or a `batch` (entry by entry).
The transforms' `to transaction` function does that conversion with conditional creates on identifiers and
PUTs on ids, so pushing the same Bundle twice creates nothing the second time. The report maps each entry of
the server's response back to the entry of the INPUT Bundle (its index, type, id and fullUrl), so a user reads
"entry[12] Observation/ferritin-d21: 201 Created at Observation/9f../_history/1", not an index into a Bundle
they never saw. A rejected transaction is reported on every entry (nothing was written) and, when the server's
OperationOutcome names the entry that failed (`Bundle.entry[n]`), on that entry with the server's words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fhir_service.client.client import FhirClient
from fhir_service.client.errors import FhirClientError, issues_of
from fhir_service.transform.inputs import bundle_problems
from fhir_service.transform.params import TransactionParams
from fhir_service.transform.transaction import transform
from fhir_service.validation.outcome import Issue, has_errors, issue_to_fhir

ENTRY_RE = re.compile(r"Bundle\.entry\[(\d+)\]")
STATUS_RE = re.compile(r"^\s*(\d{3})")
MINIMAL = "return=minimal"


@dataclass
class EntryOutcome:
    """One input entry and what the server did with it. `status` is None when it was not processed."""

    index: int
    resource_type: str | None
    id: str | None
    full_url: str | None
    request: str = ""
    status: int | None = None
    status_text: str = ""
    location: str | None = None
    outcome: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def created(self) -> bool:
        return self.status == 201

    @property
    def label(self) -> str:
        name = f"{self.resource_type}/{self.id}" if self.resource_type and self.id else \
            self.resource_type or self.full_url or "?"
        return f"entry[{self.index}] {name}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "resourceType": self.resource_type, "id": self.id,
                               "fullUrl": self.full_url, "request": self.request, "status": self.status,
                               "statusText": self.status_text, "location": self.location}
        if self.outcome is not None:
            out["outcome"] = self.outcome
        if self.error:
            out["error"] = self.error
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class PushReport:
    """The result of pushing one Bundle. `error` is the failure of the whole request (None if the server
    answered with a response Bundle); `issues` are the transform's findings about the input."""

    source: str
    bundle_id: str | None
    sent_as: str | None
    entries: list[EntryOutcome] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    error: FhirClientError | None = None

    @property
    def created(self) -> int:
        return sum(1 for e in self.entries if e.created)

    @property
    def unchanged_or_updated(self) -> int:
        return sum(1 for e in self.entries if e.ok and not e.created)

    @property
    def failed(self) -> int:
        return sum(1 for e in self.entries if not e.ok)

    @property
    def ok(self) -> bool:
        return self.error is None and not has_errors(self.issues) and self.sent_as is not None and \
            all(e.ok for e in self.entries)

    def summary(self) -> str:
        what = self.sent_as or "not sent"
        text = (f"{self.source}: {what}, {len(self.entries)} entries: {self.created} created, "
                f"{self.unchanged_or_updated} existing/updated, {self.failed} failed")
        if self.error is not None:
            text += f"; {self.error}"
        return text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "bundleId": self.bundle_id, "sentAs": self.sent_as,
                               "ok": self.ok, "created": self.created, "existingOrUpdated": self.unchanged_or_updated,
                               "failed": self.failed}
        if self.error is not None:
            out["error"] = {"message": str(self.error), "status": self.error.status,
                            "outcome": self.error.outcome}
        if self.issues:
            out["issues"] = [issue_to_fhir(i) for i in self.issues]
        out["entries"] = [e.to_json() for e in self.entries]
        return out


def push_bundle(client: FhirClient, bundle: Any, *, as_transaction: bool = True, source: str = "") -> PushReport:
    """Push `bundle` and report each entry's outcome. A collection (or any non-transaction Bundle) becomes a
    transaction (`as_transaction`) or a batch through the transforms' function; a transaction or batch is
    sent as it is. Never raises for a server or transport failure: the report carries it."""
    problems = bundle_problems(bundle)
    bundle_id = bundle.get("id") if isinstance(bundle, dict) and isinstance(bundle.get("id"), str) else None
    if problems:
        return PushReport(source, bundle_id, None, issues=problems)
    inputs = bundle.get("entry") or []
    if bundle.get("type") in ("transaction", "batch"):
        to_send, kind, issues = bundle, bundle["type"], []
        sent_from = list(range(len(inputs)))
    else:
        result = transform(bundle, TransactionParams(batch=not as_transaction))
        issues = result.issues
        if result.bundle is None or has_errors(issues):
            return PushReport(source, bundle_id, None, _pending(inputs, range(len(inputs))), issues)
        to_send, kind = result.bundle, result.bundle["type"]
        sent_from = [i for i, e in enumerate(inputs) if isinstance(e, dict) and "resource" in e]
        if len(sent_from) != len(to_send.get("entry") or []):
            raise RuntimeError("the transaction transform changed the number of entries unexpectedly: "
                               f"{len(sent_from)} input entries with a resource, {len(to_send.get('entry') or [])} out")
    entries = _pending(inputs, sent_from)
    for outcome, sent in zip(entries, to_send.get("entry") or []):
        request = sent.get("request") or {}
        outcome.request = f"{request.get('method', '?')} {request.get('url', '?')}" + \
            (f" (if none exist: {request['ifNoneExist']})" if request.get("ifNoneExist") else "")
    report = PushReport(source, bundle_id, kind, entries, list(issues))
    try:
        send = client.transaction if kind == "transaction" else client.batch
        response = send(to_send, prefer=MINIMAL)  # the report needs statuses and locations, not the resources
    except FhirClientError as error:
        report.error = error
        _mark_refused(entries, error, kind)
        return report
    _apply_response(entries, response)
    return report


def _pending(inputs: list[Any], indexes: Any) -> list[EntryOutcome]:
    out = []
    for index in indexes:
        entry = inputs[index] if isinstance(inputs[index], dict) else {}
        resource = entry["resource"] if isinstance(entry.get("resource"), dict) else {}
        id = resource.get("id")
        out.append(EntryOutcome(index, resource.get("resourceType"), id if isinstance(id, str) else None,
                                entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None,
                                error="not processed"))
    return out


def _mark_refused(entries: list[EntryOutcome], error: FhirClientError, kind: str) -> None:
    culprit = None
    for issue in error.issues:
        match = ENTRY_RE.search(issue.expression or "") or ENTRY_RE.search(issue.diagnostics)
        if match:
            culprit = int(match.group(1))
            break
    for position, entry in enumerate(entries):
        if position == culprit:
            entry.status, entry.outcome = error.status, error.outcome
            entry.error = "; ".join(i.diagnostics for i in error.issues if i.diagnostics) or str(error)
        elif error.is_transport:
            entry.error = f"not processed: {error.reason}"
        else:
            entry.error = (f"not processed: the server refused the {kind} as a whole (HTTP {error.status})"
                           + ("; nothing was written" if kind == "transaction" else ""))


def _apply_response(entries: list[EntryOutcome], response: dict[str, Any]) -> None:
    answered = response.get("entry") or []
    for position, entry in enumerate(entries):
        if position >= len(answered) or not isinstance(answered[position], dict):
            entry.error = "the server's response has no entry for it"
            continue
        result = answered[position].get("response") or {}
        status_text = str(result.get("status") or "")
        match = STATUS_RE.match(status_text)
        entry.status = int(match.group(1)) if match else None
        entry.status_text = status_text.strip()
        entry.location = result.get("location")
        outcome = result.get("outcome")
        entry.outcome = outcome if isinstance(outcome, dict) else None
        if entry.ok:
            entry.error = None
        else:
            details = "; ".join(i.diagnostics for i in issues_of(entry.outcome) if i.diagnostics)
            entry.error = details or f"status {status_text or 'missing'}"
