"""Content negotiation (FHIR http.html#mime-type): which format a response is written in, which request
bodies are understood, and turning a Response into bytes.

`_format` wins over Accept. Accept is read with its q-values; `*/*`, `application/*`, and HTML (a browser)
get JSON. JSON is `application/fhir+json` unless the client asked for plain `application/json`. XML is
written with `rest.xml_writer` and read with `formats.xml.parse_xml`.
"""
from __future__ import annotations

from typing import Any

from fhir_service.rest.http import FHIR_JSON, FhirError, Request, Response, media_type
from fhir_service.store import fhirjson

FHIR_XML = "application/fhir+xml"
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
XML_TYPES = ("application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir")
FORMAT_ALIASES = {"json": "application/fhir+json", "xml": FHIR_XML, "html": "text/html"}


def _accept_items(accept: str) -> list[tuple[float, int, str]]:
    items = []
    for position, part in enumerate(accept.split(",")):
        kind = media_type(part)
        quality = 1.0
        for parameter in part.split(";")[1:]:
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if kind and quality > 0:
            items.append((-quality, position, kind))
    return sorted(items)


def response_type(request: Request) -> str:
    """The media type of the response; FhirError 406 when nothing the client accepts can be produced."""
    fmt = next((v for k, v in request.query if k == "_format"), None)
    if fmt is not None:
        kind = FORMAT_ALIASES.get(fmt.strip().lower(), media_type(fmt))
        if kind in JSON_TYPES or kind == "text/html":
            return "application/json" if kind == "application/json" else FHIR_JSON
        if kind in XML_TYPES:
            return FHIR_XML
        raise FhirError(406, f"_format={fmt} is not supported: use json or xml", "not-supported")
    accept = request.header("accept")
    if not accept:
        return FHIR_JSON
    for _, _, kind in _accept_items(accept):
        if kind == "application/json":
            return "application/json"
        if kind in JSON_TYPES or kind.endswith("+json") or kind in ("*/*", "application/*", "text/html"):
            return FHIR_JSON
        if kind in XML_TYPES or kind.endswith("+xml"):
            return FHIR_XML
    raise FhirError(406, f"cannot produce {accept}: this server speaks application/fhir+json and "
                         f"application/fhir+xml", "not-supported")


def is_resource_type(kind: str) -> bool:
    """A request body media type that holds a FHIR resource."""
    return kind in JSON_TYPES or kind in XML_TYPES


def parse_resource(request: Request, definitions: Any, findings: list[Any] | None = None) -> Any:
    """The request body as FHIR JSON (a dict, or whatever JSON it holds); FhirError 400 when unreadable.

    XML is refused (400) only when it cannot be read as FHIR: not well-formed, a DTD, a root outside the FHIR
    namespace (the reader raises for those), or no resource at all. What the XML reader reports besides
    (elements out of definition order, undefined attributes such as `xsi:schemaLocation`, stray text) are
    validation findings, as the HL7 validator treats them: the resource is read all the same, and the findings
    are appended to `findings` for `$validate` and validate-on-write to report."""
    kind = media_type(request.header("content-type"))
    if kind in XML_TYPES:
        from fhir_service.formats.xml import XmlFormatError, parse_xml

        try:
            result = parse_xml(request.body, definitions)
        except XmlFormatError as exc:
            where = f" (line {exc.line}, column {exc.col})" if exc.line else ""
            raise FhirError(400, f"the body is not FHIR XML: {exc}{where}", "structure") from None
        except ValueError as exc:
            raise FhirError(400, f"the body is not FHIR XML: {exc}", "structure") from None
        fatal = [issue for issue in result.issues if issue.severity == "fatal"]
        if fatal or result.resource is None:
            message = fatal[0].diagnostics if fatal else "no resource found"
            raise FhirError(400, f"the body is not FHIR XML: {message}", "structure")
        try:
            fhirjson.check_depth(result.resource)
        except ValueError as exc:
            raise FhirError(400, f"the body is not usable FHIR XML: {exc}", "structure") from None
        if findings is not None:
            findings.extend(result.issues)
        return result.resource
    try:
        return fhirjson.loads(request.body)
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, NaN
        raise FhirError(400, f"the body is not valid JSON: {exc}", "structure") from None


def render(response: Response, definitions: Any, pretty: bool = False) -> tuple[bytes, str | None]:
    """(bytes, Content-Type) of a Response in the format negotiated for it."""
    if response.stream is not None:  # raw output (e.g. $run rows): its own Content-Type, bytes as produced
        return response.stream, None  # type: ignore[return-value]
    if response.body is None:
        return b"", None
    if response.media_type == FHIR_XML:
        from fhir_service.rest.xml_writer import to_xml

        return to_xml(response.body, definitions).encode("utf-8"), f"{FHIR_XML}; charset=utf-8"
    return fhirjson.dumps(response.body, pretty), f"{response.media_type}; charset=utf-8"
