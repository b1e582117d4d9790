"""Pulling resources from a FHIR server by queries, deduplicated, ready to be written as NDJSON or a Bundle.

A query is what a user types after the base URL: a search (`Patient?_id=x&_revinclude=Observation:subject`),
an operation returning a searchset (`Patient/x/$everything`) or a read (`Patient/x`). Searches follow every
`next` link (through `FhirClient.pages`, with its origin and loop guards). The same resource reached by two
queries (or as a match and an include) is kept once, in the order first seen.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from fhir_service.client.client import FhirClient
from fhir_service.client.errors import FhirClientError

READ_RE = re.compile(r"^/?[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


@dataclass
class PullResult:
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Type/id" -> resource
    full_urls: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[FhirClientError] = field(default_factory=list)

    def add(self, resource: dict[str, Any], full_url: str | None) -> bool:
        """Keep `resource` unless already kept; True when it was new."""
        key = f"{resource.get('resourceType')}/{resource.get('id')}" if resource.get("id") else \
            f"{resource.get('resourceType')}/#{len(self.resources)}"
        if key in self.resources:
            return False
        self.resources[key] = resource
        if full_url:
            self.full_urls[key] = full_url
        return True

    def collection(self) -> dict[str, Any]:
        """A collection Bundle of everything pulled (fullUrl = where the server serves it)."""
        entries = []
        for key, resource in self.resources.items():
            entry: dict[str, Any] = {"fullUrl": self.full_urls[key]} if key in self.full_urls else {}
            entry["resource"] = resource
            entries.append(entry)
        return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def check_query(client: FhirClient, query: str) -> str | None:
    """Why `query` cannot be pulled (None if it can): it must be relative to the base, or on the base."""
    if not query.strip():
        return "empty query"
    if urlsplit(query).scheme:
        if not query.startswith(client.base_url + "/"):
            return f"{query} is not on the server {client.base_url}"
    return None


def pull(client: FhirClient, queries: list[str], *, on_resource: Callable[[], None] | None = None) -> PullResult:
    """Run every query; a failed query is recorded in `errors` and the others still run, but a transport
    failure (the server is gone) is raised: the rest would fail the same way."""
    result = PullResult()
    for query in queries:
        path = query[len(client.base_url) + 1:] if query.startswith(client.base_url + "/") else query
        try:
            if READ_RE.match(urlsplit(path).path) and not urlsplit(path).query:
                resource = client.request("GET", path).body
                if isinstance(resource, dict):
                    result.add(resource, client.url(path.split("/_history/")[0]))
                    if on_resource:
                        on_resource()
                continue
            for page in client.pages(path):
                for entry in page.get("entry") or []:
                    if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                        continue
                    mode = (entry.get("search") or {}).get("mode")
                    resource = entry["resource"]
                    if mode == "outcome" or resource.get("resourceType") == "OperationOutcome" and mode != "match":
                        result.warnings.extend(f"{query}: {i.get('diagnostics', '')}"
                                               for i in resource.get("issue") or [] if isinstance(i, dict))
                        continue
                    result.add(resource, entry.get("fullUrl"))
                    if on_resource:
                        on_resource()
        except FhirClientError as error:
            if error.is_transport:
                raise
            result.errors.append(error)
    return result
