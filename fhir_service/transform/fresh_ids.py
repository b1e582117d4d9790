"""New identities for a whole Bundle, so one case can be loaded many times as distinct patients.

Every resource id becomes a uuid5 of (seed, Type/old id); a `urn:uuid:` fullUrl that equalled the id follows
it, any other urn:uuid becomes a uuid5 of (seed, old urn), and a RESTful fullUrl keeps its base with the new
id. References (urn, relative, absolute) are rewritten through the same map. Every Identifier the Bundle owns
(of the Bundle, of each resource, of contained resources and backbone elements) gets one suffix
`~<8 hex of the seed>` (the same suffix on the Bundle's and the Patient's case identifier keeps them linked), so
a conditional create on any identifier makes new resources. A logical reference (`Reference.identifier`) follows
only when it names one of those identifiers: an identifier from outside (an NPI, another system's MRN) names the
same thing in the copy. Same seed, same output.
"""
from __future__ import annotations

import hashlib
import uuid
from typing import Any

from fhir_service.transform.references import UUID_PREFIX, is_urn_uuid, map_references, without_history

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://fhir.cart-tox.org/fhir-service/fresh-ids")


def new_seed() -> str:
    return uuid.uuid4().hex


def suffix_of(seed: str) -> str:
    return "~" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:8]


def _new_id(seed: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{seed}|{key}"))


def refresh(bundle: dict[str, Any], seed: str) -> dict[str, Any]:
    mapping: dict[str, str] = {}
    entries = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            entries.append(entry)
            continue
        rtype, old_id = resource.get("resourceType"), resource.get("id")
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        new_id = _new_id(seed, f"{rtype}/{old_id}") if isinstance(old_id, str) else None
        if new_id:
            mapping[f"{rtype}/{old_id}"] = f"{rtype}/{new_id}"
        new_full = full_url
        if full_url and is_urn_uuid(full_url):
            new_full = UUID_PREFIX + (new_id if new_id and full_url == UUID_PREFIX + old_id
                                      else _new_id(seed, full_url))
        elif full_url and new_id and full_url.endswith(f"/{rtype}/{old_id}"):
            new_full = full_url[: -len(old_id)] + new_id
        if full_url and new_full:
            mapping[full_url] = new_full
        new_entry = dict(entry)
        if new_full:
            new_entry["fullUrl"] = new_full
        new_entry["resource"] = {**resource, "id": new_id} if new_id else resource
        entries.append(new_entry)

    def rewrite(reference: str) -> str:
        if reference in mapping:
            return mapping[reference]
        bare = without_history(reference)
        if bare in mapping:  # a version of the old resource does not exist under the new id: name the resource
            return mapping[bare]
        for old, new in mapping.items():  # absolute reference to a relative-named entry
            if "://" in reference and reference.endswith("/" + old) and "/" in old:
                return reference[: -len(old)] + new
        return reference

    out = {**bundle, "entry": entries}
    if isinstance(bundle.get("id"), str):
        out["id"] = _new_id(seed, f"Bundle/{bundle['id']}")
    out = map_references(out, rewrite)
    return _suffix_identifiers(out, suffix_of(seed))


REFERENCE_KEYS = frozenset({"id", "extension", "reference", "type", "identifier", "display"})


def _is_reference(node: dict[str, Any]) -> bool:
    """A Reference (its `identifier` is a single Identifier), told apart from a resource or backbone element."""
    return "resourceType" not in node and isinstance(node.get("identifier"), dict) and node.keys() <= REFERENCE_KEYS


def _key(identifier: Any) -> tuple[Any, Any] | None:
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
        return identifier.get("system"), identifier["value"]
    return None


def _owned(value: Any, found: set[tuple[Any, Any]]) -> set[tuple[Any, Any]]:
    """(system, value) of every Identifier the tree owns (not those of logical references)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "identifier" and not _is_reference(value):
                for identifier in item if isinstance(item, list) else [item]:
                    if _key(identifier):
                        found.add(_key(identifier))  # type: ignore[arg-type]
            elif isinstance(item, (dict, list)):
                _owned(item, found)
    elif isinstance(value, list):
        for item in value:
            _owned(item, found)
    return found


def _suffix_identifiers(value: Any, suffix: str, owned: set[tuple[Any, Any]] | None = None) -> Any:
    if owned is None:
        owned = _owned(value, set())
    if isinstance(value, dict):
        reference = _is_reference(value)
        out = {}
        for key, item in value.items():
            if key == "identifier":
                if reference:
                    out[key] = _suffixed(item, suffix) if _key(item) in owned else item
                else:
                    out[key] = [_suffixed(i, suffix) for i in item] if isinstance(item, list) \
                        else _suffixed(item, suffix)
            elif isinstance(item, (dict, list)):
                out[key] = _suffix_identifiers(item, suffix, owned)
            else:
                out[key] = item
        return out
    if isinstance(value, list):
        return [_suffix_identifiers(item, suffix, owned) for item in value]
    return value


def _suffixed(identifier: Any, suffix: str) -> Any:
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
        return {**identifier, "value": identifier["value"] + suffix}
    return identifier
