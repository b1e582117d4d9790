"""A TestScript `operation` becomes one HTTP request; its response becomes an Exchange (body in JSON form)."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

import requests

from fhir_service.formats.xml import parse_xml
from fhir_service.rest.xml_writer import to_xml
from tests.conformance.testscripts.context import RunContext, location_target
from tests.conformance.testscripts.model import Exchange, ScriptError

MIME = {"json": "application/fhir+json", "xml": "application/fhir+xml", "ttl": "text/turtle"}
METHODS = {"read": "GET", "vread": "GET", "search": "GET", "history": "GET", "capabilities": "GET",
           "create": "POST", "transaction": "POST", "batch": "POST", "update": "PUT", "updateCreate": "PUT",
           "delete": "DELETE", "deleteCondMultiple": "DELETE", "patch": "PATCH", "searchSystem": "GET",
           "historyInstance": "GET", "historyType": "GET", "historySystem": "GET"}


def mime(value: str | None) -> str | None:
    """`json`/`xml`/`ttl` shorthands (TestScript's R4 format codes) or a full media type; `none` = no header."""
    if not value or value == "none":
        return None
    return MIME.get(value, value)


def encode_params(params: str) -> str:
    """encodeRequestUrl: percent-encode each query value (names and the path part stay as written)."""
    path, sep, query = params.partition("?")
    if not sep:
        return params
    parts = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        parts.append(f"{name}{eq}{quote(unquote(value), safe='')}" if eq else part)
    return f"{path}?{'&'.join(parts)}"


def request_url(operation: dict[str, Any], code: str, ctx: RunContext) -> str:
    """The URL an operation targets: `url`, else `[resource]` + `params`, else built from targetId/sourceId."""
    if operation.get("url"):
        url = ctx.substitute(operation["url"])
        return url if url.startswith(("http://", "https://")) else f"{ctx.base_url}/{url.lstrip('/')}"
    resource_type = operation.get("resource")
    if operation.get("params") is not None:
        params = ctx.substitute(operation["params"])
        if operation.get("encodeRequestUrl", True):
            params = encode_params(params)
        if not resource_type and operation.get("targetId"):
            resource_type = ctx.target_of(operation["targetId"])[0]
        prefix = f"{ctx.base_url}/{resource_type}" if resource_type else ctx.base_url
        return prefix + (params if params.startswith(("/", "?")) else "/" + params)
    if operation.get("targetId"):
        target_type, target_id = ctx.target_of(operation["targetId"])
        suffix = {"history": "/_history", "historyInstance": "/_history"}.get(code, "")
        if code == "vread":
            version = _target_version(operation["targetId"], ctx)
            suffix = f"/_history/{version}"
        if code in ("search", "create"):
            return f"{ctx.base_url}/{resource_type or target_type}"
        return f"{ctx.base_url}/{resource_type or target_type}/{target_id}{suffix}"
    if code in ("transaction", "batch", "searchSystem", "historySystem"):
        return ctx.base_url + ("/_history" if code == "historySystem" else "")
    if code == "capabilities":
        return f"{ctx.base_url}/metadata"
    source = ctx.body_of(operation["sourceId"]) if operation.get("sourceId") else None
    if not resource_type and isinstance(source, dict):
        resource_type = source.get("resourceType")
    if not resource_type:
        raise ScriptError(f"operation {code} names no resource type, url, params or target")
    if code in ("update", "updateCreate"):
        if not isinstance(source, dict) or not source.get("id"):
            raise ScriptError("update without params or targetId needs a sourceId fixture with an id")
        return f"{ctx.base_url}/{resource_type}/{source['id']}"
    return f"{ctx.base_url}/{resource_type}" + ("/_history" if code in ("history", "historyType") else "")


def _target_version(target_id: str, ctx: RunContext) -> str:
    exchange = ctx.responses.get(target_id) or ctx.last
    body = exchange.body if exchange and isinstance(exchange.body, dict) else {}
    version = (body.get("meta") or {}).get("versionId")
    if not version:
        raise ScriptError(f"vread: no meta.versionId known for {target_id!r}")
    return str(version)


def perform(operation: dict[str, Any], ctx: RunContext, session: requests.Session, definitions: Any) -> Exchange:
    """Send the operation and keep its Exchange (as the last one, and under responseId)."""
    code = ((operation.get("type") or {}).get("code")) or ""
    method = (operation.get("method") or METHODS.get(code, "")).upper()
    if not method:
        raise ScriptError(f"operation type {code!r} is not known to the runner")
    url = request_url(operation, code, ctx)
    headers = {} if operation.get("accept") == "none" else {"Accept": mime(operation.get("accept")) or MIME["json"]}
    body: Any = None
    data: bytes | None = None
    if operation.get("sourceId") and method in ("POST", "PUT", "PATCH"):
        body = ctx.body_of(operation["sourceId"])
        content_type = MIME["json"] if operation.get("contentType") in (None, "", "none") else \
            mime(operation["contentType"]) or MIME["json"]
        headers["Content-Type"] = content_type
        if "xml" in content_type:
            data = to_xml(body, definitions).encode("utf-8")
        else:
            data = json.dumps(body).encode("utf-8")
    for header in operation.get("requestHeader", []):
        headers[header["field"]] = ctx.substitute(header.get("value", ""))
    response = session.request(method, url, headers=headers, data=data, allow_redirects=False, timeout=30)
    parsed, format_issues = parse_body(response.content, response.headers.get("Content-Type", ""), definitions)
    exchange = Exchange(method, response.request.url or url, headers, body, response.status_code,
                        {name.lower(): value for name, value in response.headers.items()}, parsed,
                        response.content, format_issues)
    ctx.last = exchange
    if operation.get("responseId"):
        ctx.responses[operation["responseId"]] = exchange
    if operation.get("sourceId") and code in ("create", "update", "updateCreate") and response.status_code < 300:
        _remember_server_id(operation["sourceId"], exchange, ctx)
    return exchange


def parse_body(content: bytes, content_type: str, definitions: Any) -> tuple[Any, list[Any]]:
    """The response resource in JSON form (XML is read with the project's FHIR XML reader, whose findings -
    element order, stray attributes - are kept for validateProfileId); None if empty or not FHIR."""
    if not content.strip():
        return None, []
    try:
        if "xml" in content_type:
            result = parse_xml(content, definitions)
            return result.resource, list(result.issues)
        return json.loads(content), []
    except Exception:  # noqa: BLE001 - a body that is not FHIR is reported by the asserts that need it
        return None, []


def _remember_server_id(source_id: str, exchange: Exchange, ctx: RunContext) -> None:
    found = location_target(exchange.header("Location") or exchange.header("Content-Location") or "")
    body = exchange.body if isinstance(exchange.body, dict) else {}
    if found is None and body.get("resourceType") and body.get("id"):
        found = (body["resourceType"], body["id"])
    if found is not None:
        ctx.server_ids[source_id] = found

