"""The `profiles/` folder is a loadable FHIR NPM package whose resources are consistent with each other, with
the naming contract (one canonical base) and with the VERIFIED rows of the terminology table."""
from __future__ import annotations

import json
import re
import sys
from typing import Any, Iterator

import fhirpathpy
import pytest
from fhirpathpy.models import models

from fhir_service import fhirpath
from fhir_service.definitions import Definitions, FhirPackage
from tests.profiles.conftest import (CANONICAL, CART_TOX, PROFILES, REPO, SHARED_CODES, VERIFIED_COPY,
                                     read_verified)

UCUM = "http://unitsofmeasure.org"
REQUIRED_PROFILES = ["cart-patient", "cart-infusion", "cart-toxicity-treatment", "cart-crs", "cart-icans",
                     "cart-iec-hs", "cart-malignancy", "cart-lab-observation", "cart-vital-sign",
                     "cart-toxicity-grade", "cart-response-assessment", "cart-cohort-observation", "cart-cohort",
                     "cart-other-toxicity"]
REQUIRED_EXTENSIONS = ["relative-day", "source-publication", "age-at-infusion", "car-construct", "target-antigen",
                       "grading-system"]
KIND_PATH = {"StructureDefinition": "StructureDefinition", "ValueSet": "ValueSet", "CodeSystem": "CodeSystem",
             "SearchParameter": "SearchParameter"}


def structure_definitions(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == "StructureDefinition"]


def elements(sd: dict[str, Any]) -> list[dict[str, Any]]:
    return sd.get("differential", {}).get("element", [])


# -- the package ---------------------------------------------------------------------------------------
def test_package_manifest_follows_the_naming_contract(package: FhirPackage) -> None:
    assert package.name == "org.cart-tox.fhir"
    assert package.version == "0.1.0"
    assert package.canonical == CANONICAL
    assert package.manifest["fhirVersions"] == ["4.0.1"]
    assert package.manifest["dependencies"] == {"hl7.fhir.r4.core": "4.0.1"}


def test_index_lists_every_resource_file_exactly(package: FhirPackage) -> None:
    on_disk = {p.name for p in PROFILES.glob("*.json") if p.name not in ("package.json", ".index.json")}
    assert {e.filename for e in package.entries} == on_disk
    for entry in package.entries:
        resource = json.loads((PROFILES / entry.filename).read_text())
        assert (entry.resource_type, entry.id, entry.url) == (resource["resourceType"], resource["id"],
                                                               resource.get("url"))
        assert entry.filename == f"{resource['resourceType']}-{resource['id']}.json"


def test_package_holds_the_required_profiles_and_extensions(by_url: dict[str, Any]) -> None:
    for rid in REQUIRED_PROFILES + REQUIRED_EXTENSIONS:
        assert f"{CANONICAL}/StructureDefinition/{rid}" in by_url, rid
    assert f"{CANONICAL}/CodeSystem/cart-tox" in by_url
    for rid in ("toxicity-drugs", "crs-condition-codes", "icans-condition-codes", "toxicity-lab-codes",
                "astct-grades", "dose-units"):
        assert f"{CANONICAL}/ValueSet/{rid}" in by_url, rid
    for rid in ("relative-day", "grade"):
        assert f"{CANONICAL}/SearchParameter/{rid}" in by_url, rid


def test_every_canonical_resource_uses_the_one_canonical_base(resources: list[dict[str, Any]]) -> None:
    for r in resources:
        assert r["url"] == f"{CANONICAL}/{KIND_PATH[r['resourceType']]}/{r['id']}"
        assert r["version"] == "0.1.0" and r["status"] == "draft"
        assert r.get("name") and r.get("description"), r["id"]


def test_definitions_resolve_every_resource_by_url(profile_definitions: Definitions,
                                                   resources: list[dict[str, Any]]) -> None:
    for r in resources:
        assert profile_definitions.resolve(r["url"]) == r
        assert profile_definitions.resolve(f"{r['url']}|0.1.0") == r


def test_the_package_is_in_sync_with_its_authoring_source() -> None:
    sys.path.insert(0, str(REPO / "tools" / "profiles_src"))
    try:
        import build  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    assert build.check(PROFILES) == []


def test_every_structure_definition_carries_its_generated_snapshot(resources: list[dict[str, Any]]) -> None:
    from fhir_service.definitions.build import check_package

    for sd in structure_definitions(resources):
        snapshot_ids = [e["id"] for e in sd["snapshot"]["element"]]
        assert {e["id"] for e in elements(sd)} <= set(snapshot_ids), sd["id"]
    assert check_package(PROFILES) == []


# -- StructureDefinitions ------------------------------------------------------------------------------
def test_structure_definitions_constrain_an_r4_core_type(profile_definitions: Definitions,
                                                         resources: list[dict[str, Any]]) -> None:
    for sd in structure_definitions(resources):
        assert sd["fhirVersion"] == "4.0.1" and sd["derivation"] == "constraint"
        assert sd["baseDefinition"] == "http://hl7.org/fhir/StructureDefinition/" + sd["type"]
        assert profile_definitions.resolve(sd["baseDefinition"]) is not None
        diff = elements(sd)
        assert diff and diff[0]["id"] == sd["type"], sd["id"]
        ids = [e["id"] for e in diff]
        assert len(ids) == len(set(ids)), sd["id"]
        for e in diff:
            assert e["path"] == re.sub(r":[^.]+", "", e["id"]) and e["path"].split(".")[0] == sd["type"]


def path_exists(definitions: Definitions, type_name: str, path: str) -> bool:
    """Whether `path` (relative to `type_name`) names an element, walking into complex data types."""
    sd = definitions.resolve("http://hl7.org/fhir/StructureDefinition/" + type_name)
    snapshot = {e["path"]: e for e in sd["snapshot"]["element"]}
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join([type_name, *parts[:n]])
        if prefix in snapshot:
            if n == len(parts):
                return True
            return any(path_exists(definitions, t["code"], ".".join(parts[n:])) for t in snapshot[prefix]["type"])
    return False


def test_differential_paths_exist_in_the_base_type(profile_definitions: Definitions,
                                                   resources: list[dict[str, Any]]) -> None:
    """Every path is an element of the base type, or of the data types under it (e.g. dosage.dose.system)."""
    for sd in structure_definitions(resources):
        for e in elements(sd)[1:]:
            assert path_exists(profile_definitions, sd["type"], e["path"].split(".", 1)[1]), f"{sd['id']}: {e['path']}"
    assert not path_exists(profile_definitions, "Observation", "code.coding.sytem")


def test_extension_definitions_say_where_they_may_be_used(profile_definitions: Definitions,
                                                          resources: list[dict[str, Any]]) -> None:
    core_types = profile_definitions.resource_types | {"Period", "Element"}
    for sd in structure_definitions(resources):
        if sd["type"] != "Extension":
            assert "context" not in sd
            continue
        assert sd["kind"] == "complex-type" and sd["context"], sd["id"]
        for context in sd["context"]:
            assert context["type"] == "element"
            assert context["expression"].split(".")[0] in core_types, context
        url_el = next(e for e in elements(sd) if e["id"] == "Extension.url")
        assert url_el["fixedUri"] == sd["url"]
        value = next(e for e in elements(sd) if e["id"] == "Extension.value[x]")
        assert value["min"] == 1 and value["type"]


def test_profiles_use_extensions_only_where_their_context_allows(by_url: dict[str, Any]) -> None:
    for sd in by_url.values():
        if sd["resourceType"] != "StructureDefinition" or sd["type"] == "Extension":
            continue
        for e in elements(sd):
            for t in e.get("type", []):
                for url in t.get("profile", []):
                    ext = by_url[url]
                    assert ext["type"] == "Extension", url
                    owner = e["path"].rsplit(".extension", 1)[0]
                    contexts = {c["expression"] for c in ext["context"]}
                    assert owner in contexts, f"{sd['id']} uses {url} on {owner}, context {contexts}"


def test_every_referenced_profile_and_value_set_exists(profile_definitions: Definitions,
                                                      resources: list[dict[str, Any]]) -> None:
    for sd in structure_definitions(resources):
        for e in elements(sd):
            if "binding" in e:
                vs = e["binding"]["valueSet"]
                assert profile_definitions.value_set(vs) is not None, f"{sd['id']} {e['id']}: {vs}"
                assert e["binding"]["strength"] in ("required", "extensible", "preferred", "example")
            for t in e.get("type", []):
                for url in t.get("profile", []) + t.get("targetProfile", []):
                    assert profile_definitions.resolve(url) is not None, f"{sd['id']} {e['id']}: {url}"


def invariants(resources: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for sd in structure_definitions(resources):
        for e in elements(sd):
            for c in e.get("constraint", []):
                yield sd["id"], c


def test_invariants_are_well_formed_and_compile(resources: list[dict[str, Any]]) -> None:
    found = list(invariants(resources))
    assert len(found) >= 15
    for sd_id, c in found:
        assert re.fullmatch(r"cart-\d+", c["key"]), c
        assert c["severity"] in ("error", "warning") and c["human"] and c["source"].endswith(sd_id)
        fhirpath.compile(c["expression"])  # raises FhirPathError when it does not parse
        fhirpathpy.compile(c["expression"], models["r4"])  # and plain fhirpathpy with its R4 model


def test_an_invariant_key_means_one_rule(resources: list[dict[str, Any]]) -> None:
    """A key reused across profiles (cart-2, cart-7, cart-9) carries the same human rule everywhere."""
    meaning: dict[str, set[str]] = {}
    for _, c in invariants(resources):
        meaning.setdefault(c["key"], set()).add(c["human"].split(" (relative-day on")[0])
    assert {k: v for k, v in meaning.items() if len(v) > 1} == {}


def test_search_parameters_are_well_formed(profile_definitions: Definitions,
                                           resources: list[dict[str, Any]]) -> None:
    params = [r for r in resources if r["resourceType"] == "SearchParameter"]
    for sp in params:
        assert sp["code"] == sp["id"] and sp["type"] in ("number", "token", "string", "date", "reference")
        assert all(b in profile_definitions.resource_types for b in sp["base"]), sp["base"]
        fhirpath.compile(sp["expression"])
        fhirpathpy.compile(sp["expression"], models["r4"])
    by_code = {sp["code"]: sp for sp in params}
    assert by_code["relative-day"]["type"] == "number"
    assert set(by_code["relative-day"]["base"]) >= {"Observation", "Condition", "MedicationAdministration",
                                                    "Procedure"}
    assert by_code["grade"]["type"] in ("number", "token") and by_code["grade"]["base"] == ["Observation"]


def test_search_parameters_extract_the_extension_values(by_url: dict[str, Any]) -> None:
    day = {"url": f"{CANONICAL}/StructureDefinition/relative-day", "valueInteger": -5}
    obs = {"resourceType": "Observation", "extension": [day], "valueInteger": 3,
           "code": {"coding": [{"system": CART_TOX, "code": "crs-grade-astct"}]}}
    cond = {"resourceType": "Condition", "extension": [day], "abatementDateTime": "2020-01-01",
            "_abatementDateTime": {"extension": [dict(day, valueInteger=4)]}}
    sp = lambda rid: by_url[f"{CANONICAL}/SearchParameter/{rid}"]["expression"]  # noqa: E731
    assert fhirpath.evaluate(obs, sp("relative-day")) == [-5]
    assert fhirpath.evaluate(cond, sp("relative-day")) == [-5]
    assert fhirpath.evaluate(cond, sp("relative-day-end")) == [4]
    assert fhirpath.evaluate(obs, sp("grade")) == [3]
    lab = dict(obs, code={"coding": [{"system": "http://loinc.org", "code": "2276-4"}]}, valueInteger=3)
    assert fhirpath.evaluate(lab, sp("grade")) == []


# -- terminology ---------------------------------------------------------------------------------------
def _codings(node: Any) -> Iterator[tuple[str, str]]:
    """Every (system, code) in fixed/pattern values of an element (Coding, CodeableConcept)."""
    if isinstance(node, dict):
        if "system" in node and "code" in node and isinstance(node["code"], str):
            yield node["system"], node["code"]
        for value in node.values():
            yield from _codings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _codings(value)


def used_codes(resources: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(system, code) pairs the package uses: ValueSet composes, fixed/pattern values, fixed codes of
    system-sliced codings, and the codes named in invariants and search expressions."""
    used: set[tuple[str, str]] = set()
    for r in resources:
        if r["resourceType"] == "ValueSet":
            for include in r["compose"]["include"]:
                assert "filter" not in include and "valueSet" not in include, r["id"]
                used |= {(include["system"], c["code"]) for c in include["concept"]}
        if r["resourceType"] == "StructureDefinition":
            diff = elements(r)
            for e in diff:
                for key, value in e.items():
                    if key.startswith(("fixed", "pattern")) and isinstance(value, (dict, list)):
                        used |= set(_codings(value))
                if e["id"].endswith(".code") and "fixedCode" in e:
                    system = next(x["fixedUri"] for x in diff if x["id"] == e["id"][:-5] + ".system")
                    used.add((system, e["fixedCode"]))
                for c in e.get("constraint", []):
                    used |= expression_codes(c["expression"])
        if r["resourceType"] == "SearchParameter":
            used |= expression_codes(r["expression"])
    return used


def expression_codes(expression: str) -> set[tuple[str, str]]:
    """Codes compared with a system in a FHIRPath expression: `system = 'S' and (code = 'C' or ...)`."""
    found = set()
    for match in re.finditer(r"system = '([^']+)' and \(?((?:code = '[^']+'(?: or )?)+)", expression):
        for code in re.findall(r"code = '([^']+)'", match.group(2)):
            found.add((match.group(1), code))
    return found


def test_external_codes_are_verified_rows_of_the_terminology_table(resources: list[dict[str, Any]],
                                                                  verified: set[tuple[str, str]]) -> None:
    external = {(s, c) for s, c in used_codes(resources) if s not in (CART_TOX, UCUM)}
    assert len(external) > 60
    assert sorted(external - verified) == []


def test_codes_of_the_project_system_are_defined_in_it(resources: list[dict[str, Any]],
                                                       by_url: dict[str, Any]) -> None:
    defined = {c["code"] for group in by_url[CART_TOX]["concept"] for c in [group, *group.get("concept", [])]}
    local = {c for s, c in used_codes(resources) if s == CART_TOX}
    assert len(local) > 50
    assert sorted(local - defined) == []


def test_expression_code_scan_sees_codes_in_invariants() -> None:
    """Guards the scan above: it must find the codes an invariant names, or the two checks above prove nothing."""
    expr = "code.coding.where(system = 'http://loinc.org' and (code = '8310-5' or code = 'x')).exists()"
    assert expression_codes(expr) == {("http://loinc.org", "8310-5"), ("http://loinc.org", "x")}


def test_the_committed_verified_copy_matches_the_shared_table() -> None:
    if not SHARED_CODES.exists():
        pytest.skip("shared/terminology/codes.csv not on this machine; the committed copy stands alone")
    assert read_verified(VERIFIED_COPY) == read_verified(SHARED_CODES)


def test_code_system_is_complete_with_a_definition_per_concept(by_url: dict[str, Any]) -> None:
    cs = by_url[CART_TOX]
    assert cs["content"] == "complete" and cs["caseSensitive"] is True
    flat = [c for group in cs["concept"] for c in [group, *group.get("concept", [])]]
    codes = [c["code"] for c in flat]
    assert len(codes) == len(set(codes)) == cs["count"]
    assert all(c.get("display") and c.get("definition") for c in flat)
    for required in ("ice-score", "crs-grade-astct", "icans-grade-astct", "iec-hs-grade", "cart-cells-blood",
                     "cart-pct-t-cells", "cart-vcn", "mrd-flow", "iec-hs", "tisagenlecleucel", "astct-2019",
                     "grade-1", "grade-5", "p-value", "emapalumab"):
        assert required in codes, required
    grades = {c["code"]: c["property"][0]["valueInteger"] for c in flat if re.fullmatch(r"grade-\d", c["code"])}
    assert grades == {f"grade-{n}": n for n in range(1, 6)}


def test_dose_units_include_weight_and_surface_based_doses(by_url: dict[str, Any]) -> None:
    vs = by_url[f"{CANONICAL}/ValueSet/dose-units"]
    (include,) = vs["compose"]["include"]
    assert include["system"] == UCUM
    assert {"mg", "mg/kg", "mg/m2", "ug/kg", "g", "mL"} <= {c["code"] for c in include["concept"]}


def test_condition_value_sets_hold_only_billable_graded_codes(by_url: dict[str, Any]) -> None:
    def codes(rid: str) -> set[str]:
        vs = by_url[f"{CANONICAL}/ValueSet/{rid}"]
        return {c["code"] for i in vs["compose"]["include"] for c in i["concept"]}
    assert codes("crs-condition-codes") == {"D89.831", "D89.832", "D89.833", "D89.834", "D89.835", "D89.839"}
    assert codes("icans-condition-codes") == {"G92.00", "G92.01", "G92.02", "G92.03", "G92.04", "G92.05"}
    assert "D89.83" not in codes("toxicity-condition-codes") and "G92.0" not in codes("toxicity-condition-codes")
