"""collection (or any Bundle) -> transaction or batch that a FHIR server can load twice without duplicates.

Identity of each entry, in this order of preference:
- an `identifier` with system and value: POST with `ifNoneExist: identifier=system|value` (a conditional
  create: the second load matches the first and creates nothing); the id, which a server ignores on create,
  is dropped;
- else an id: PUT `Type/id` (an update-as-create: the second load rewrites identical content, which the
  store does not even version);
- else a plain POST, which cannot be idempotent (reported as a warning).

Transaction: every entry gets a `urn:uuid:` fullUrl (an existing one is kept; otherwise a name-based uuid5
of the entry's fullUrl, `Type/id` or content, so the output is deterministic) and every internal reference
(relative `Type/id`, absolute fullUrl, urn:uuid, with or without `/_history/n`) is rewritten to it: the
server resolves them inside its one database transaction, whatever ids it assigns.
Batch: entries are independent (FHIR does not resolve urn:uuid across batch entries), so the identity is an
id first (PUT), references become `Type/id`, and references to an identifier-only entry become conditional
references `Type?identifier=system|value`; an entry with neither cannot be referred to (an error).
"""
from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any
from urllib.parse import quote

import orjson

from fhir_service.transform.inputs import bundle_problems
from fhir_service.transform.params import TransactionParams
from fhir_service.transform.references import (UUID_PREFIX, is_urn_uuid, map_references, relative_form,
                                               without_history)
from fhir_service.transform.result import TransformResult, error, information, warning
from fhir_service.validation.outcome import Issue

# Namespace of the name-based uuids given to entries (uuid5 of "fhir-service transform" in the URL namespace).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://fhir.cart-tox.org/fhir-service/transform")
ABSOLUTE_RE = re.compile(r"^(https?://.+)/([A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})$")
ENTRY_KEYS_DROPPED = ("search", "response", "request", "link")


def stable_uuid(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, key))


def conditional_identifier(resource: dict[str, Any]) -> dict[str, str] | None:
    """The identifier that makes a conditional create (official first, then usual, then the first), or None."""
    candidates = [i for i in resource.get("identifier") or []
                  if isinstance(i, dict) and isinstance(i.get("system"), str) and isinstance(i.get("value"), str)]
    if resource.get("resourceType") == "Bundle":  # Bundle.identifier is a single Identifier
        single = resource.get("identifier")
        candidates = [single] if isinstance(single, dict) and single.get("system") and single.get("value") else []
    rank = {"official": 0, "usual": 1}
    candidates.sort(key=lambda i: rank.get(i.get("use"), 2))
    return candidates[0] if candidates else None


def _escape_token(text: str) -> str:
    """A token search value: FHIR search escapes `\\ , $ |` with a backslash, then the URL encodes it."""
    for char in ("\\", ",", "$", "|"):
        text = text.replace(char, "\\" + char)
    return quote(text, safe=":/.-_~@")


def identifier_query(identifier: dict[str, str]) -> str:
    return f"identifier={_escape_token(identifier['system'])}|{_escape_token(identifier['value'])}"


class _Entry:
    __slots__ = ("index", "entry", "resource", "type", "id", "full_url", "urn", "identifier")

    def __init__(self, index: int, entry: dict[str, Any]) -> None:
        self.index = index
        self.entry = entry
        self.resource: dict[str, Any] = entry["resource"]
        self.type: str = self.resource["resourceType"]
        id = self.resource.get("id")
        self.id: str | None = id if isinstance(id, str) and id else None
        full_url = entry.get("fullUrl")
        self.full_url: str = full_url if isinstance(full_url, str) else ""
        self.identifier = conditional_identifier(self.resource)
        self.urn = self.full_url if is_urn_uuid(self.full_url) else UUID_PREFIX + stable_uuid(self._key())

    def _key(self) -> str:
        if self.full_url:
            return self.full_url
        if self.id:
            return f"{self.type}/{self.id}"
        digest = hashlib.sha256(orjson.dumps(self.resource, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return f"entry/{self.index}/{digest}"


def _aliases(entries: list[_Entry]) -> tuple[dict[str, _Entry], list[Issue]]:
    """Every string by which a reference can name an entry -> that entry (ambiguous names left out)."""
    names: dict[str, _Entry] = {}
    ambiguous: set[str] = set()
    for item in entries:
        keys = {item.urn}
        if item.full_url:
            keys.add(item.full_url)
        relative = relative_form(item.full_url, item.type, item.id)
        if relative:
            keys.add(relative)
        for key in keys:
            if key in names and names[key] is not item:
                ambiguous.add(key)
            names[key] = item
    issues = []
    for key in sorted(ambiguous):
        del names[key]
        issues.append(warning("not-unique", f"{key!r} names more than one entry: references to it are left as "
                                            "they are", "Bundle.entry"))
    return names, issues


def _request(item: _Entry, batch: bool) -> dict[str, str]:
    if item.identifier and not (batch and item.id):
        return {"method": "POST", "url": item.type, "ifNoneExist": identifier_query(item.identifier)}
    if item.id:
        return {"method": "PUT", "url": f"{item.type}/{item.id}"}
    return {"method": "POST", "url": item.type}


def _same_base_relative(reference: str, referrer_full_url: str) -> str | None:
    """`Type/id` of an absolute reference on the referring entry's own server base (FHIR's resolution rule
    for entries that have an id but no fullUrl)."""
    match = ABSOLUTE_RE.match(reference)
    if not match:
        return None
    base_match = ABSOLUTE_RE.match(referrer_full_url)
    if base_match and base_match.group(1) != match.group(1):
        return None
    return match.group(2)


def _batch_target(item: _Entry) -> str | None:
    if item.id:
        return f"{item.type}/{item.id}"
    if item.identifier:
        return f"{item.type}?{identifier_query(item.identifier)}"
    return None


def transform(bundle: dict[str, Any], params: TransactionParams = TransactionParams()) -> TransformResult:
    problems = bundle_problems(bundle)
    if problems:
        return TransformResult(None, problems)
    issues: list[Issue] = []
    entries: list[_Entry] = []
    for index, entry in enumerate(bundle.get("entry") or []):
        if "resource" not in entry:
            issues.append(warning("incomplete", "entry without a resource dropped", f"Bundle.entry[{index}]"))
            continue
        entries.append(_Entry(index, entry))
    names, alias_issues = _aliases(entries)
    issues.extend(alias_issues)
    kind = "batch" if params.batch else "transaction"

    out_entries = []
    for item in entries:
        where = f"Bundle.entry[{item.index}]"

        def rewrite(reference: str, where: str = where) -> str:
            target = names.get(reference) or names.get(without_history(reference)) or \
                names.get(_same_base_relative(without_history(reference), item.full_url) or "")
            if target is None:
                if reference.startswith(UUID_PREFIX) or reference.startswith("urn:oid:"):
                    issues.append(error("not-found", f"reference {reference!r} names no entry of the Bundle",
                                        f"{where}.resource"))
                return reference
            if reference != without_history(reference):
                issues.append(information("informational", f"version-specific reference {reference!r} now "
                                          "names the entry, whatever version the server gives it",
                                          f"{where}.resource"))
            if not params.batch:
                return target.urn
            literal = _batch_target(target)
            if literal is None:
                issues.append(error("not-supported", f"reference {reference!r}: its target has neither id nor "
                                    "identifier, so a batch entry cannot refer to it (use a transaction)",
                                    f"{where}.resource"))
                return reference
            return literal

        request = _request(item, params.batch)
        resource = map_references(item.resource, rewrite)
        if request["method"] == "POST" and "id" in resource:
            resource = {k: v for k, v in resource.items() if k != "id"}
        if request["method"] == "POST" and "ifNoneExist" not in request:
            issues.append(warning("incomplete", f"{item.type} has neither identifier nor id: a plain POST, "
                                  "which creates a new resource on every load", where))
        new_entry = {k: v for k, v in item.entry.items() if k not in ENTRY_KEYS_DROPPED and k != "fullUrl"}
        new_entry["resource"] = resource
        out_entry = {"fullUrl": item.urn, **new_entry, "request": request}
        out_entries.append(out_entry)

    out = {key: value for key, value in bundle.items() if key not in ("type", "entry", "total", "link", "signature")}
    out["type"] = kind
    out["entry"] = out_entries
    return TransformResult(_ordered(out), issues)


def _ordered(bundle: dict[str, Any]) -> dict[str, Any]:
    """Bundle elements in the order of the specification (resourceType, id, meta, ..., type, ..., entry)."""
    order = ("resourceType", "id", "meta", "implicitRules", "language", "identifier", "type", "timestamp",
             "total", "link", "entry", "signature")
    return {key: bundle[key] for key in sorted(bundle, key=lambda k: order.index(k) if k in order else 99)}
