"""Bundles the server returns: searchset, history, and the links between their pages."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fhir_service.rest.http import etag
from fhir_service.store.dates import http_date
from fhir_service.store.repository import StoredResource

# Characters left as they are in self/next links, so that the links read like the query that was sent.
LINK_SAFE = "|:,$/[]*@!'()~-._"


def query_string(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe=LINK_SAFE)}={quote(v, safe=LINK_SAFE)}" for k, v in params)


def link(base: str, path: str, params: list[tuple[str, str]]) -> str:
    query = query_string(params)
    return f"{base}{path}" + (f"?{query}" if query else "")


def full_url(base: str, stored: StoredResource) -> str:
    return f"{base}/{stored.resource_type}/{stored.id}"


def searchset(base: str, entries: list[dict[str, Any]], total: int | None,
              links: list[tuple[str, str]]) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = [{"relation": rel, "url": url} for rel, url in links]
    bundle["entry"] = entries
    if not entries:
        del bundle["entry"]
    return bundle


def history_entry(base: str, stored: StoredResource) -> dict[str, Any]:
    entry: dict[str, Any] = {"fullUrl": full_url(base, stored)}
    if stored.resource is not None:
        entry["resource"] = stored.resource
    url = stored.resource_type if stored.method == "POST" else f"{stored.resource_type}/{stored.id}"
    status = {"POST": "201 Created", "DELETE": "204 No Content"}.get(stored.method, "200 OK")
    if stored.method == "PUT" and stored.version_id == 1:
        status = "201 Created"
    entry["request"] = {"method": stored.method, "url": url}
    entry["response"] = {"status": status, "etag": etag(stored.version_id), "lastModified": stored.last_updated}
    return entry


def resource_headers(base: str, stored: StoredResource) -> dict[str, str]:
    return {"ETag": etag(stored.version_id), "Last-Modified": http_date(stored.updated_us)}


def version_location(base: str, stored: StoredResource) -> str:
    return f"{base}/{stored.resource_type}/{stored.id}/_history/{stored.version_id}"
