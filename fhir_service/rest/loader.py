"""Loading files of FHIR JSON into a server, idempotently (used by `fhir-service load` and `serve`).

- transaction/batch Bundles are processed as such, through the REST core. So that loading twice does not
  duplicate, a POST entry whose fullUrl is `urn:uuid:X` (and that has no ifNoneExist) becomes a PUT at id X:
  the uuid the author gave the entry is its identity.
- collection (and searchset) Bundles are loaded entry by entry, in one transaction: each entry is PUT at its
  id (or at its urn:uuid), with references between entries rewritten.
- any other resource (including document/message Bundles, stored whole) is PUT at its id; one without an
  id is POSTed (and then cannot be idempotent: reported as a warning).
Identical content makes no new version (the store's rule), so a reload changes nothing.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from fhir_service.rest.http import FHIR_JSON
from fhir_service.rest.router import FhirRest
from fhir_service.store import fhirjson

UUID_PREFIX = "urn:uuid:"
HEADERS = {"Content-Type": FHIR_JSON, "Prefer": "return=minimal"}


@dataclass
class LoadResult:
    path: str
    ok: bool
    statuses: Counter[str] = field(default_factory=Counter)
    outcome: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = ", ".join(f"{n} x {s}" for s, n in sorted(self.statuses.items())) or "nothing"
        return f"{self.path}: {'ok' if self.ok else 'FAILED'} ({counts})"


def _entry_statuses(body: dict[str, Any] | None) -> Counter[str]:
    return Counter((e.get("response") or {}).get("status", "?") for e in (body or {}).get("entry") or [])


def idempotent_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """POSTs of `urn:uuid` entries become PUTs at that uuid (see module docstring)."""
    entries = []
    for entry in bundle.get("entry") or []:
        request = entry.get("request") or {}
        resource = entry.get("resource")
        full_url = entry.get("fullUrl") or ""
        if (str(request.get("method", "")).upper() == "POST" and not request.get("ifNoneExist")
                and full_url.startswith(UUID_PREFIX) and isinstance(resource, dict)):
            new_id = full_url[len(UUID_PREFIX):]
            entry = {**entry, "resource": {**resource, "id": new_id},
                     "request": {**request, "method": "PUT", "url": f"{resource.get('resourceType')}/{new_id}"}}
        entries.append(entry)
    return {**bundle, "entry": entries}


def collection_as_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """Each entry PUT at its id (or its urn:uuid); the transaction rewrites references between entries."""
    entries = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        full_url = entry.get("fullUrl") or ""
        id = resource.get("id") or (full_url[len(UUID_PREFIX):] if full_url.startswith(UUID_PREFIX) else None)
        if id:
            entries.append({**({"fullUrl": full_url} if full_url else {}), "resource": {**resource, "id": id},
                            "request": {"method": "PUT", "url": f"{resource.get('resourceType')}/{id}"}})
        else:
            entries.append({**({"fullUrl": full_url} if full_url else {}), "resource": resource,
                            "request": {"method": "POST", "url": str(resource.get("resourceType"))}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def load_resource(rest: FhirRest, resource: Any, label: str) -> LoadResult:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return LoadResult(label, False, outcome={"resourceType": "OperationOutcome", "issue": [
            {"severity": "fatal", "code": "structure", "diagnostics": "not a FHIR resource (no resourceType)"}]})
    kind = resource.get("type") if resource["resourceType"] == "Bundle" else None
    warnings: list[str] = []
    if kind in ("transaction", "batch"):
        response = rest.handle("POST", "", "", HEADERS, fhirjson.dumps(idempotent_transaction(resource)))
    elif kind in ("collection", "searchset"):
        response = rest.handle("POST", "", "", HEADERS, fhirjson.dumps(collection_as_transaction(resource)))
    elif resource.get("id"):
        response = rest.handle("PUT", f"/{resource['resourceType']}/{resource['id']}", "", HEADERS,
                               fhirjson.dumps(resource))
    else:
        warnings.append("resource without id: created anew on every load")
        response = rest.handle("POST", f"/{resource['resourceType']}", "", HEADERS, fhirjson.dumps(resource))
    ok = response.status < 400
    statuses = _entry_statuses(response.body) if response.body and response.body.get("resourceType") == "Bundle" \
        else Counter({str(response.status): 1})
    if kind == "batch":
        ok = ok and not any(s[:1] in ("4", "5") for s in statuses)
    return LoadResult(label, ok, statuses, None if ok else response.body, warnings)


def load_file(rest: FhirRest, path: str | Path) -> LoadResult:
    """Load one .json (or .xml) file of FHIR."""
    findings: list[str] = []
    try:
        raw = Path(path).read_bytes()
        if str(path).lower().endswith(".xml"):
            from fhir_service.formats.xml import parse_xml

            parsed = parse_xml(raw, rest.definitions)  # XmlFormatError (a ValueError): not readable
            fatal = [i.diagnostics for i in parsed.issues if i.severity == "fatal"]
            if fatal or parsed.resource is None:
                raise ValueError(fatal[0] if fatal else "no FHIR resource in the XML")
            data = parsed.resource
            # element order, undefined attributes ...: validation findings, not a reason to refuse the file
            findings = [f"{i.expression or ''}: {i.diagnostics}".lstrip(": ") for i in parsed.issues]
        else:
            data = fhirjson.loads(raw)
    except (OSError, ValueError) as exc:
        return LoadResult(str(path), False, outcome={"resourceType": "OperationOutcome", "issue": [
            {"severity": "fatal", "code": "structure", "diagnostics": f"cannot read {path}: {exc}"}]})
    result = load_resource(rest, data, str(path))
    result.warnings.extend(f"XML: {finding}" for finding in findings)
    return result
