"""Turn a resource into search-index rows, one list per index table, from its compiled search parameters.

FHIRPath returns bare JSON values (the datatype is lost), so each parameter type recognises the shapes it
may receive: a token may come from a code/boolean/string, a Coding, a CodeableConcept, an Identifier or a
ContactPoint; a date from a date string, a Period or a Timing; a string from a string, a HumanName or an
Address. Unusable values are skipped: indexing never rejects a resource.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

from fhir_service.store.dates import MAX_US, MIN_US, DateFormatError, date_range
from fhir_service.store.search_params import SearchParam

STRING_MAX = 512
_REF_RE = re.compile(r"^(?:(?P<base>.*)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")

Rows = dict[str, list[tuple[Any, ...]]]

log = logging.getLogger(__name__)


def normalize_string(value: str) -> str:
    """Case- and accent-insensitive form used by the default (starts-with) string search."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()[:STRING_MAX]


def parse_reference(reference: str) -> tuple[str | None, str | None]:
    """(type, id) of `Type/id`, `Type/id/_history/n` or an absolute URL ending so; (None, None) otherwise."""
    match = _REF_RE.match(reference)
    if not match:
        return None, None
    return match.group("type"), match.group("id")


# Bump whenever what is indexed, or how, changes: a store built by other rules is re-indexed when opened.
INDEX_VERSION = "2026-11-21.2"  # .2: multi-valued flags of range parameters
NARRATIVE_PARAM = "_text"
_TAG = re.compile(r"<[^>]*>")
_ENTITY = re.compile(r"&(#?[A-Za-z0-9]+);")


def narrative_text(resource: dict[str, Any]) -> str | None:
    """The human-readable text of the narrative (tags and entities gone, white space collapsed)."""
    div = (resource.get("text") or {}).get("div") if isinstance(resource.get("text"), dict) else None
    if not isinstance(div, str):
        return None
    import html

    text = " ".join(html.unescape(_TAG.sub(" ", div)).split())
    return text or None


_warned: set[tuple[str, str, str]] = set()


def _unindexed(code: str, resource: dict[str, Any], exc: Exception) -> None:
    """Say (once per parameter, type and kind of failure) that a search parameter could not be evaluated, so
    the resource will not be found by it."""
    key = (code, str(resource.get("resourceType")), type(exc).__name__)
    if key not in _warned:
        _warned.add(key)
        log.warning("search parameter %s not indexed for %s: %s: %s", code, key[1], key[2], exc)


def index_resource(resource: dict[str, Any], params: dict[str, SearchParam]) -> Rows:
    rows: Rows = {kind: [] for kind in ("string", "token", "date", "reference", "quantity", "number", "uri")}
    text = narrative_text(resource)
    if text:  # `_text`: searched with contains semantics (see query), the first 512 characters
        rows["string"].append((NARRATIVE_PARAM, normalize_string(text), text[:STRING_MAX]))
    for param in params.values():
        if param.type == "composite":
            _composite_rows(param, resource, rows)
            continue
        seen: set[tuple[Any, ...]] = set()
        for branch in param.branches:
            try:
                values = branch.evaluate(resource)
            except Exception as exc:  # noqa: BLE001 - an engine gap on one branch must not block the write ...
                _unindexed(param.code, resource, exc)  # ... but it is never silent
                continue
            for value in values:
                for row in _rows_for(param, value, branch.target_type):
                    if row not in seen:
                        seen.add(row)
                        # derived token rows (`identifier:of-type`, `subject:identifier`) go to the token table
                        rows["token" if ":" in row[0] else param.type].append(row)
    return rows


def _composite_rows(param: SearchParam, resource: dict[str, Any], rows: Rows) -> None:
    """Each root value (the resource, or e.g. each Observation.component) is one group `grp`; component i is
    indexed in its own type's table under parameter `<code>$<i>`, so a search can require that all
    components match within the same group."""
    group = 0
    for branch in param.branches:
        try:
            roots = branch.evaluate(resource)
        except Exception as exc:  # noqa: BLE001
            _unindexed(param.code, resource, exc)
            continue
        for root in roots:
            if not isinstance(root, dict):
                continue
            group += 1
            for position, (kind, evaluate) in enumerate(param.components):
                part = SearchParam(code=f"{param.code}${position}", type=kind, url=None, branches=())
                try:
                    values = evaluate(root)
                except Exception as exc:  # noqa: BLE001
                    _unindexed(part.code, resource, exc)
                    continue
                for value in values:
                    for row in _rows_for(part, value, None):
                        rows[kind].append((*row, group))


def _rows_for(param: SearchParam, value: Any, target_type: str | None) -> Iterator[tuple[Any, ...]]:
    kind, code = param.type, param.code
    if kind == "string":
        for text in _strings(value):
            yield (code, normalize_string(text), text[:STRING_MAX])
    elif kind == "token":
        yield from _tokens(code, value)
    elif kind == "date":
        for low, high in _dates(value):
            yield (code, low, high)
    elif kind == "reference":
        yield from _references(code, value, target_type)
    elif kind == "quantity":
        yield from _quantities(code, value)
    elif kind == "number":
        number = _decimal(value)
        if number is not None:
            yield (code, float(number))
    elif kind == "uri":
        if isinstance(value, str):
            yield (code, value[:STRING_MAX])


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key in ("text", "family", "given", "prefix", "suffix", "line", "city", "district", "state",
                    "postalCode", "country", "value", "display"):
            part = value.get(key)
            if isinstance(part, str):
                yield part
            elif isinstance(part, list):
                yield from (p for p in part if isinstance(p, str))


def _tokens(code: str, value: Any) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, bool):
        yield (code, None, "true" if value else "false", None)
    elif isinstance(value, (str, int, Decimal)):
        yield (code, None, str(value), None)
    elif isinstance(value, dict):
        if "coding" in value or ("text" in value and "value" not in value and "code" not in value):
            text = value.get("text")
            for coding in value.get("coding") or []:
                if isinstance(coding, dict) and (coding.get("code") or coding.get("system")):
                    yield (code, coding.get("system"), coding.get("code"), coding.get("display") or text)
            if text and not value.get("coding"):
                yield (code, None, None, text)
        elif "code" in value or ("system" in value and "value" not in value):
            yield (code, value.get("system"), value.get("code"), value.get("display"))
        elif "value" in value:
            # ContactPoint: its system (phone, email ...) is the token system, as other servers do
            yield (code, value.get("system"), str(value["value"]), None)
            for coding in (value.get("type") or {}).get("coding") or []:
                if isinstance(coding, dict) and coding.get("code"):
                    # identifier:of-type=system|code|value, stored as a token of a derived parameter name
                    yield (f"{code}:of-type", coding.get("system"), f"{coding['code']}|{value['value']}", None)


def _dates(value: Any) -> Iterator[tuple[int, int]]:
    try:
        if isinstance(value, str):
            yield date_range(value)
        elif isinstance(value, dict):
            if "start" in value or "end" in value:
                low = date_range(value["start"])[0] if value.get("start") else MIN_US
                high = date_range(value["end"])[1] if value.get("end") else MAX_US
                yield (low, high)
            for event in value.get("event") or []:
                yield date_range(event)
            bounds = (value.get("repeat") or {}).get("boundsPeriod")
            if bounds:
                yield from _dates(bounds)
    except DateFormatError:
        return


def _references(code: str, value: Any, target_type: str | None) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):  # canonical / uri used as a reference
        ref_type, ref_id = parse_reference(value) if "://" not in value else (None, None)
        if target_type and ref_type != target_type:
            return
        yield (code, ref_type, ref_id, value.split("|")[0][:STRING_MAX])
    elif isinstance(value, dict):
        identifier = value.get("identifier")
        if isinstance(identifier, dict) and identifier.get("value") is not None:
            # Reference.identifier, for `subject:identifier=system|value`: a token row of a derived name
            yield (f"{code}:identifier", identifier.get("system"), str(identifier["value"]), None)
        reference = value.get("reference")
        if not isinstance(reference, str) or reference.startswith("#"):
            return
        ref_type, ref_id = parse_reference(reference)
        if target_type and ref_type != target_type:
            return
        absolute = "://" in reference or reference.startswith("urn:")
        yield (code, None if absolute else ref_type, None if absolute else ref_id, reference[:STRING_MAX])


def _quantities(code: str, value: Any) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        if "low" in value or "high" in value:  # Range: index both ends
            for end in ("low", "high"):
                if isinstance(value.get(end), dict):
                    yield from _quantities(code, value[end])
            return
        number = _decimal(value.get("value"))
        if number is None:
            return
        system = value.get("system")
        unit_code = value.get("code") or value.get("currency")
        yield (code, float(number), system, unit_code, value.get("unit"))
    else:
        number = _decimal(value)
        if number is not None:
            yield (code, float(number), None, None, None)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
