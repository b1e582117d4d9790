"""The oracle for client tests: what the case bundles in bundles/ publish, read straight from the JSON files.

The tests compare what third-party FHIR clients receive from the server with what these files hold, computed
here without any server code (plain dict walking), so a server that loses, invents or mangles data fails.
References inside the bundles are `urn:uuid:<id>` fullUrls; after loading they read `<Type>/<id>`, which
`rewrite_references` reproduces.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

BUNDLES_DIR = Path(__file__).resolve().parents[2] / "bundles"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
FERRITIN = "2276-4"  # Ferritin [Mass/volume] in Serum or Plasma
CRP = "1988-5"  # C reactive protein [Mass/volume] in Serum or Plasma
CRS_GRADE_2 = "D89.832"  # Cytokine release syndrome, grade 2 (ICD-10-CM)
CRS_GRADE_4 = "D89.834"  # Cytokine release syndrome, grade 4 (ICD-10-CM)
CRS_GRADE_5 = "D89.835"  # Cytokine release syndrome, grade 5: no case report has it

# Case 3 of the 2022 CD22 CAR-T / etoposide report (bundles/004-case3-cd22-etoposide.json).
CASE3_PATIENT = "133468bc-8f6a-5ef9-9a20-07453a53caaf"
# The PSCA CAR-T (BPX-601) mCRPC case (bundles/002-psca-cart-mcrpc.json).
PSCA_PATIENT = "875dd9dd-eea2-5e2f-b883-c76a57947cf5"


def bundle_files() -> list[Path]:
    return sorted(BUNDLES_DIR.glob("*.json"))


@functools.lru_cache(maxsize=1)
def _resources() -> tuple[dict[str, Any], ...]:
    found: list[dict[str, Any]] = []
    for path in bundle_files():
        bundle = json.loads(path.read_text(encoding="utf-8"))
        full_urls = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
                     for e in bundle.get("entry", []) if "fullUrl" in e and "resource" in e}
        for entry in bundle.get("entry", []):
            if "resource" in entry:
                found.append(rewrite_references(entry["resource"], full_urls))
    return tuple(found)


def rewrite_references(value: Any, full_urls: dict[str, str]) -> Any:
    """A copy of `value` with every Reference.reference that names a bundle fullUrl pointed at `Type/id`."""
    if isinstance(value, dict):
        return {k: (full_urls.get(v, v) if k == "reference" and isinstance(v, str) else
                    rewrite_references(v, full_urls)) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite_references(v, full_urls) for v in value]
    return value


def resources(resource_type: str | None = None) -> list[dict[str, Any]]:
    return [r for r in _resources() if resource_type is None or r["resourceType"] == resource_type]


def by_id(resource_type: str, id: str) -> dict[str, Any]:
    return next(r for r in resources(resource_type) if r["id"] == id)


def ids(items: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in items}


def codings(resource: dict[str, Any], element: str = "code") -> list[tuple[str, str]]:
    concept = resource.get(element) or {}
    return [(c.get("system", ""), c.get("code", "")) for c in concept.get("coding", [])]


def subject_of(resource: dict[str, Any]) -> str | None:
    return (resource.get("subject") or resource.get("patient") or {}).get("reference")


def with_code(resource_type: str, system: str, code: str, patient: str | None = None,
              element: str = "code") -> list[dict[str, Any]]:
    return [r for r in resources(resource_type) if (system, code) in codings(r, element)
            and (patient is None or subject_of(r) == f"Patient/{patient}")]


def of_patient(resource_type: str, patient: str) -> list[dict[str, Any]]:
    return [r for r in resources(resource_type) if subject_of(r) == f"Patient/{patient}"]


@dataclass(frozen=True)
class DayRange:
    """The days a FHIR date/dateTime/Period covers (inclusive), as ISO strings; None = unbounded."""

    low: str | None
    high: str | None


def _days(value: str) -> DayRange:
    day = value[:10]
    if len(day) == 4:
        return DayRange(f"{day}-01-01", f"{day}-12-31")
    if len(day) == 7:
        return DayRange(f"{day}-01", f"{day}-31")  # string order: every day of the month sorts below -31
    return DayRange(day, day)


def effective_days(resource: dict[str, Any]) -> DayRange | None:
    if isinstance(resource.get("effectiveDateTime"), str):
        return _days(resource["effectiveDateTime"])
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and ("start" in period or "end" in period):
        return DayRange(_days(period["start"]).low if "start" in period else None,
                        _days(period["end"]).high if "end" in period else None)
    return None


def effective_between(resource_type: str, ge: str, lt: str) -> list[dict[str, Any]]:
    """`date=geGE&date=ltLT` by the FHIR rule: the resource's range reaches at or above GE and below LT."""
    found = []
    for r in resources(resource_type):
        days = effective_days(r)
        if days is None:
            continue
        if (days.high is None or days.high >= ge) and (days.low is None or days.low < lt):
            found.append(r)
    return found


def without_primitive_extensions(value: Any) -> Any:
    """`value` without `_element` keys (extensions on primitives), which fhirclient's models accept and drop."""
    if isinstance(value, dict):
        return {k: without_primitive_extensions(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [without_primitive_extensions(v) for v in value]
    return value


def without_server_meta(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without meta.versionId/lastUpdated (which the server sets), meta dropped if then empty."""
    copy = dict(resource)
    meta = {k: v for k, v in (copy.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    if meta:
        copy["meta"] = meta
    else:
        copy.pop("meta", None)
    return copy
