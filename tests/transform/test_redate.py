"""Re-dating: the whole timeline moves to a new Day 0; intervals, relative days and precision are kept."""
from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from fhir_service.rest import FhirRest
from fhir_service.store.sql_repository import SqlRepository
from fhir_service.transform.dates import DATE_TYPES, date_part
from fhir_service.transform.element_types import walk_typed
from fhir_service.transform.params import RedateParams, TransactionParams
from fhir_service.transform.redate import RELATIVE_DAY, infusion_date, transform
from fhir_service.transform.references import references_in
from fhir_service.transform import transaction
from tests.transform.conftest import TIMELINE_NAMES, case_bundle, resources_of

NEW_DAY0 = dt.date(2031, 2, 27)


def dated_values(bundle: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    """(entry index, key path, occurrence) -> value, for every date/dateTime/instant of the Bundle."""
    found: dict[tuple[Any, ...], str] = {}

    def visit(type_code: str, path: tuple[str, ...], value: Any) -> Any:
        if type_code in DATE_TYPES and isinstance(value, str):
            key = path + (sum(1 for k in found if k[:-1] == path),)
            found[key] = value
        return value

    for index, entry in enumerate(bundle.get("entry", [])):
        found_before = dict(found)
        found.clear()
        walk_typed(entry["resource"], entry["resource"]["resourceType"], visit)
        found = {**found_before, **{(index,) + k: v for k, v in found.items()}}
    return found


def relative_days(value: Any) -> list[int]:
    out: list[int] = []
    if isinstance(value, dict):
        if value.get("url") == RELATIVE_DAY:
            out.append(value.get("valueInteger"))
        for item in value.values():
            out.extend(relative_days(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(relative_days(item))
    return out


def test_infusion_date_from_the_cart_infusion_administration() -> None:
    day, source = infusion_date(case_bundle("004-case1-tisacel-emapalumab"))
    assert day == dt.date(2022, 1, 1) and "MedicationAdministration" in source


def test_infusion_date_from_relative_day_when_no_infusion_resource() -> None:
    bundle = case_bundle("004-case1-tisacel-emapalumab")
    bundle["entry"] = [e for e in bundle["entry"]
                       if "cart-infusion" not in json.dumps(e["resource"].get("meta", {}))]
    day, source = infusion_date(bundle)
    assert day == dt.date(2022, 1, 1) and "relative day" in source


def test_every_case_with_an_infusion_is_a_timeline_case() -> None:
    assert len(TIMELINE_NAMES) >= 5 and "003-paediatric-emapalumab-cohort" not in TIMELINE_NAMES


def test_a_bundle_without_any_anchor_is_refused() -> None:
    result = transform(case_bundle("003-paediatric-emapalumab-cohort"), RedateParams(NEW_DAY0))
    assert result.bundle is None and result.issues[0].code == "not-found"


def test_every_interval_between_dated_events_is_unchanged(timeline_case: dict[str, Any]) -> None:
    any_case = timeline_case
    result = transform(any_case, RedateParams(NEW_DAY0))
    assert result.ok, result.issues
    before, after = dated_values(any_case), dated_values(result.bundle)
    assert before.keys() == after.keys() and before
    full = [k for k, v in before.items() if date_part(v)]
    assert full
    for a, b in itertools.combinations(full, 2):
        assert date_part(after[a]) - date_part(after[b]) == date_part(before[a]) - date_part(before[b])
    assert infusion_date(result.bundle)[0] == NEW_DAY0


def test_relative_days_unchanged_and_precision_kept(timeline_case: dict[str, Any]) -> None:
    any_case = timeline_case
    result = transform(any_case, RedateParams(NEW_DAY0))
    assert relative_days(result.bundle) == relative_days(any_case)
    before, after = dated_values(any_case), dated_values(result.bundle)
    for key, value in before.items():
        assert len(after[key]) == len(value)  # a date stays a date, a year stays a year
        assert after[key][10:] == value[10:]  # time and offset as written


def test_partial_dates_move_with_the_timeline() -> None:
    bundle = case_bundle("002-psca-cart-mcrpc")
    day0 = infusion_date(bundle)[0]
    years = {k: v for k, v in dated_values(bundle).items() if len(v) == 4}
    assert years  # the report gives the diagnosis year only
    moved = dated_values(transform(bundle, RedateParams(day0 + dt.timedelta(days=3 * 365))).bundle)
    assert all(int(moved[k]) == int(v) + 3 for k, v in years.items())
    unmoved = dated_values(transform(bundle, RedateParams(day0 + dt.timedelta(days=5))).bundle)
    assert all(unmoved[k] == v for k, v in years.items())


def _patient_with_birth_date() -> dict[str, Any]:
    bundle = case_bundle("004-case1-tisacel-emapalumab")
    resources_of(bundle, "Patient")[0]["birthDate"] = "2005-06-30"
    return bundle


def test_birth_date_moves_so_age_at_infusion_is_kept() -> None:
    result = transform(_patient_with_birth_date(), RedateParams(dt.date(2022, 1, 11)))
    assert resources_of(result.bundle, "Patient")[0]["birthDate"] == "2005-07-10"


def test_keep_birthdate_leaves_it() -> None:
    result = transform(_patient_with_birth_date(), RedateParams(dt.date(2022, 1, 11), keep_birthdate=True))
    assert resources_of(result.bundle, "Patient")[0]["birthDate"] == "2005-06-30"


def test_look_alikes_and_record_keeping_dates_are_not_touched() -> None:
    bundle = case_bundle("004-case1-tisacel-emapalumab")
    bundle["timestamp"] = "2025-01-01T00:00:00Z"
    observation = resources_of(bundle, "Observation")[0]
    observation["meta"] = {"lastUpdated": "2025-01-01T00:00:00Z"}
    observation.pop("valueQuantity", None)
    for key in [k for k in observation if k.startswith("value")]:
        del observation[key]
    observation["valueString"] = "2022-01-01"
    result = transform(bundle, RedateParams(dt.date(2022, 1, 11)))
    moved = resources_of(result.bundle, "Observation")[0]
    assert moved["valueString"] == "2022-01-01"
    assert moved["meta"]["lastUpdated"] == "2025-01-01T00:00:00Z"
    assert result.bundle["timestamp"] == "2025-01-01T00:00:00Z"


def test_the_synthetic_anchor_sentence_follows_the_new_day0() -> None:
    result = transform(case_bundle("004-case1-tisacel-emapalumab"), RedateParams(dt.date(2030, 5, 6)))
    text = json.dumps(result.bundle)
    assert "anchored on 2030-05-06" in text and "anchored on 2022-01-01" not in text


def test_fresh_ids_rewrite_ids_fullurls_identifiers_and_references_consistently() -> None:
    case = case_bundle("004-case1-tisacel-emapalumab")
    result = transform(case, RedateParams(NEW_DAY0, fresh_ids=True, seed="demo"))
    out = result.bundle
    old_ids = {e["resource"]["id"] for e in case["entry"]}
    new_ids = {e["resource"]["id"] for e in out["entry"]}
    assert not old_ids & new_ids and len(new_ids) == len(old_ids)
    urls = {e["fullUrl"] for e in out["entry"]}
    assert all(e["fullUrl"] == "urn:uuid:" + e["resource"]["id"] for e in out["entry"])
    for entry in out["entry"]:
        assert all(r in urls for r in references_in(entry["resource"]) if r.startswith("urn:"))
    patient_value = resources_of(out, "Patient")[0]["identifier"][0]["value"]
    assert patient_value.startswith("004-case1-tisacel-emapalumab~") and out["identifier"]["value"] == patient_value
    again = transform(case, RedateParams(NEW_DAY0, fresh_ids=True, seed="demo")).bundle
    assert again == out  # same seed, same output
    other = transform(case, RedateParams(NEW_DAY0, fresh_ids=True, seed="other")).bundle
    assert {e["resource"]["id"] for e in other["entry"]}.isdisjoint(new_ids)


def test_without_fresh_ids_identity_is_kept() -> None:
    case = case_bundle("004-case1-tisacel-emapalumab")
    out = transform(case, RedateParams(NEW_DAY0)).bundle
    assert [e["fullUrl"] for e in out["entry"]] == [e["fullUrl"] for e in case["entry"]]


def test_a_fresh_copy_loads_as_a_distinct_patient(tmp_path: Path) -> None:
    case = case_bundle("004-case1-tisacel-emapalumab")
    copy = transform(case, RedateParams(NEW_DAY0, fresh_ids=True, seed="second")).bundle
    redated_only = transform(case, RedateParams(NEW_DAY0)).bundle
    repo = SqlRepository(f"sqlite:///{tmp_path / 'fhir.sqlite3'}")
    try:
        rest = FhirRest(repo)
        headers = {"Content-Type": "application/fhir+json"}

        def load(bundle: dict[str, Any]) -> None:
            tx = transaction.transform(bundle, TransactionParams()).bundle
            assert rest.handle("POST", "", "", headers, json.dumps(tx).encode()).status == 200

        def count(resource_type: str) -> int:
            return rest.handle("GET", f"/{resource_type}", "_summary=count", {}, b"").body["total"]

        observations = sum(1 for e in case["entry"] if e["resource"]["resourceType"] == "Observation")
        load(case)
        load(redated_only)  # same identifiers: every conditional create matches, nothing new is created
        assert count("Patient") == 1 and count("Observation") == observations
        load(copy)
        assert count("Patient") == 2 and count("Observation") == 2 * observations
    finally:
        repo.close()


def test_not_a_bundle_is_refused() -> None:
    assert transform([], RedateParams(NEW_DAY0)).issues[0].code == "structure"  # type: ignore[arg-type]


def test_relative_days_still_agree_with_the_dates(timeline_case: dict[str, Any]) -> None:
    """Day N stays N days after the (new) Day 0 for every resource whose date agreed with it before."""
    from fhir_service.transform.redate import _first_full_date, _relative_day

    def agreeing(bundle: dict[str, Any]) -> set[str]:
        day0 = infusion_date(bundle)[0]
        out = set()
        for entry in bundle["entry"]:
            resource = entry["resource"]
            relative, day = _relative_day(resource), _first_full_date(resource)
            if relative is not None and day is not None and (day - day0).days == relative:
                out.add(entry["fullUrl"])
        return out

    before = agreeing(timeline_case)
    assert before
    assert agreeing(transform(timeline_case, RedateParams(NEW_DAY0)).bundle) == before
