"""Re-dating a case: its whole timeline moved to a new infusion date (Day 0), every interval kept.

The current Day 0 is the date of the CAR-T infusion (the MedicationAdministration under the cart-infusion
profile); failing that, the date of a resource whose relative-day extension is 0; failing that, date - N of
any resource with relative-day N. Every date, dateTime and instant then moves by the same number of days
(see `dates.py` for precision and partial dates), found by type from the R4 definitions, so nothing that
merely looks like a date is touched. Kept as they are, on purpose:
- relative-day extensions (integers: Day +3 stays Day +3 — that is the point);
- `meta` (lastUpdated is about the record, not the patient) and `Bundle.timestamp` (when it was assembled);
- with `keepBirthdate`, birthDate (age at infusion then changes; by default it moves too and is kept).
Full ISO dates written in narrative (`text.div`) and in notes move as well, so a sentence such as
"Day 0 anchored on 2022-01-01" stays true; each such rewrite is counted in an information issue.
With `freshIds`, new ids/fullUrls/identifiers follow (fresh_ids.py).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fhir_service.transform.dates import DATE_TYPES, DateShiftError, date_part, shift
from fhir_service.transform.element_types import walk_typed
from fhir_service.transform.fresh_ids import new_seed, refresh
from fhir_service.transform.inputs import bundle_problems
from fhir_service.transform.params import RedateParams
from fhir_service.transform.result import TransformResult, error, information, warning
from fhir_service.validation.outcome import Issue

INFUSION_PROFILE = "https://fhir.cart-tox.org/StructureDefinition/cart-infusion"
RELATIVE_DAY = "https://fhir.cart-tox.org/StructureDefinition/relative-day"
TEXT_DATE_RE = re.compile(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\d-])")


def _first_full_date(resource: dict[str, Any]) -> dt.date | None:
    found: list[dt.date] = []

    def visit(type_code: str, path: tuple[str, ...], value: Any) -> Any:
        if not found and type_code in DATE_TYPES and isinstance(value, str) and "meta" not in path:
            day = date_part(value)
            if day:
                found.append(day)
        return value

    walk_typed(resource, resource.get("resourceType", "Resource"), visit)
    return found[0] if found else None


def _relative_day(resource: dict[str, Any]) -> int | None:
    for extension in resource.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == RELATIVE_DAY \
                and isinstance(extension.get("valueInteger"), int):
            return extension["valueInteger"]
    return None


def infusion_date(bundle: dict[str, Any]) -> tuple[dt.date | None, str]:
    """Day 0 of the case and how it was found (for the issue that reports it)."""
    resources = [e["resource"] for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)]
    for resource in resources:
        profiles = (resource.get("meta") or {}).get("profile") or []
        if resource.get("resourceType") == "MedicationAdministration" and INFUSION_PROFILE in profiles:
            value = resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start")
            day = date_part(value) if isinstance(value, str) else None
            if day:
                return day, f"the CAR-T infusion MedicationAdministration/{resource.get('id')}"
    candidates = [(r, _relative_day(r)) for r in resources]
    for want_zero in (True, False):
        for resource, relative in candidates:
            if relative is None or (want_zero and relative != 0):
                continue
            day = _first_full_date(resource)
            if day:
                return day - dt.timedelta(days=relative), \
                    f"{resource.get('resourceType')}/{resource.get('id')} (relative day {relative})"
    return None, ""


def transform(bundle: dict[str, Any], params: RedateParams) -> TransformResult:
    problems = bundle_problems(bundle)
    if problems:
        return TransformResult(None, problems)
    current, source = infusion_date(bundle)
    if current is None:
        return TransformResult(None, [error("not-found", "cannot tell the case's infusion date: no "
                                        "MedicationAdministration under the cart-infusion profile with a date, "
                                        "and no dated resource with a relative-day extension")])
    days = (params.infusion_date - current).days
    issues: list[Issue] = [information("informational", f"infusion date {current.isoformat()} (from {source}) "
                                       f"moved to {params.infusion_date.isoformat()}: {days:+d} days")]
    text_rewrites = [0]

    def visit(type_code: str, path: tuple[str, ...], value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if type_code in DATE_TYPES:
            if "meta" in path or path == ("timestamp",) or (params.keep_birthdate and path[-1] == "birthDate"):
                return value
            try:
                return shift(value, days)
            except DateShiftError as exc:
                issues.append(warning("value", f"left unchanged: {exc}", ".".join(path)))
                return value
        if type_code == "xhtml" or (type_code == "markdown" and path[-2:] == ("note", "text")):
            return TEXT_DATE_RE.sub(lambda m: _shift_text(m, days, text_rewrites), value)
        return value

    out = walk_typed(bundle, "Bundle", visit)
    if text_rewrites[0]:
        issues.append(information("informational", f"{text_rewrites[0]} ISO date(s) in narrative or notes "
                                  "moved with the timeline"))
    if params.fresh_ids:
        seed = params.seed or new_seed()
        out = refresh(out, seed)
        issues.append(information("informational", f"fresh ids, fullUrls and identifiers from seed {seed!r}"))
    return TransformResult(out, issues)


def _shift_text(match: re.Match[str], days: int, counter: list[int]) -> str:
    try:
        moved = shift(match.group(1), days)
    except DateShiftError:
        return match.group(0)
    counter[0] += 1
    return moved
