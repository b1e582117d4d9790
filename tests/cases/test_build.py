"""Timeline -> Bundle: deterministic, sourced, dated by relative day, and coded only with verified codes."""
from __future__ import annotations

import csv
import json
import shutil
import textwrap
import uuid
from pathlib import Path

import pytest

from fhir_service.cases.build import NAMESPACE, RESOURCE_IDENTIFIER, build_bundle, build_file, render
from fhir_service.cases.schema import TimelineError, load_timeline_text
from fhir_service.cases.terminology import CODES_CSV, project_codes
from fhir_service.cli import main as cli_main
from tests.cases.conftest import BUNDLES, CART_TOX, RELATIVE_DAY, relative_day, resources

SHARED_CODES = Path("/work/shared/terminology/codes.csv")
TIMELINES = sorted((BUNDLES / "timelines").glob("*.yaml"))

SMALL = """\
case: small-case
title: Small
source: {doi: 10.1234/small, citation: c}
anchor: {infusion_date: 2024-01-01, synthetic: true, reason: relative days only}
patient: {sex: male, age: {value: 67, unit: a}}
infusion: {product: "cart-tox:bpx-601", construct: PSCA CAR-T, target: "cart-tox:psca"}
conditions:
  - {id: crs, kind: crs, key: condition.crs.grade3, text: CRS, grading_system: astct-2019, onset: 13, abatement: 15}
days:
  - day: 13
    vitals:
      - key: vital.bp_panel
        components: [{key: vital.sbp, value: 70, unit: "mm[Hg]"}, {key: vital.dbp, value: 40, unit: "mm[Hg]"}]
    grades: [{toxicity: crs, grade: 3, system: astct-2019, condition: crs}]
    drugs:
      - {agent: medication.dexamethasone, dose: 10, unit: mg, frequency: every six hours, until: 15, reason: crs}
  - when: after emapalumab
    labs: [{key: lab.ferritin, value: 4460, unit: ng/mL}]
"""


def small_bundle() -> dict:
    return build_bundle(load_timeline_text(SMALL))


def test_the_same_timeline_builds_the_same_bytes() -> None:
    assert render(small_bundle()) == render(small_bundle())
    text = render(small_bundle())
    assert text.endswith("}\n") and text.startswith('{\n  "resourceType": "Bundle"')


def test_ids_are_uuid5_of_case_and_event_and_full_urls_match() -> None:
    bundle = small_bundle()
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert len(ids) == len(set(ids))
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    other = build_bundle(load_timeline_text(SMALL.replace("case: small-case", "case: other-case")))
    assert not set(ids) & {e["resource"]["id"] for e in other["entry"]}


def _resource_identifiers(resource: dict) -> list[str]:
    return [i["value"] for i in resource.get("identifier", []) if i["system"] == RESOURCE_IDENTIFIER]


def test_every_resource_has_one_business_identifier_as_stable_as_its_id() -> None:
    """`<case>/<key>`: the id is uuid5 of the same string, so identifier and id change (or not) together."""
    bundle = small_bundle()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        values = _resource_identifiers(resource)
        assert len(values) == 1 and values[0].startswith("small-case/")
        assert resource["id"] == str(uuid.uuid5(NAMESPACE, values[0]))
    patient = next(resources(bundle, "Patient"))
    # the case identifier stays first: clients search Patient?identifier=<base>/case|<case>
    assert patient["identifier"][0] == {"system": "https://fhir.cart-tox.org/case", "value": "small-case"}
    other = build_bundle(load_timeline_text(SMALL.replace("case: small-case", "case: other-case")))
    assert {v for r in resources(other) for v in _resource_identifiers(r)}.isdisjoint(
        {v for r in resources(bundle) for v in _resource_identifiers(r)})


def test_a_day_block_appended_later_leaves_earlier_identifiers_alone() -> None:
    before = {e["resource"]["id"]: _resource_identifiers(e["resource"]) for e in small_bundle()["entry"]}
    appended = SMALL + "  - day: 20\n    labs: [{key: lab.ferritin, value: 1, unit: ng/mL}]\n"
    after = {e["resource"]["id"]: _resource_identifiers(e["resource"])
             for e in build_bundle(load_timeline_text(appended))["entry"]}
    assert all(after[rid] == values for rid, values in before.items())
    assert len(after) == len(before) + 1


def test_committed_bundles_give_every_resource_a_unique_business_identifier(bundles: dict) -> None:
    seen: set[str] = set()
    for case, bundle in bundles.items():
        for resource in resources(bundle):
            values = _resource_identifiers(resource)
            assert len(values) == 1 and values[0].startswith(f"{case}/"), (case, resource["id"])
            assert values[0] not in seen
            seen.add(values[0])
            assert resource["id"] == str(uuid.uuid5(NAMESPACE, values[0]))


def test_every_identifier_system_of_the_bundles_is_declared_by_a_naming_system_of_the_package(bundles: dict) -> None:
    declared = {u["value"] for path in (BUNDLES.parent / "profiles").glob("NamingSystem-*.json")
                for u in json.loads(path.read_text())["uniqueId"]}
    used = {bundle["identifier"]["system"] for bundle in bundles.values()}
    used |= {i["system"] for bundle in bundles.values() for r in resources(bundle) for i in r.get("identifier", [])}
    assert used and used <= declared, used - declared


def test_a_bundle_is_a_collection_naming_its_source() -> None:
    bundle = small_bundle()
    assert bundle["type"] == "collection"
    assert bundle["meta"]["source"] == "https://doi.org/10.1234/small"
    patient = next(resources(bundle, "Patient"))
    assert {"url": "https://fhir.cart-tox.org/StructureDefinition/source-publication", "valueString": "10.1234/small"} in patient["extension"]
    assert patient["meta"]["profile"] == ["https://fhir.cart-tox.org/StructureDefinition/cart-patient"]


def test_dates_are_anchor_plus_day_and_the_day_is_kept() -> None:
    bundle = small_bundle()
    infusion = next(r for r in resources(bundle, "MedicationAdministration") if r["meta"]["profile"][0].endswith("cart-infusion"))
    assert (infusion["effectiveDateTime"], relative_day(infusion)) == ("2024-01-01", 0)
    dexa = next(r for r in resources(bundle, "MedicationAdministration") if "dosage" in r)
    assert dexa["effectivePeriod"]["start"] == "2024-01-14" and dexa["effectivePeriod"]["end"] == "2024-01-16"
    assert relative_day(dexa) == 13
    assert dexa["effectivePeriod"]["_end"]["extension"] == [{"url": RELATIVE_DAY, "valueInteger": 15}]
    assert dexa["dosage"]["dose"] == {"value": 10, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    assert dexa["dosage"]["extension"][0]["valueTiming"] == {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}}


def test_an_event_without_a_day_keeps_the_reports_words_and_gets_no_date() -> None:
    ferritin = next(r for r in resources(small_bundle(), "Observation") if r["code"]["coding"][0]["code"] == "2276-4")
    assert "effectiveDateTime" not in ferritin and relative_day(ferritin) is None
    assert ferritin["note"] == [{"text": "Timing as reported: after emapalumab"}]


def test_two_blocks_of_one_day_get_distinct_ids_and_a_pinned_id_clash_is_reported(tmp_path: Path) -> None:
    twice = SMALL + "  - day: 13\n    labs: [{key: lab.ferritin, value: 1, unit: ng/mL}]\n"
    bundle = build_bundle(load_timeline_text(twice))
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])
    clash = SMALL + "  - day: 14\n    labs: [{id: f, key: lab.ferritin, value: 1, unit: ng/mL}, {id: f, key: lab.ferritin, value: 2, unit: ng/mL}]\n"
    path = tmp_path / "clash.yaml"
    path.write_text(clash)
    with pytest.raises(TimelineError) as caught:
        build_file(path)
    assert "two events share the key 'f'" in str(caught.value)


def test_a_crs_condition_carries_the_grade_of_its_code_as_severity() -> None:
    crs = next(resources(small_bundle(), "Condition"))
    assert crs["severity"]["coding"][0]["code"] == "grade-3"
    assert crs["code"]["coding"][0]["code"] == "D89.833"


def test_the_day_of_death_carries_its_relative_day() -> None:
    timeline = SMALL + "outcome: {status: died, day: 37, text: Died on Day +37.}\n"
    patient = next(resources(build_bundle(load_timeline_text(timeline)), "Patient"))
    assert patient["deceasedDateTime"] == "2024-02-07"
    assert patient["_deceasedDateTime"] == {"extension": [{"url": RELATIVE_DAY, "valueInteger": 37}]}
    undated = SMALL + "outcome: {status: died, text: Died (day not given).}\n"
    patient = next(resources(build_bundle(load_timeline_text(undated)), "Patient"))
    assert patient["deceasedBoolean"] is True and "_deceasedDateTime" not in patient


def test_another_car_t_toxicity_keeps_its_words_and_gets_its_profile_and_category() -> None:
    timeline = SMALL.replace("conditions:\n", "conditions:\n  - {id: fh, kind: other-toxicity, text: Febrile hypotension, onset: 2}\n")
    timeline += "  - day: 2\n    drugs: [{agent: medication.tocilizumab, reason: fh}]\n"
    bundle = build_bundle(load_timeline_text(timeline))
    [condition] = [c for c in resources(bundle, "Condition") if c["code"]["text"] == "Febrile hypotension"]
    assert condition["meta"]["profile"] == ["https://fhir.cart-tox.org/StructureDefinition/cart-other-toxicity"]
    assert condition["category"] == [{"coding": [{"system": CART_TOX, "code": "cart-other-toxicity",
                                                  "display": "CAR-T-associated toxicity not graded as CRS, ICANS or IEC-HS"}]}]
    assert "coding" not in condition["code"]  # not relabelled as CRS
    [toci] = [m for m in resources(bundle, "MedicationAdministration") if relative_day(m) == 2]
    assert toci["reasonReference"] == [{"reference": f"urn:uuid:{condition['id']}"}]


def test_lymphodepletion_drugs_claim_the_lymphodepletion_profile() -> None:
    timeline = SMALL + ("  - day: -5\n    drugs: [{agent: medication.fludarabine, role: lymphodepletion, dose: 30, "
                        "unit: mg/m2, until: -3}]\n")
    [flu] = [m for m in resources(build_bundle(load_timeline_text(timeline)), "MedicationAdministration")
             if relative_day(m) == -5]
    assert flu["meta"]["profile"] == ["https://fhir.cart-tox.org/StructureDefinition/cart-lymphodepletion"]


@pytest.mark.parametrize("path", TIMELINES, ids=lambda p: p.stem)
def test_committed_bundle_equals_a_fresh_build(path: Path) -> None:
    case, text = build_file(path)
    assert path.stem == case, "a timeline file is named after its case id"
    committed = BUNDLES / f"{case}.json"
    assert committed.read_text(encoding="utf-8") == text, f"{committed} is stale: run `fhir-service cases build`"


def test_every_dated_resource_carries_its_relative_day(bundles: dict) -> None:
    for name, bundle in bundles.items():
        for resource in resources(bundle):
            # dates built from the infusion anchor are full dates; a report's own calendar year ("2019") is not
            dates = [resource.get(k) for k in ("effectiveDateTime", "onsetDateTime", "performedDateTime")]
            dates += [(resource.get(k) or {}).get("start") for k in ("effectivePeriod", "performedPeriod", "period")]
            if any(isinstance(d, str) and len(d) == 10 for d in dates):
                assert relative_day(resource) is not None, f"{name}: {resource['resourceType']}/{resource['id']}"


def test_no_unverified_or_unknown_code_reaches_a_bundle(bundles: dict) -> None:
    with CODES_CSV.open(newline="", encoding="utf-8") as handle:
        verified = {(r["system"], r["code"]) for r in csv.DictReader(handle)}
    fhir_internal = ("http://terminology.hl7.org/CodeSystem/", "http://unitsofmeasure.org")
    local = set(project_codes())

    def codings(node):
        if isinstance(node, dict):
            if "system" in node and "code" in node and "valueQuantity" not in node:
                yield node
            for value in node.values():
                yield from codings(value)
        elif isinstance(node, list):
            for value in node:
                yield from codings(value)

    for name, bundle in bundles.items():
        for coding in codings(bundle):
            system, code = coding["system"], coding["code"]
            if system == CART_TOX:
                assert code in local, f"{name}: {code} is not in the project CodeSystem"
            elif not system.startswith(fhir_internal):
                assert (system, code) in verified, f"{name}: {system}|{code} is not a VERIFIED row"


def test_the_committed_codes_copy_holds_only_verified_rows() -> None:
    with CODES_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(r["status"] == "VERIFIED" and r["code"] for r in rows)
    if SHARED_CODES.is_file():  # the copy is exactly the VERIFIED subset of the shared table
        with SHARED_CODES.open(newline="", encoding="utf-8") as handle:
            shared = [r for r in csv.DictReader(handle) if r["status"] == "VERIFIED"]
        assert rows == shared


def test_cases_check_passes_on_the_repository_and_names_a_stale_bundle(tmp_path: Path, capsys) -> None:
    assert cli_main.main(["cases", "check"]) == 0
    shutil.copytree(BUNDLES, tmp_path / "bundles")
    stale = tmp_path / "bundles" / "002-psca-cart-mcrpc.json"
    data = json.loads(stale.read_text())
    data["entry"].pop()
    stale.write_text(json.dumps(data))
    (tmp_path / "bundles" / "orphan.json").write_text("{}")
    capsys.readouterr()
    assert cli_main.main(["cases", "check", "--bundles", str(tmp_path / "bundles")]) == 1
    err = capsys.readouterr().err
    assert "002-psca-cart-mcrpc.json: differs from a fresh build" in err
    assert "orphan.json: no timeline builds it" in err


def test_cases_build_writes_bundles_and_reports_bad_timelines(tmp_path: Path, capsys) -> None:
    good = tmp_path / "small-case.yaml"
    good.write_text(SMALL)
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent(SMALL).replace("unit: ng/mL", "unit: ng/ml").replace("small-case", "bad-case"))
    out = tmp_path / "out"
    assert cli_main.main(["cases", "build", "--out", str(out), str(good), str(bad)]) == 1
    assert (out / "small-case.json").read_text() == render(small_bundle())
    assert not (out / "bad-case.json").exists()
    assert "unknown unit 'ng/ml' (UCUM spelling: 'ng/mL')" in capsys.readouterr().err
    assert cli_main.main(["cases", "build", str(tmp_path / "nope.yaml")]) == 2


def test_cases_build_validate_reports_validation_errors_of_the_built_bundle(tmp_path: Path, capsys) -> None:
    good = tmp_path / "small-case.yaml"
    good.write_text(SMALL)
    assert cli_main.main(["cases", "build", "--validate", "--out", str(tmp_path), str(good)]) == 0
    # a toxicity treatment without a reason breaks the cart-toxicity-treatment profile (reasonReference 1..*)
    good.write_text(SMALL.replace(", until: 15, reason: crs}", ", until: 15}"))
    capsys.readouterr()
    assert cli_main.main(["cases", "build", "--validate", "--out", str(tmp_path), str(good)]) == 1
    assert "small-case.json: error:" in capsys.readouterr().err
