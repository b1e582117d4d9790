"""Each published case: the key facts of the report are in its Bundle (values with units and days, doses, grades,
outcome), read back from the committed bundles/<case>.json."""
from __future__ import annotations

import pytest

from tests.cases.conftest import (administrations, conditions, dose, grade_on, has_code, notes, observations, quantity,
                                  relative_day, resources)

CRS_ASTCT, ICANS_ASTCT, CRS_ANY, ICANS_ANY = "crs-grade-astct", "icans-grade-astct", "crs-grade", "icans-grade"


def case(bundles: dict, name: str) -> dict:
    assert name in bundles, f"bundles/{name}.json is missing"
    return bundles[name]


def patient(bundle: dict) -> dict:
    return next(resources(bundle, "Patient"))


def age(bundle: dict) -> dict:
    ext = next(e for e in patient(bundle)["extension"] if e["url"].endswith("age-at-infusion"))
    return ext["valueAge"]


def doi(bundle: dict) -> str:
    subject = next(resources(bundle, "Patient"), None) or next(resources(bundle, "Group"))
    return next(e["valueString"] for e in subject["extension"] if e["url"].endswith("source-publication"))


def reasons(bundle: dict, resource: dict) -> list[str]:
    """The code texts of the Conditions a resource's reasonReference points at, in order."""
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    return [by_url[r["reference"]]["code"].get("text", "") for r in resource.get("reasonReference", [])]


def profile(resource: dict) -> str:
    return resource.get("meta", {}).get("profile", [""])[0].rsplit("/", 1)[-1]


def infusion(bundle: dict) -> dict:
    return next(r for r in resources(bundle, "MedicationAdministration")
                if r.get("meta", {}).get("profile", [""])[0].endswith("cart-infusion"))


# -- 000: adult B-ALL, brexu-cel, IEC-HS, emapalumab (abstract only) ------------------------------------------
def test_000_brexucel_emapalumab_day_11_recovery_by_day_21(bundles: dict) -> None:
    b = case(bundles, "000-brexucel-b-all-iec-hs")
    assert doi(b) == "10.3389/fimmu.2025.1563736"
    assert patient(b)["gender"] == "unknown"  # the abstract gives no sex
    # "adult" is no number: no age-at-infusion (cart-14 only warns), the word stays in the narrative
    assert not [e for e in patient(b)["extension"] if e["url"].endswith("age-at-infusion")]
    assert "Age as reported: adult." in patient(b)["text"]["div"]
    assert has_code(infusion(b)["medicationCodeableConcept"], "brexucabtagene-autoleucel")
    assert relative_day(infusion(b)) == 0
    emapalumab = administrations(b, "emapalumab")
    assert [relative_day(a) for a in emapalumab] == [11]
    assert "dosage" not in emapalumab[0]  # no dose in the abstract: none invented
    # "the role of emapalumab in managing refractory IEC-HS and persistent neurotoxicity"
    assert [t.split(" (")[0] for t in reasons(b, emapalumab[0])] == [
        "Immune effector cell-associated HLH-like syndrome", "Refractory neurotoxicity"]
    for rxcui in ("612865", "72435", "1535218", "1193326"):  # tocilizumab, anakinra, siltuximab, ruxolitinib
        [given] = administrations(b, rxcui)
        assert given["effectivePeriod"]["extension"][0]["valueCode"] == "unknown"  # day not given
        assert len(given["reasonReference"]) == 3  # the course of CRS, neurotoxicity and IEC-HS as a whole
        assert "the abstract gives no indication per drug" in notes(given)
    iec_hs = conditions(b, "iec-hs")[0]
    icans = conditions(b, "G92.00")[0]
    # "normalization of the biochemical parameters ... by day +21" dates the labs, not the recovery from IEC-HS
    assert "abatementDateTime" not in iec_hs and "day of recovery not given" in iec_hs["abatementString"]
    assert icans["_abatementDateTime"]["extension"][0]["valueInteger"] == 21  # "full neurological recovery by day +21"
    assert [p["code"]["text"] for p in resources(b, "Procedure")] == ["Allogeneic stem cell transplantation"]
    assert not list(resources(b, "Observation"))  # the abstract states no measured value


# -- 001 + 002: PSCA CAR-T (BPX-601) for mCRPC, day by day ----------------------------------------------------
@pytest.fixture
def psca(bundles: dict) -> dict:
    return case(bundles, "002-psca-cart-mcrpc")


def test_002_patient_product_and_lymphodepletion(psca: dict) -> None:
    assert doi(psca) == "10.3389/fonc.2025.1543622"
    assert patient(psca)["gender"] == "male" and age(psca)["value"] == 67 and age(psca)["code"] == "a"
    inf = infusion(psca)
    assert has_code(inf["medicationCodeableConcept"], "bpx-601")
    assert any(has_code(e.get("valueCodeableConcept"), "psca") for e in inf["extension"])
    [flu] = administrations(psca, "24698", -5)
    [cy] = administrations(psca, "3002", -5)
    assert dose(flu) == (30, "mg/m2") and dose(cy) == (500, "mg/m2")
    assert flu["effectivePeriod"]["_end"]["extension"][0]["valueInteger"] == -3


def test_002_crs_grades_by_day_astct(psca: dict) -> None:
    expected = {1: [1], 2: [2], 3: [2], 13: [3], 19: [3], 21: [4]}
    for day, grades in expected.items():
        assert grade_on(psca, CRS_ASTCT, day) == grades, f"Day +{day}"
    crs = conditions(psca, "D89.834")[0]
    assert relative_day(crs) == 19 and crs["severity"]["coding"][0]["code"] == "grade-4"


def test_002_crs_treatment_doses_and_days(psca: dict) -> None:
    [toci] = administrations(psca, "612865", 2)
    assert dose(toci) == (8, "mg/kg")
    assert len(administrations(psca, "612865")) == 4  # Day +2, Day +3 (2nd+3rd), Day +13 (4th), Day +19 (5th)
    assert dose(administrations(psca, "3264", 3)[0]) == (10, "mg")
    [silt] = administrations(psca, "1535218", 21)
    assert dose(silt) == (11, "mg/kg")
    [mp] = administrations(psca, "6902", 21)
    assert dose(mp) == (1, "g") and mp["dosage"]["extension"][0]["valueTiming"]["repeat"] == {"frequency": 2, "period": 1, "periodUnit": "d"}
    [anakinra] = administrations(psca, "72435", 21)
    assert dose(anakinra) == (200, "mg") and anakinra["dosage"]["extension"][0]["valueTiming"]["repeat"]["period"] == 6
    [rux] = administrations(psca, "1193326", 21)
    assert dose(rux) == (10, "mg")
    first, second = sorted(administrations(psca, "emapalumab"), key=relative_day)
    assert (relative_day(first), dose(first)) == (24, (1, "mg/kg"))
    assert relative_day(second) == 27 and "dosage" not in second  # second dose not restated
    assert [relative_day(a) for a in administrations(psca, "rimiducid") if a["status"] == "completed"] == [11, 18]
    assert [relative_day(a) for a in administrations(psca, "rimiducid") if a["status"] == "not-done"] == [7]
    assert [relative_day(a) for a in administrations(psca, "angiotensin-ii")] == [22]
    rate = [a for a in administrations(psca, "7512") if "dosage" in a]
    assert [dose(a) for a in rate] == [(40, "ug/min")]  # norepinephrine up to 40 mcg/min


def test_002_labs_with_units_days_and_comparators(psca: dict) -> None:
    assert quantity(observations(psca, "27415-9", 0)[0]) == (4.2, "pg/mL", "<")  # IFN-gamma baseline Day 0
    ifng = {quantity(o)[0] for o in observations(psca, "27415-9", None)}
    assert ifng == {1786.3, 6.0}
    ferritin = {quantity(o) for o in observations(psca, "2276-4")}
    assert {(487, "ng/mL", None), (4000, "ng/mL", ">"), (9580, "ng/mL", None), (4460, "ng/mL", None)} == ferritin
    assert quantity(observations(psca, "1988-5")[0]) == (96.77, "mg/L", None)
    assert quantity(observations(psca, "2571-8")[0]) == (318, "mg/dL", None)
    assert quantity(observations(psca, "76039-7")[0]) == (93326, "pg/mL", None)
    assert quantity(observations(psca, "3255-7", 22)[0]) == (50, "mg/dL", "<")
    assert quantity(observations(psca, "11558-4")[0]) == (7.12, "[pH]", None)
    assert {quantity(o)[0] for o in observations(psca, "cart-vcn")} == {21033, 5299}
    assert quantity(observations(psca, "cart-vcn")[0])[1] == "{copies}/ug"
    psa = {(quantity(o)[0], relative_day(o)) for o in observations(psca, "2857-1")}
    assert psa == {(22.5, None), (0.29, None), (0.29, 37)}
    [bp] = observations(psca, "85354-9", 13)
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"]) for c in bp["component"]] == [("8480-6", 70), ("8462-4", 40)]
    for day in (2, 3):  # "Grade 2 (fever with hypoxia)" on D+2; "persistent fevers and hypoxia" on D+3
        [hypoxia] = observations(psca, "oxygen-support", day)
        assert has_code(hypoxia["valueCodeableConcept"], "o2-support-not-stated") and "component" not in hypoxia
    assert {o["valueString"] for o in observations(psca, "26881-3", None)} == {  # IL-6 and TNF-alpha, no values
        "increased or did not significantly change after emapalumab"} == {o["valueString"] for o in observations(psca, "3074-2", None)}
    [oxygen] = observations(psca, "oxygen-support", 19)
    assert has_code(oxygen["valueCodeableConcept"], "o2-low-flow")
    assert oxygen["component"][0]["valueQuantity"]["value"] == 4 and oxygen["component"][0]["valueQuantity"]["code"] == "L/min"
    [ice] = observations(psca, "ice-score")
    assert ice["valueInteger"] == 9 and relative_day(ice) is None


def test_002_course_and_outcome(psca: dict) -> None:
    assert patient(psca)["deceasedDateTime"] == "2024-02-07"  # Day +37 on the synthetic anchor 2024-01-01
    assert patient(psca)["_deceasedDateTime"]["extension"] == [
        {"url": "https://fhir.cart-tox.org/StructureDefinition/relative-day", "valueInteger": 37}]
    assert "Day +37" in patient(psca)["text"]["div"]
    assert relative_day(conditions(psca, "D65")[0]) == 22  # DIC
    assert relative_day(conditions(psca, "R78.81")[0]) == 33  # VRE bacteremia
    assert conditions(psca, "iec-hs")[0]["verificationStatus"]["coding"][0]["code"] == "provisional"
    [crrt] = [p for p in resources(psca, "Procedure") if has_code(p["code"], "714749008")]
    assert relative_day(crrt) == 22 and "reasonReference" not in crrt  # the report states no indication
    assert [relative_day(p) for p in resources(psca, "Procedure") if "cholecystostomy" in p["code"]["text"]] == [None]
    assert [profile(a) for a in administrations(psca, "24698")] == ["cart-lymphodepletion"]
    synthetic = notes(infusion(psca))
    assert "Synthetic date: Day 0 anchored on 2024-01-01" in synthetic


# -- 003: 38-patient paediatric cohort, aggregate results only -----------------------------------------------
def test_003_cohort_is_a_group_with_aggregates_and_no_patients(bundles: dict) -> None:
    b = case(bundles, "003-paediatric-emapalumab-cohort")
    assert doi(b) == "10.3389/fimmu.2026.1679175"
    assert not list(resources(b, "Patient"))
    group = next(resources(b, "Group"))
    assert group["quantity"] == 38 and "member" not in group
    [intervention] = [c for c in group["characteristic"] if has_code(c["code"], "intervention")]
    assert has_code(intervention["valueCodeableConcept"], "emapalumab")
    assert "no direct evidence of emapalumab-related safety risks" in group["text"]["div"]
    methods = {o["method"]["text"] for o in resources(b, "Observation") if "method" in o}
    assert methods == {"mean before vs. after emapalumab"}  # the seven before/after pairs name the intervention

    def pair(code: str) -> tuple:
        [obs] = observations(b, code)
        assert obs["subject"]["reference"].endswith(group["id"])
        comps = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in obs["component"]}
        p = comps["p-value"]
        return comps["mean-before"]["value"], comps["mean-after"]["value"], comps["mean-before"]["code"], p.get("comparator"), p["value"]

    assert pair("8310-5") == (39.61, 38.38, "Cel", "<", 0.001)
    assert pair("33939-0") == (32.35, 11.94, "pg/mL", "<", 0.001)
    assert pair("26848-2") == (222.29, 86.09, "pg/mL", None, 0.018)
    assert pair("3074-2") == (4.17, 2.94, "pg/mL", None, 0.032)
    assert pair("27415-9") == (21984.11, 674.87, "pg/mL", "<", 0.001)
    assert pair("cart-cells-blood") == (549.95, 8.16, "{cells}/uL", "<", 0.001)
    assert pair("cart-pct-t-cells") == (11.3, 36.54, "%", "<", 0.001)

    def rate(code: str) -> tuple:
        [obs] = observations(b, code)
        comps = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in obs["component"]}
        return obs["valueQuantity"]["value"], comps["ci95-lower"], comps["ci95-upper"], comps["time-point"]

    assert rate("event-free-survival-rate") == (76.9, 63.8, 92.6, 6)
    assert rate("overall-survival-rate") == (80.1, 67.7, 94.6, 6)
    assert observations(b, "median-event-free-survival")[0]["valueString"] == "not reached"
    assert observations(b, "median-overall-survival")[0]["valueString"] == "not reached"


# -- 004: the IEC-HS case series, one bundle per patient ------------------------------------------------------
def test_004_case1_tisacel_emapalumab(bundles: dict) -> None:
    b = case(bundles, "004-case1-tisacel-emapalumab")
    assert doi(b) == "10.3324/haematol.2023.284784"
    assert patient(b)["gender"] == "male" and age(b)["value"] == 16
    assert has_code(infusion(b)["medicationCodeableConcept"], "tisagenlecleucel")
    construct = next(e for e in infusion(b)["extension"] if e["url"].endswith("car-construct"))
    assert "standard of care" not in construct["valueCodeableConcept"]["text"]  # said of Case 2 only
    [burden] = observations(b, "bm-leukemia-burden", -35)  # Table 1: 9.7% of BM mononuclear cells, D-35
    assert quantity(burden) == (9.7, "%", None)
    tocilizumab = administrations(b, "612865")
    assert [relative_day(a) for a in tocilizumab] == [2, None]
    # "tocilizumab ... for febrile hypotension": a CAR-T toxicity the report never calls CRS, not relabelled
    [febrile] = conditions(b, text="Febrile hypotension")
    assert profile(febrile) == "cart-other-toxicity" and not has_code(febrile["code"], "D89.839")
    assert {tuple(reasons(b, a)) for a in tocilizumab} == {("Febrile hypotension treated with tocilizumab",)}
    [dexamethasone] = administrations(b, "3264", 10)
    assert dexamethasone["effectivePeriod"]["_end"]["extension"][0]["valueInteger"] == 16  # weaned off by D+16
    [ema] = administrations(b, "emapalumab", 11)
    assert dose(ema) == (100, "mg") and "approximately 0.81 mg/kg" in ema["dosage"]["text"]
    assert [relative_day(a) for a in administrations(b, "72435")] == [10]  # anakinra
    assert [relative_day(a) for a in administrations(b, "3264")] == [10]  # dexamethasone
    [nicardipine] = administrations(b, "7396")  # no dose reported: R4 mad-1 allows no dosage, the words go to a note
    assert "As reported: continuous infusion, route intravenous" in notes(nicardipine)
    assert reasons(b, nicardipine) == ["Severe hypertension requiring continuous intravenous nicardipine"]
    assert relative_day(conditions(b, "iec-hs")[0]) == 10
    assert quantity(observations(b, "8310-5")[0]) == (40, "Cel", None)
    assert quantity(observations(b, "mrd-flow", 30)[0]) == (0.33, "%", None)
    assert has_code(observations(b, "mrd", 44)[0]["valueCodeableConcept"], "mrd-negative")  # method not restated
    assert not observations(b, "mrd-flow", 44)
    assert observations(b, "mrd-ngs", 58)[0]["valueCodeableConcept"]["text"] == "~0.05% PB MRD signal"
    assert quantity(observations(b, "mrd-flow", 65)[0]) == (2.0, "%", None)
    assert has_code(observations(b, "disease-response", 30)[0]["valueCodeableConcept"], "complete-response")
    encounters = {e["type"][0]["text"]: e for e in resources(b, "Encounter")}
    assert encounters["Hospital admission"]["period"]["_end"]["extension"][0]["valueInteger"] == 37
    assert encounters["ICU stay"]["period"]["_end"]["extension"][0]["valueInteger"] == 16


def test_004_case2_axicel_ruxolitinib(bundles: dict) -> None:
    b = case(bundles, "004-case2-axicel-ruxolitinib")
    assert patient(b)["gender"] == "female" and age(b)["value"] == 58
    assert has_code(infusion(b)["medicationCodeableConcept"], "axicabtagene-ciloleucel")
    assert grade_on(b, CRS_ANY, 1) == [1] and grade_on(b, CRS_ANY, 6) == [4]
    assert grade_on(b, ICANS_ANY, 3) == [1] and grade_on(b, ICANS_ANY, 6) == [4]
    first, second = sorted(administrations(b, "1193326"), key=relative_day)
    assert (relative_day(first), dose(first)) == (8, (5, "mg"))
    assert first["dosage"]["extension"][0]["valueTiming"]["repeat"]["frequency"] == 2
    assert first["effectivePeriod"]["_end"]["extension"][0]["valueInteger"] == 14  # reduced to daily on D+14
    assert (relative_day(second), dose(second)) == (14, (5, "mg"))
    assert second["effectivePeriod"]["_end"]["extension"][0]["valueInteger"] == 16  # stopped on D+16
    assert [relative_day(a) for a in administrations(b, "1535218")] == [6]  # siltuximab
    assert relative_day(conditions(b, "iec-hs")[0]) == 7
    responses = {relative_day(o): o["valueCodeableConcept"]["coding"][0]["code"] for o in observations(b, "disease-response")}
    assert responses == {28: "partial-response", 90: "complete-response", 260: "complete-response", 365: "complete-response"}
    [baseline_pet] = [p for p in resources(b, "Procedure") if relative_day(p) == -60]  # Figure 1C, D-60
    assert "extensive disease" in notes(baseline_pet)
    [consciousness] = observations(b, "consciousness-level", 6)
    assert consciousness["valueCodeableConcept"]["text"] == "non-responsiveness requiring intubation"


def test_004_case3_cd22_etoposide(bundles: dict) -> None:
    b = case(bundles, "004-case3-cd22-etoposide")
    assert patient(b)["gender"] == "female" and age(b)["value"] == 38
    assert has_code(infusion(b)["medicationCodeableConcept"], "cd22-cart-investigational")
    assert grade_on(b, CRS_ANY, 12) == [2]
    [etoposide] = administrations(b, "4179", 25)
    assert dose(etoposide) == (50, "mg/m2")
    [anakinra] = administrations(b, "72435", 22)
    assert dose(anakinra) == (200, "mg")
    assert quantity(observations(b, "cart-pct-t-cells", 25)[0]) == (88, "%", None)
    alc = sorted(quantity(o) for o in observations(b, "26474-7", None))  # method not stated: not "automated count"
    assert alc == [(1190, "/uL", None), (38870, "/uL", None)] and not observations(b, "731-0")
    assert reasons(b, etoposide) == [conditions(b, "iec-hs")[0]["code"]["text"],
                                     "Lymphocytosis (hyperleukocytosis), predominantly CAR T-cell expansion"]
    burden = [o.get("valueQuantity", {}).get("value") or o.get("valueString") for o in observations(b, "bm-leukemia-burden", None)]
    assert sorted(burden, key=str) == [45, "negative for disease"]
    [mrd] = observations(b, "mrd", None)  # "MRD-negative complete remission by 3 months": method not stated
    assert has_code(mrd["valueCodeableConcept"], "mrd-negative") and not observations(b, "mrd-flow")
    assert anakinra["effectivePeriod"]["start"] and "weaned after etoposide" in notes(anakinra)
    assert sorted(quantity(o) for o in observations(b, "2276-4", None)) == [(20000, "ng/mL", "<"), (70000, "ng/mL", ">")]
    assert observations(b, "cart-persistence", 87)[0]["valueBoolean"] is True
    assert relative_day(conditions(b, "iec-hs")[0]) == 20
    assert "deceasedDateTime" not in patient(b) and "deceasedBoolean" not in patient(b)  # survival not reported


def test_004_series_shares_its_source_and_anchor(bundles: dict) -> None:
    series = [b for name, b in bundles.items() if name.startswith("004-")]
    assert len(series) == 3
    assert {doi(b) for b in series} == {"10.3324/haematol.2023.284784"}
    assert {infusion(b)["effectiveDateTime"] for b in series} == {"2022-01-01"}
