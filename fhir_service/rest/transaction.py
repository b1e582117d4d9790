"""Batch and transaction Bundles (FHIR http.html#transaction).

A transaction is ONE database transaction: ids of POSTed entries (and of conditional creates/updates) are
resolved first, every `urn:uuid:`/fullUrl reference in every entry is rewritten to them (so entry order
does not matter), and entries run in the order the specification prescribes (DELETE, POST, PUT, GET). Any
failure raises out of the unit of work, which rolls everything back: nothing is left behind.
A batch runs each entry on its own and reports each entry's outcome.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import replace
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit


from fhir_service.rest.http import FHIR_JSON, FhirError, Request, Response, outcome_of
from fhir_service.store import fhirjson
from fhir_service.store.repository import StoreError
from fhir_service.validation.outcome import Issue, operation_outcome

_RESOURCE_URL = re.compile(r"^(?:https?://.*/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


def process_bundle(rest: Any, request: Request, bundle: dict[str, Any]) -> Response:
    kind = bundle.get("type")
    entries = bundle.get("entry") or []
    if kind not in ("transaction", "batch"):
        raise FhirError(400, f"POST to the base takes a transaction or batch Bundle, not type {kind!r}",
                        "invalid", "Bundle.type")
    if not isinstance(entries, list):
        raise FhirError(400, "Bundle.entry must be an array", "structure", "Bundle.entry")
    parsed = [_parse_entry(i, entry, request.base) for i, entry in enumerate(entries)]
    if kind == "batch":
        return _batch(rest, request, parsed)
    return _transaction(rest, request, parsed)


class _Entry:
    def __init__(self, index: int, method: str, url: str, resource: dict[str, Any] | None, full_url: str | None,
                 request: dict[str, Any]) -> None:
        self.index = index
        self.method = method
        self.url = url
        self.resource = resource
        self.full_url = full_url
        self.request = request
        split = urlsplit(url)
        self.path = "/" + split.path.strip("/")
        self.query = split.query
        self.type = split.path.strip("/").split("/")[0]


def _parse_entry(index: int, entry: Any, base: str) -> _Entry | FhirError:
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict):
        return FhirError(400, f"{where} is not an object", "structure", where)
    req = entry.get("request")
    if not isinstance(req, dict) or not req.get("method") or not req.get("url"):
        return FhirError(400, f"{where}.request with method and url is required", "required", f"{where}.request")
    method = str(req["method"]).upper()
    if method not in ORDER:
        return FhirError(400, f"{where}.request.method {method} is not supported", "not-supported",
                         f"{where}.request.method")
    resource = entry.get("resource")
    if method in ("POST", "PUT") and not isinstance(resource, dict):
        return FhirError(400, f"{where}: {method} needs a resource", "required", f"{where}.resource")
    url = str(req["url"])
    if url.startswith(base + "/"):  # an absolute URL on this server is the relative one
        url = url[len(base) + 1:]
    return _Entry(index, method, url, resource, entry.get("fullUrl"), req)


def _sub_request(outer: Request, entry: _Entry, resource: dict[str, Any] | None) -> Request:
    headers = {"content-type": FHIR_JSON}
    for key, header in (("ifNoneExist", "if-none-exist"), ("ifMatch", "if-match"),
                        ("ifNoneMatch", "if-none-match"), ("ifModifiedSince", "if-modified-since")):
        if entry.request.get(key):
            headers[header] = str(entry.request[key])
    if outer.header("prefer"):
        headers["prefer"] = outer.header("prefer") or ""
    body = fhirjson.dumps(resource) if resource is not None else b""
    return Request(entry.method, entry.path, parse_qsl(entry.query, keep_blank_values=True), headers, body,
                   outer.base)


def _response_entry(response: Response) -> dict[str, Any]:
    status = f"{response.status} {HTTPStatus(response.status).phrase}"
    result: dict[str, Any] = {"status": status}
    if "Location" in response.headers:
        result["location"] = response.headers["Location"]
    if "ETag" in response.headers:
        result["etag"] = response.headers["ETag"]
    body = response.body
    if body is not None and isinstance(body.get("meta"), dict) and body["meta"].get("lastUpdated"):
        result["lastModified"] = body["meta"]["lastUpdated"]
    entry: dict[str, Any] = {"response": result}
    if body is not None:
        if response.status >= 400:
            result["outcome"] = body
        else:
            entry["resource"] = body
    return entry


def _batch(rest: Any, request: Request, entries: list[_Entry | FhirError]) -> Response:
    out = []
    for entry in entries:
        if isinstance(entry, FhirError):
            out.append(_response_entry(Response(entry.status, {}, entry.outcome())))
            continue
        try:
            if entry.path in ("/", "") and entry.method == "POST":
                raise FhirError(400, "a batch entry cannot itself be a batch or transaction", "not-supported")
            response = rest.dispatch(_sub_request(request, entry, entry.resource), rest.repo)
        except FhirError as error:
            response = Response(error.status, {}, error.outcome())
        except StoreError as error:
            response = Response(error.status, {}, outcome_of("error", error.code, str(error), error.expression))
        out.append(_response_entry(response))
    return Response(200, {}, {"resourceType": "Bundle", "type": "batch-response", "entry": out})


def _transaction(rest: Any, request: Request, entries: list[_Entry | FhirError]) -> Response:
    for entry in entries:
        if isinstance(entry, FhirError):
            raise entry
    work_items: list[_Entry] = entries  # type: ignore[assignment]
    full_urls = [e.full_url for e in work_items if e.full_url]
    if len(full_urls) != len(set(full_urls)):
        raise FhirError(400, "fullUrl values must be unique within a transaction", "invalid", "Bundle.entry.fullUrl")

    def work(tx: Any) -> list[dict[str, Any]]:
        ids: dict[str, str] = {}  # fullUrl -> Type/id
        existing: set[int] = set()  # POST entries whose If-None-Exist matched
        for entry in sorted(work_items, key=lambda e: ORDER[e.method]):
            _resolve_identity(tx, entry, ids, existing)
        _reject_duplicates(work_items)
        prefetch = getattr(tx, "prefetch", None)  # the current rows of all PUT/DELETE targets in one query
        if prefetch is not None:
            prefetch([tuple(e.path.strip("/").split("/")) for e in work_items
                      if e.method in ("PUT", "DELETE") and not e.query and e.path.count("/") == 2])
        responses: dict[int, dict[str, Any]] = {}
        for entry in sorted(work_items, key=lambda e: ORDER[e.method]):
            try:
                responses[entry.index] = _run(rest, tx, request, entry, ids, entry.index in existing)
            except (FhirError, StoreError) as error:
                status = getattr(error, "status", 400)
                message = getattr(error, "diagnostics", str(error))
                raise _EntryFailed(status, f"transaction failed at Bundle.entry[{entry.index}] "
                                           f"({entry.method} {entry.url}): {message}",
                                   getattr(error, "code", "processing"), entry.index,
                                   getattr(error, "issues", None) or []) from None
        return [responses[i] for i in range(len(work_items))]

    out = rest.repo.atomic(work)
    return Response(200, {}, {"resourceType": "Bundle", "type": "transaction-response", "entry": out})


def _resolve_identity(tx: Any, entry: _Entry, ids: dict[str, str], existing: set[int]) -> None:
    """Decide the Type/id each creating entry ends up at, before anything is written."""
    target = None
    if entry.method == "POST":
        if_none_exist = entry.request.get("ifNoneExist")
        if if_none_exist:
            tx.lock_condition(entry.type, if_none_exist)
            matches = tx.find(entry.type, if_none_exist)
            if len(matches) > 1:
                raise FhirError(412, f"Bundle.entry[{entry.index}]: ifNoneExist matched {len(matches)} resources",
                                "multiple-matches")
            if matches:
                existing.add(entry.index)
                target = f"{entry.type}/{matches[0].id}"
        if target is None:
            target = f"{entry.type}/{uuid.uuid4()}"
        entry.request = {**entry.request, "_assigned": target.split("/", 1)[1]}
    elif entry.method == "PUT" and entry.query:
        tx.lock_condition(entry.type, entry.query)
        matches = tx.find(entry.type, entry.query)
        if len(matches) > 1:
            raise FhirError(412, f"Bundle.entry[{entry.index}]: conditional update matched {len(matches)} resources",
                            "multiple-matches")
        new_id = matches[0].id if matches else (entry.resource or {}).get("id") or str(uuid.uuid4())
        target = f"{entry.type}/{new_id}"
        entry.path, entry.query = f"/{target}", ""
        if entry.resource is not None:
            entry.resource = {**entry.resource, "id": new_id}
    elif entry.method == "PUT":
        target = entry.path.strip("/")
    if target and entry.full_url:
        ids[entry.full_url] = target
        tail = _RESOURCE_URL.search(entry.full_url)
        if tail and entry.method == "POST":  # `Patient/old` in another entry means this entry (same base)
            ids.setdefault(f"{tail.group(1)}/{tail.group(2)}", target)


def _reject_duplicates(entries: list[_Entry]) -> None:
    """Two entries that write the same resource make the outcome depend on order: the spec says fail."""
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.method == "POST":
            target = f"{entry.type}/{entry.request['_assigned']}"
            if entry.request.get("ifNoneExist"):
                continue  # a matched conditional create writes nothing
        elif entry.method in ("PUT", "DELETE") and not entry.query:
            target = entry.path.strip("/")
        else:
            continue
        if target in seen:
            raise FhirError(400, f"Bundle.entry[{seen[target]}] and Bundle.entry[{entry.index}] both write {target}",
                            "invalid", f"Bundle.entry[{entry.index}]")
        seen[target] = entry.index


def _rewrite(value: Any, ids: dict[str, str], tx: Any) -> Any:
    """Replace references to entries' fullUrls (urn:uuid or absolute) and resolve conditional references."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                out[key] = _resolve_reference(item, ids, tx)
            else:
                out[key] = _rewrite(item, ids, tx)
        return out
    if isinstance(value, list):
        return [_rewrite(item, ids, tx) for item in value]
    return value


def _resolve_reference(reference: str, ids: dict[str, str], tx: Any) -> str:
    if reference in ids:
        return ids[reference]
    if "?" in reference and "://" not in reference and not reference.startswith("urn:"):
        resource_type, _, criteria = reference.partition("?")
        matches = tx.find(resource_type, criteria)
        if len(matches) != 1:
            raise FhirError(412, f"conditional reference {reference!r} matched {len(matches)} resources "
                                 "(exactly one is needed)", "multiple-matches" if matches else "not-found")
        return f"{resource_type}/{matches[0].id}"
    if reference.startswith("urn:uuid:") or reference.startswith("urn:oid:"):
        raise FhirError(400, f"reference {reference!r} does not resolve to any entry of the transaction",
                        "invalid")
    return reference


def _run(rest: Any, tx: Any, request: Request, entry: _Entry, ids: dict[str, str], matched: bool) -> dict[str, Any]:
    resource = _rewrite(entry.resource, ids, tx) if entry.resource is not None else None
    if entry.method == "POST":
        assigned = entry.request["_assigned"]
        if matched:
            stored = tx.read(entry.type, assigned)
            response = rest._written(request, stored, 200)
        else:
            if resource.get("resourceType") != entry.type:  # type: ignore[union-attr]
                raise FhirError(400, f"resourceType {resource.get('resourceType')} does not match the "  # type: ignore[union-attr]
                                     f"request url {entry.url}", "invalid")
            resource = {k: v for k, v in resource.items() if k != "id"}  # type: ignore[union-attr]
            issues = rest._validate_on_write(resource)
            stored, _ = tx.create(resource, id=assigned)
            response = rest._written(request, stored, 201, issues)
        return _response_entry(response)
    if entry.path in ("/", ""):
        raise FhirError(400, "a transaction entry cannot itself be a batch or transaction", "not-supported")
    return _response_entry(rest.dispatch(_sub_request(request, entry, resource), tx))


class _EntryFailed(FhirError):
    """A transaction entry failed: the summary issue, then the entry's own issues (the validator's, for a 400 or
    422 of validate-on-write) with their expressions placed inside the Bundle."""

    def __init__(self, status: int, diagnostics: str, code: str, index: int, issues: list[Any]) -> None:
        super().__init__(status, diagnostics, code, f"Bundle.entry[{index}]")
        self.index = index
        self.issues = issues

    def outcome(self) -> dict[str, Any]:
        summary = Issue(severity="error", code=self.code, diagnostics=self.diagnostics, expression=self.expression)
        placed = []
        for issue in self.issues:
            expression = issue.expression
            if expression:
                rest_of_path = expression.split(".", 1)[1] if "." in expression else ""
                prefix = f"Bundle.entry[{self.index}].resource"
                expression = f"{prefix}.{rest_of_path}" if rest_of_path else prefix
            placed.append(replace(issue, expression=expression, line=None, col=None))
        return operation_outcome([summary, *placed])
