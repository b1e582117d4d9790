"""Comparing what was pushed with what was pulled back: the clinical content, not the server's bookkeeping.

The server assigns ids to conditional creates, adds meta.versionId/lastUpdated and turns `urn:uuid:` references
into `Type/id`; everything else must come back exactly (decimal text included: `fhirjson.canonical` tells
`1.5` from `1.50`). Both sides are brought to the input's names: a resource is keyed by `Type/<input id>` and
every reference to a pushed resource reads `Type/<input id>`.
"""
from __future__ import annotations

from typing import Any

from fhir_service.client.client import location_parts
from fhir_service.client.push import PushReport
from fhir_service.store import fhirjson

SERVER_META = ("versionId", "lastUpdated")


def _strip(resource: dict[str, Any], references: dict[str, str]) -> dict[str, Any]:
    out = {k: v for k, v in resource.items() if k != "id"}
    meta = {k: v for k, v in (out.pop("meta", None) or {}).items() if k not in SERVER_META}
    if meta:
        out["meta"] = meta
    return _rewrite(out, references)


def _rewrite(value: Any, references: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: (references.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, references))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, references) for v in value]
    return value


def input_content(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`Type/<input id>` -> the resource as pushed, references by fullUrl rewritten to `Type/<input id>`."""
    names = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
             for e in bundle["entry"] if "resource" in e and "fullUrl" in e}
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}": _strip(e["resource"], names)
            for e in bundle["entry"] if "resource" in e}


def server_names(report: PushReport) -> dict[str, str]:
    """`Type/<server id>` -> `Type/<input id>`, from the locations in the push report."""
    names = {}
    for entry in report.entries:
        parts = location_parts(entry.location)
        assert parts, f"{entry.label}: no location in the push report ({entry.status_text})"
        names[f"{parts[0]}/{parts[1]}"] = f"{entry.resource_type}/{entry.id}"
    return names


def pulled_content(resources: list[dict[str, Any]], names: dict[str, str]) -> dict[str, dict[str, Any]]:
    out = {}
    for resource in resources:
        key = f"{resource['resourceType']}/{resource['id']}"
        out[names.get(key, key)] = _strip(resource, names)
    return out


def differences(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> list[str]:
    """Readable differences (missing, unexpected, changed with the first differing path); empty if equal."""
    found = [f"missing: {k}" for k in sorted(expected.keys() - actual.keys())]
    found += [f"unexpected: {k}" for k in sorted(actual.keys() - expected.keys())]
    for key in sorted(expected.keys() & actual.keys()):
        if fhirjson.canonical(expected[key]) != fhirjson.canonical(actual[key]):
            found.append(f"changed: {key} at {_first_difference(expected[key], actual[key], key)}")
    return found


def _first_difference(a: Any, b: Any, path: str) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(a.keys() | b.keys()):
            if k not in a or k not in b or fhirjson.canonical(a[k]) != fhirjson.canonical(b[k]):
                if k in a and k in b:
                    return _first_difference(a[k], b[k], f"{path}.{k}")
                return f"{path}.{k} ({'only pushed' if k in a else 'only pulled'})"
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for n, (x, y) in enumerate(zip(a, b)):
            if fhirjson.canonical(x) != fhirjson.canonical(y):
                return _first_difference(x, y, f"{path}[{n}]")
    return f"{path}: pushed {fhirjson.canonical(a)[:120]!r}, pulled {fhirjson.canonical(b)[:120]!r}"
