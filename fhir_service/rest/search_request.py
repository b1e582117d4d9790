"""Query parameters of a search request -> `SearchQuery` (result controls parsed and checked here)."""
from __future__ import annotations

from fhir_service.rest.http import FhirError, Request
from fhir_service.store.repository import SearchQuery

DEFAULT_COUNT = 20
MAX_COUNT = 1000
SUMMARY_VALUES = ("true", "false", "text", "data", "count")
# Parameters that shape the response but are not search criteria.
RESPONSE_PARAMS = frozenset({"_format", "_pretty", "_summary", "_elements"})


MAX_CRITERIA = 64  # search parameters in one request (HAPI and Medplum accept far fewer in practice)
MAX_VALUES = 200  # comma-separated values (OR) of one parameter


def parse_search(resource_type: str | None, params: list[tuple[str, str]], request: Request) -> SearchQuery:
    """The search the request asks for; 400 for what no store should be asked to plan (too many criteria or
    OR values: the SQL of such a search exceeds the databases' expression limits)."""
    criteria = [(k, v) for k, v in params if not k.startswith("_") or k in ("_id", "_lastUpdated", "_tag",
                                                                             "_profile", "_security", "_text",
                                                                             "_content", "_has")]
    if len(criteria) > MAX_CRITERIA:
        raise FhirError(400, f"A search may have at most {MAX_CRITERIA} criteria; this one has {len(criteria)}",
                        "too-costly")
    for key, value in params:
        if "\x00" in key or "\x00" in value:
            raise FhirError(400, f"The search parameter {key.replace(chr(0), '%00')!r} holds U+0000 (NUL), which "
                                 "no FHIR string may contain", "invalid")
    for key, value in criteria:
        if value.count(",") >= MAX_VALUES:
            raise FhirError(400, f"A search parameter may have at most {MAX_VALUES} values; {key} has "
                                 f"{value.count(',') + 1}", "too-costly")
    query = SearchQuery(resource_type=resource_type, count=DEFAULT_COUNT,
                        strict=(request.prefer("handling") == "strict"))
    for key, value in params:
        name = key.split(":")[0]
        if key == "_count":
            query.count = _count(value)
        elif key == "_sort":
            query.sort += [s.strip() for s in value.split(",") if s.strip()]
        elif key == "_cursor":
            query.cursor = value
        elif key == "_total":
            if value not in ("none", "estimate", "accurate"):
                raise FhirError(400, f"_total must be none, estimate or accurate, not {value!r}")
            query.total = value
        elif name == "_include":
            query.include.append(("iterate:" if key.endswith(":iterate") else "") + value)
        elif name == "_revinclude":
            query.revinclude.append(("iterate:" if key.endswith(":iterate") else "") + value)
        elif key == "_type":
            query.types += [t.strip() for t in value.split(",") if t.strip()]
        elif key == "_summary":
            if value not in SUMMARY_VALUES:
                raise FhirError(400, f"_summary must be one of {', '.join(SUMMARY_VALUES)}, not {value!r}")
            if value == "count":
                query.count, query.total = 0, "accurate"
        elif name in RESPONSE_PARAMS or key in ("_contained", "_containedType"):
            continue
        else:
            query.params.append((key, value))
    return query


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise FhirError(400, f"_count must be a non-negative integer, not {value!r}") from None
    if count < 0:
        raise FhirError(400, f"_count must be a non-negative integer, not {value!r}")
    return min(count, MAX_COUNT)
