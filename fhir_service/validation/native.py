"""Core invariants decided natively when the content is plain, falling back to FHIRPath otherwise.

Why: on content the validator has not seen, FHIRPath evaluation of a few invariants met at every Bundle, entry and
DomainResource (bdl-3/4/5/7/8, dom-6, con-3) was most of the validation time; their memo keys change with every id
and fullUrl, so memoisation cannot help. Each function here reads the JSON directly and answers True/False only in
the shapes whose FHIRPath result it is sure of (strings where strings are expected, objects where objects are), and
None otherwise, so the walker then evaluates the expression as before: results never change, only their cost.

Functions are looked up by the exact expression text (`NATIVE[expression]`), so a profile that redefines a key
with another expression still gets its own expression evaluated. tests/validation/test_native_invariants.py
compares every function with the FHIRPath result on the case bundles, the conformance files and mutations of them.
"""
from __future__ import annotations

from typing import Any, Callable

NativeCheck = Callable[[Any, Any], "bool | None"]  # (focus JSON, %resource JSON) -> result, or None: undecided

CONDITION_VER_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _present(node: dict, name: str) -> bool | None:
    """`name.exists()` for an element of complex type: True/False, None when the JSON is not plain."""
    if f"_{name}" in node:
        return None
    if name not in node:
        return False
    value = node[name]
    if isinstance(value, dict) and value:
        return True
    if isinstance(value, list) and value and all(isinstance(v, dict) and v for v in value):
        return True
    return None


def _string(node: Any, name: str) -> str | None | bool:
    """The plain string value of primitive `name` ("" never occurs in valid FHIR but is still a string);
    None when absent (and no `_name`), False when the JSON is not a plain string."""
    if not isinstance(node, dict) or f"_{name}" in node:
        return False
    if name not in node:
        return None
    value = node[name]
    return value if isinstance(value, str) else False


def _entries(bundle: Any) -> list[dict] | None:
    if not isinstance(bundle, dict) or "_entry" in bundle:
        return None
    entries = bundle.get("entry", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    return entries


def _entry_kind_rule(element: str, types: tuple[str, ...]) -> NativeCheck:
    """bdl-3 / bdl-4: `entry.all(<element>.exists() = (%resource.type = t1 or ...))`."""
    def check(bundle: Any, resource: Any) -> bool | None:
        if resource is not bundle:
            return None
        kind = _string(bundle, "type")
        entries = _entries(bundle)
        if not isinstance(kind, str) or entries is None:
            return None
        expected = kind in types
        for entry in entries:
            present = _present(entry, element)
            if present is None:
                return None
            if present != expected:
                return False
        return True
    return check


def bdl5(entry: Any, resource: Any) -> bool | None:
    """`resource.exists() or request.exists() or response.exists()`: settled natively only when true."""
    if not isinstance(entry, dict):
        return None
    for name in ("resource", "request", "response"):
        if _present(entry, name):
            return True
    return None


def bdl2(bundle: Any, resource: Any) -> bool | None:
    """`entry.search.empty() or (type = 'searchset')`: settled natively only when true."""
    kind = _string(bundle, "type")
    if kind == "searchset":
        return True
    entries = _entries(bundle)
    if kind is False or entries is None:
        return None
    if any("search" in entry or "_search" in entry for entry in entries):
        return None
    return True


def bdl7(bundle: Any, resource: Any) -> bool | None:
    """`(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()`."""
    kind = _string(bundle, "type")
    if kind is False:
        return None
    if kind == "history":
        return True
    entries = _entries(bundle)
    if entries is None:
        return None
    seen: set[str] = set()
    for entry in entries:
        full_url = _string(entry, "fullUrl")
        if full_url is False:
            return None
        if full_url is None:
            continue
        res = entry.get("resource")
        version: str | None | bool = None
        if res is not None:
            if not isinstance(res, dict):
                return None
            meta = res.get("meta")
            if meta is not None:
                if not isinstance(meta, dict):
                    return None
                version = _string(meta, "versionId")
        if version is False:
            return None
        key = full_url + (version or "")
        if key in seen:
            return False
        seen.add(key)
    return True


def bdl8(entry: Any, resource: Any) -> bool | None:
    """`fullUrl.contains('/_history/').not()` (an absent fullUrl is left to the walker's empty-focus rule)."""
    full_url = _string(entry, "fullUrl")
    return "/_history/" not in full_url if isinstance(full_url, str) else None


def dom6(focus: Any, resource: Any) -> bool | None:
    """`text.div.exists()`."""
    if not isinstance(focus, dict) or "_text" in focus:
        return None
    text = focus.get("text")
    if text is None:
        return False if "text" not in focus else None
    if not isinstance(text, dict):
        return None
    div = text.get("div")
    if isinstance(div, str):
        return True
    if "div" not in text and "_div" not in text:
        return False
    return None


def con3(condition: Any, resource: Any) -> bool | None:
    """`clinicalStatus.exists() or verificationStatus.coding.where(system=... and code='entered-in-error').exists()
    or category.select($this='problem-list-item').empty()`: a CodeableConcept never equals a string, so the last
    part is true exactly when there is no category."""
    if not isinstance(condition, dict):
        return None
    clinical = _present(condition, "clinicalStatus")
    if clinical is None:
        return None
    if clinical:
        return True
    if "verificationStatus" in condition:
        status = condition["verificationStatus"]
        if not isinstance(status, dict) or "_coding" in status:
            return None
        codings = status.get("coding", [])
        if not isinstance(codings, list):
            return None
        for coding in codings:
            system, code = _string(coding, "system"), _string(coding, "code")
            if system is False or code is False:
                return None
            if system == CONDITION_VER_STATUS and code == "entered-in-error":
                return True
    category = _present(condition, "category")
    if category is None:
        return None
    return not category


NATIVE: dict[str, NativeCheck] = {
    "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or "
    "%resource.type = 'history'))": _entry_kind_rule("request", ("batch", "transaction", "history")),
    "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = 'transaction-response' "
    "or %resource.type = 'history'))": _entry_kind_rule("response", ("batch-response", "transaction-response",
                                                                     "history")),
    "entry.search.empty() or (type = 'searchset')": bdl2,
    "resource.exists() or request.exists() or response.exists()": bdl5,
    "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()": bdl7,
    "fullUrl.contains('/_history/').not()": bdl8,
    "text.`div`.exists()": dom6,
    "clinicalStatus.exists() or verificationStatus.coding.where(system='http://terminology.hl7.org/CodeSystem/"
    "condition-ver-status' and code = 'entered-in-error').exists() or category.select($this='problem-list-item')"
    ".empty()": con3,
}
