"""`POST [base]/ViewDefinition/$run` (SQL-on-FHIR v2 `$run`, draft): the rows of a ViewDefinition over the
current resources in the store, streamed.

Parameters (a Parameters resource; `_format`, `_limit` and `patient` may also be given in the query):
- `viewResource` (resource): the ViewDefinition, or
- `viewReference` (valueReference `ViewDefinition/<name>` / valueCanonical / valueString): one of the
  project's views (fhir_service/transform/views/definitions), by file stem, name or canonical URL;
- `_format` (code): csv (with a header line; `header` false leaves it out) | ndjson | json (one array); without
  it, the Accept header decides (text/csv, application/x-ndjson, application/json), else csv;
- `patient` (valueReference `Patient/<id>`, or valueString): only that Patient's resources (the Patient
  itself, or the members of its compartment);
- `_limit` (integer >= 0): at most this many rows.

Memory stays flat whatever the store holds: resources are read a page at a time with the store's keyset
cursor (one short read transaction per page) and rows are written as they come. The view is compiled and
the first page evaluated before the answer starts, so an invalid view (400) or a resource the view cannot
handle on the first page (422) gets a proper status; a failure further on ends the stream early (logged).
"""
from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from typing import Any

from fhir_service.rest.http import FhirError, Request, Response
from fhir_service.store.repository import SearchQuery

log = logging.getLogger(__name__)
PAGE = 500
FORMATS = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson", "json": "application/json"}
ALIASES = {"text/csv": "csv", "application/x-ndjson": "ndjson", "application/ndjson": "ndjson",
           "application/fhir+ndjson": "ndjson", "application/json": "json"}


class Issues(FhirError):
    """A view that cannot run: the compiler's issues as the OperationOutcome."""

    def __init__(self, status: int, issues: list[Any]) -> None:
        super().__init__(status, "the ViewDefinition cannot be run", "invalid")
        self.issues = issues

    def outcome(self) -> dict[str, Any]:
        from fhir_service.validation.outcome import operation_outcome

        return operation_outcome(self.issues)


def _value(part: dict[str, Any]) -> Any:
    for key, value in part.items():
        if key.startswith("value"):
            return value
    return None


def _arguments(body: dict[str, Any], request: Request) -> dict[str, Any]:
    """Parameter name -> value (resource or value[x]); query parameters fill what the body leaves out."""
    known = {"viewResource", "viewReference", "_format", "patient", "_limit", "header"}
    out: dict[str, Any] = {}
    for index, part in enumerate(body.get("parameter", [])):
        name = part.get("name")
        if name not in known:
            raise FhirError(400, f"$run has no parameter {name!r} (known: {', '.join(sorted(known))})",
                            "invalid", f"Parameters.parameter[{index}]")
        if name in out:
            raise FhirError(400, f"parameter {name!r} is repeated", "invalid", name)
        out[name] = part.get("resource") if name == "viewResource" else _value(part)
    for key, value in request.query:
        if key in ("_format", "_limit", "patient") and key not in out:
            out[key] = value
    return out


def _view(arguments: dict[str, Any]) -> dict[str, Any]:
    view, reference = arguments.get("viewResource"), arguments.get("viewReference")
    if (view is None) == (reference is None):
        raise FhirError(400, "give exactly one of viewResource and viewReference", "required", "viewResource")
    if view is not None:
        if not isinstance(view, dict) or view.get("resourceType") != "ViewDefinition":
            raise FhirError(400, "viewResource must be a ViewDefinition", "invalid", "viewResource")
        return view
    from fhir_service.transform.views.catalog import find_project_view, project_views

    text = reference.get("reference") if isinstance(reference, dict) else reference
    if not isinstance(text, str) or not text:
        raise FhirError(400, "viewReference must name a ViewDefinition", "invalid", "viewReference")
    for candidate in project_views().values():
        if candidate.get("url") == text.split("|")[0]:
            return candidate
    found = find_project_view(text.rsplit("/", 1)[-1])
    if found is None:
        raise FhirError(404, f"viewReference {text!r}: no such ViewDefinition (known: {', '.join(project_views())})",
                        "not-found", "viewReference")
    return found


def _format(arguments: dict[str, Any], accept: str | None = None) -> str:
    """`_format` (parameter or query), else the first Accept type that names a row format, else csv."""
    wanted = arguments.get("_format")
    if wanted is None:
        offered = [part.split(";")[0].strip().lower() for part in (accept or "").split(",")]
        wanted = next((ALIASES[kind] for kind in offered if kind in ALIASES), "csv")
    fmt = str(wanted).lower()
    fmt = ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise FhirError(400, f"_format {fmt!r} is not supported: csv, ndjson or json", "not-supported", "_format")
    return fmt


def _limit(arguments: dict[str, Any]) -> int | None:
    value = arguments.get("_limit")
    if value is None:
        return None
    try:
        limit = int(value)
        if isinstance(value, bool) or limit < 0 or str(limit) != str(value).strip():
            raise ValueError
    except (TypeError, ValueError):
        raise FhirError(400, f"_limit must be a non-negative integer, not {value!r}", "invalid", "_limit") from None
    return limit


def _patient(arguments: dict[str, Any]) -> str | None:
    value = arguments.get("patient")
    if value is None:
        return None
    text = value.get("reference") if isinstance(value, dict) else value
    if not isinstance(text, str) or not text.strip():
        raise FhirError(400, "patient must be a reference to a Patient", "invalid", "patient")
    parts = text.strip().split("/")
    if len(parts) >= 2 and parts[-2] != "Patient":
        raise FhirError(400, f"patient {text!r} is not a Patient reference", "invalid", "patient")
    return parts[-1]


def resources(repo: Any, resource_type: str, patient: str | None) -> Iterator[dict[str, Any]]:
    """The current resources of `resource_type` (optionally of one Patient), a keyset page at a time."""
    params: list[tuple[str, str]] = []
    compartment = None
    if patient is not None:
        if resource_type == "Patient":
            params = [("_id", patient)]
        else:
            compartment = ("Patient", patient)
    cursor = None
    while True:
        page = repo.search(SearchQuery(resource_type, params=list(params), count=PAGE, cursor=cursor,
                                       total="none", compartment=compartment))
        for stored in page.matches:
            if stored.resource is not None:
                yield stored.resource
        cursor = page.next_cursor
        if not cursor:
            return


def run(rest: Any, request: Request) -> Response:
    from fhir_service.rest.operations import parameters_body
    from fhir_service.transform.views import ViewDefinitionError, compile_view
    from fhir_service.transform.views.model import output_columns

    arguments = _arguments(parameters_body(rest, request, "run"), request)
    fmt, limit, patient = _format(arguments, request.header("accept")), _limit(arguments), _patient(arguments)
    try:
        view = compile_view(_view(arguments))
    except ViewDefinitionError as exc:
        raise Issues(400, exc.issues) from None
    if view.resource not in rest.repo.resource_types:
        raise FhirError(400, f"the view's resource {view.resource!r} is not served here", "not-supported",
                        "viewResource")
    header = arguments.get("header", True) is not False
    names = [column.name for column in output_columns(view.root)]
    rows = _rows(rest.repo, view, patient, limit)
    try:
        first = next(rows, None)  # errors of the view on the first resources still get a status
    except ViewDefinitionError as exc:
        raise Issues(422, exc.issues) from None
    return Response(200, {"Content-Type": FORMATS[fmt]}, None, stream=_encode(fmt, names, first, rows, header))


def _rows(repo: Any, view: Any, patient: str | None, limit: int | None) -> Iterator[dict[str, Any]]:
    from fhir_service.transform.views import run_view

    if limit == 0:
        return
    for count, row in enumerate(run_view(view, resources(repo, view.resource, patient)), start=1):
        yield row
        if limit is not None and count >= limit:
            return


def _encode(fmt: str, names: list[str], first: dict[str, Any] | None, rows: Iterator[dict[str, Any]],
            header: bool) -> Iterator[bytes]:
    from fhir_service.transform.views.writers import csv_cell, to_json_bytes

    def all_rows() -> Iterator[dict[str, Any]]:
        if first is not None:
            yield first
        try:
            yield from rows
        except Exception:  # noqa: BLE001 - the status is sent: end the stream, keep the reason in the log
            log.exception("ViewDefinition/$run stopped part way")

    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if header:
            writer.writerow(names)
        for row in all_rows():
            writer.writerow([csv_cell(row.get(name)) for name in names])
            if buffer.tell() > 65536:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")
    elif fmt == "ndjson":
        for row in all_rows():
            yield to_json_bytes(row) + b"\n"
    else:
        yield b"["
        separator = b""
        for row in all_rows():
            yield separator + to_json_bytes(row)
            separator = b","
        yield b"]"
