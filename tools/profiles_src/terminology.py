"""The project CodeSystem `cart-tox` and the ValueSets of the package.

Concepts go into `cart-tox` only where shared/terminology found no verified standard code (README caveats 2-7):
the ICE score, ASTCT grades, CAR-T cells in blood, vector copy number, MRD, IEC-HS, CAR-T products without an
RxCUI, grading systems, cohort statistics. External codes in ValueSets come from VERIFIED rows only.
"""
from __future__ import annotations

from typing import Any

from common import (CART_TOX, ICD10CM, LOINC, NCIT, RXNORM, SNOMED, UCUM, Code, Resource, VerifiedCodes,
                    header)

# (code, display, definition, properties) grouped by purpose; the group becomes a parent concept so that
# tools can browse the code system, and each group is the source of one or more ValueSets below.
Concept = tuple[str, str, str]

GROUPS: dict[str, tuple[str, str, list[Concept]]] = {
    "assessments": ("Toxicity assessments", "Clinical scores and grades used to grade CAR-T toxicities.", [
        ("ice-score", "Immune effector cell-associated encephalopathy (ICE) score",
         "ICE score 0-10 (ASTCT 2019): orientation 4, naming 3, commands 1, writing 1, attention 1; 10 = no "
         "impairment. No LOINC code exists (codes.csv assessment.ice_score UNVERIFIED)."),
        ("capd-score", "Cornell Assessment of Pediatric Delirium (CAPD) score",
         "CAPD score used instead of the ICE score for young children when grading ICANS."),
        ("crs-grade-astct", "Cytokine release syndrome grade",
         "Grade of cytokine release syndrome on a given day, by the grading system recorded with it (ASTCT "
         "2019 unless stated). No LOINC code exists."),
        ("icans-grade-astct", "ICANS grade",
         "Grade of immune effector cell-associated neurotoxicity syndrome on a given day, by the grading "
         "system recorded with it (ASTCT 2019 unless stated). No LOINC code exists."),
        ("iec-hs-grade", "IEC-HS grade",
         "Grade of immune effector cell-associated HLH-like syndrome (Hines et al., ASTCT 2023)."),
        ("crs-grade", "Cytokine release syndrome grade (grading system as recorded)",
         "Grade of CRS on a given day by a grading system other than ASTCT 2019, or one the report does not "
         "state; the grading-system extension says which."),
        ("icans-grade", "ICANS grade (grading system as recorded)",
         "Grade of ICANS on a given day by a grading system other than ASTCT 2019, or one the report does not "
         "state; the grading-system extension says which."),
        ("hypotension", "Hypotension",
         "Hypotension attributed to CRS, as judged by the report's authors (ASTCT defines no numeric "
         "threshold); value true/false."),
        ("vasopressor-count", "Number of concurrent vasopressors",
         "Number of vasopressors running at the same time, excluding vasopressin; a CRS grading input "
         "(one vasopressor = grade 3, multiple = grade 4)."),
        ("oxygen-support", "Oxygen support category",
         "Category of supplemental oxygen support used to grade hypoxia in CRS (ASTCT 2019)."),
    ]),
    "icans-domains": ("ICANS domains", "ASTCT 2019 ICANS grading domains other than the ICE score.", [
        ("consciousness-level", "Depressed level of consciousness",
         "ASTCT ICANS domain: depressed level of consciousness not attributable to another cause."),
        ("awakens-spontaneously", "Awakens spontaneously", "Depressed consciousness: awakens spontaneously "
         "(ICANS grade 1)."),
        ("awakens-to-voice", "Awakens to voice", "Depressed consciousness: awakens to voice (ICANS grade 2)."),
        ("awakens-to-tactile", "Awakens only to tactile stimulus",
         "Depressed consciousness: awakens only to tactile stimulus (ICANS grade 3)."),
        ("unarousable", "Unarousable", "Unarousable or requiring vigorous or repetitive tactile stimuli to "
         "arouse; stupor or coma (ICANS grade 4)."),
        ("seizure", "Seizure", "ASTCT ICANS domain: seizure."),
        ("seizure-rapidly-resolving", "Rapidly resolving seizure",
         "Any clinical seizure that resolves rapidly, or non-convulsive seizures on EEG that resolve with "
         "intervention (ICANS grade 3)."),
        ("seizure-prolonged-or-repetitive", "Prolonged or repetitive seizures",
         "Life-threatening prolonged seizure (> 5 min), or repetitive seizures without return to baseline in "
         "between (ICANS grade 4)."),
        ("motor-findings", "Motor findings", "ASTCT ICANS domain: motor findings."),
        ("deep-focal-motor-weakness", "Deep focal motor weakness",
         "Deep focal motor weakness such as hemiparesis or paraparesis (ICANS grade 4)."),
        ("cerebral-edema", "Raised intracranial pressure / cerebral edema",
         "ASTCT ICANS domain: raised intracranial pressure or cerebral edema."),
        ("cerebral-edema-focal", "Focal cerebral edema", "Focal/local edema on neuroimaging (ICANS grade 3)."),
        ("cerebral-edema-diffuse", "Diffuse cerebral edema",
         "Diffuse cerebral edema on neuroimaging, decerebrate or decorticate posturing, cranial nerve VI "
         "palsy, papilledema, or Cushing's triad (ICANS grade 4)."),
    ]),
    "oxygen-support-categories": ("Oxygen support categories", "ASTCT 2019 hypoxia categories.", [
        ("o2-none", "No supplemental oxygen", "Room air; no supplemental oxygen."),
        ("o2-low-flow", "Low-flow oxygen", "Nasal cannula at 6 L/min or less, or blow-by oxygen (CRS grade 2)."),
        ("o2-high-flow", "High-flow oxygen",
         "Nasal cannula above 6 L/min, facemask, non-rebreather mask or Venturi mask (CRS grade 3)."),
        ("o2-positive-pressure", "Positive-pressure ventilation",
         "CPAP, BiPAP, or intubation with mechanical ventilation (CRS grade 4)."),
        ("o2-support-not-stated", "Hypoxia, oxygen support not stated",
         "The report states hypoxia on the day but not the oxygen support given. ASTCT 2019 grades CRS-related "
         "hypoxia by the support it requires (low-flow 2, high-flow 3, positive pressure 4), so the day's "
         "hypoxia allows CRS grade 2 to 4; the category is left unknown rather than guessed."),
    ]),
    "grades": ("Toxicity grades", "Grades 1-5 of a CAR-T toxicity in the recorded grading system.", [
        ("grade-1", "Grade 1", "Grade 1 toxicity (mild) in the recorded grading system."),
        ("grade-2", "Grade 2", "Grade 2 toxicity (moderate) in the recorded grading system."),
        ("grade-3", "Grade 3", "Grade 3 toxicity (severe) in the recorded grading system."),
        ("grade-4", "Grade 4", "Grade 4 toxicity (life-threatening) in the recorded grading system."),
        ("grade-5", "Grade 5", "Grade 5 toxicity: death due to the toxicity."),
    ]),
    "grading-systems": ("Grading systems", "Systems used to grade CAR-T toxicities; case reports mix them.", [
        ("astct-2019", "ASTCT 2019 consensus grading",
         "Lee DW et al. ASTCT consensus grading for CRS and neurologic toxicity. Biol Blood Marrow "
         "Transplant 2019;25(4):625-638. doi:10.1016/j.bbmt.2018.12.758."),
        ("astct-2023-iec-hs", "ASTCT 2023 IEC-HS grading",
         "Hines MR et al. Immune effector cell-associated HLH-like syndrome. Transplant Cell Ther "
         "2023;29(7):438.e1-438.e16."),
        ("ctcae-v5", "CTCAE v5.0", "NCI Common Terminology Criteria for Adverse Events, version 5.0."),
        ("lee-2014", "Lee 2014 CRS grading", "Lee DW et al. Blood 2014 CRS grading."),
        ("penn", "Penn CRS grading", "University of Pennsylvania CRS grading scale."),
        ("cartox", "CARTOX grading", "CAR-T-cell-therapy-associated TOXicity (CARTOX) working group grading."),
        ("hlh-2004", "HLH-2004 criteria", "HLH-2004 diagnostic criteria (Henter et al. 2007)."),
        ("grading-not-stated", "Grading system not stated",
         "The report gives a grade without naming the grading system."),
    ]),
    "grade-derivation": ("Grade derivation", "Whether a grade is as reported or computed.", [
        ("grade-reported", "Grade as reported", "The grade as stated in the source publication."),
        ("grade-computed", "Grade computed by rules",
         "The grade was computed from recorded inputs by the project's grading rules."),
    ]),
    "laboratory": ("Laboratory and cellular measurements without LOINC", "No LOINC code was verified.", [
        ("cart-cells-blood", "CAR-T cells [#/volume] in blood",
         "Absolute count of CAR-positive T cells per microlitre of peripheral blood (flow cytometry)."),
        ("cart-pct-t-cells", "CAR-T cells / 100 T cells in blood",
         "CAR-positive T cells as a percentage of CD3+ T cells in peripheral blood."),
        ("cart-vcn", "CAR transgene vector copy number in blood",
         "CAR transgene vector copy number in peripheral blood by qPCR/ddPCR."),
        ("cxcl10", "CXCL10 (IP-10) [mass/volume] in serum or plasma",
         "Chemokine CXCL10 (interferon gamma-induced protein 10); no LOINC code was verified."),
        ("mrd-flow", "Minimal residual disease by flow cytometry",
         "Minimal residual disease by flow cytometry (e.g. bone marrow, B-ALL), as % of cells or positive/"
         "negative."),
        ("mrd-ngs", "Minimal residual disease by next-generation sequencing",
         "Minimal residual disease by next-generation sequencing (e.g. peripheral blood)."),
        ("mrd", "Minimal residual disease (method not stated)",
         "Minimal residual disease where the source does not state the method (flow cytometry, NGS, PCR) or "
         "the specimen; % or positive/negative as reported."),
    ]),
    "response": ("Disease response", "Response assessments after CAR-T therapy.", [
        ("disease-response", "Disease response assessment",
         "Overall response of the malignancy at a time point after CAR-T infusion."),
        ("cart-persistence", "CAR-T cell persistence",
         "Whether CAR-T cells remain detectable in the patient (flow cytometry or PCR) at a time point."),
        ("bm-leukemia-burden", "Leukemia burden in bone marrow",
         "Leukemic blasts in bone marrow as a percentage of cells (morphology or flow cytometry) at a time point "
         "before or after CAR-T infusion."),
        ("b-cell-aplasia", "B-cell aplasia", "Absence of B cells in blood, a pharmacodynamic marker of CD19 "
         "CAR-T activity."),
        ("complete-response", "Complete response", "Complete response/remission of the malignancy."),
        ("partial-response", "Partial response", "Partial response of the malignancy."),
        ("stable-disease", "Stable disease", "Stable disease."),
        ("progressive-disease", "Progressive disease", "Progression or relapse of the malignancy."),
        ("mrd-positive", "MRD positive", "Minimal residual disease detected."),
        ("mrd-negative", "MRD negative", "Minimal residual disease not detected."),
    ]),
    "conditions": ("Conditions without a verified code", "ICD-10-CM and SNOMED CT lack codes for these.", [
        ("iec-hs", "Immune effector cell-associated HLH-like syndrome (IEC-HS)",
         "HLH-like hyperinflammatory syndrome attributable to immune effector cell therapy, independent of "
         "CRS and ICANS (Hines 2023). ICD-10-CM has no specific code."),
        ("hgbl", "High-grade B-cell lymphoma", "High-grade B-cell lymphoma; no specific ICD-10-CM code."),
        ("mcrpc", "Metastatic castration-resistant prostate cancer",
         "Metastatic castration-resistant prostate cancer; in ICD-10-CM code C61 with Z19.2 and C79.x."),
        ("ph-like-b-all", "Ph-like B-cell acute lymphoblastic leukemia",
         "Philadelphia chromosome-like B-ALL; no ICD-10-CM code."),
    ]),
    "condition-categories": ("Condition categories", "Categories of Conditions recorded around CAR-T therapy.", [
        ("cart-other-toxicity", "CAR-T-associated toxicity not graded as CRS, ICANS or IEC-HS",
         "A complication after CAR-T infusion that the report treats as a toxicity (e.g. febrile hypotension "
         "treated with tocilizumab, hypertension or lymphocytosis in the course of IEC-HS) but does not call or "
         "grade as CRS, ICANS or IEC-HS. Recording it with this category keeps the report's words instead of "
         "relabelling it."),
    ]),
    "cart-products": ("CAR-T cell products", "CAR-T products; no RxCUI was verified for them.", [
        ("tisagenlecleucel", "Tisagenlecleucel (Kymriah)", "Autologous anti-CD19 CAR-T product."),
        ("axicabtagene-ciloleucel", "Axicabtagene ciloleucel (Yescarta)", "Autologous anti-CD19 CAR-T product."),
        ("brexucabtagene-autoleucel", "Brexucabtagene autoleucel (Tecartus)",
         "Autologous anti-CD19 CAR-T product."),
        ("bpx-601", "BPX-601 (investigational anti-PSCA CAR-T)",
         "Investigational autologous PSCA-directed CAR-T cells with an inducible MyD88/CD40 switch activated by "
         "rimiducid (NCT02744287)."),
        ("cd22-cart-investigational", "Investigational CD22 CAR-T cells",
         "Investigational anti-CD22 CAR-T cells (NCT02315612)."),
        ("cart-investigational", "Investigational CAR-T product", "A CAR-T product under investigation whose "
         "construct the source does not name."),
    ]),
    "drugs": ("Drugs without a verified RxCUI", "Drugs used around CAR-T therapy with no verified RxNorm code.", [
        ("emapalumab", "Emapalumab (Gamifant)", "Anti-interferon-gamma monoclonal antibody."),
        ("angiotensin-ii", "Angiotensin II (Giapreza)", "Vasopressor (synthetic human angiotensin II)."),
        ("prednisone", "Prednisone", "Oral corticosteroid; no RxCUI in the verified terminology rows."),
        ("rimiducid", "Rimiducid (AP1903)", "Dimerizing agent that activates switch-controlled CAR-T cells; "
         "not a toxicity treatment."),
    ]),
    "target-antigens": ("CAR target antigens", "Antigens targeted by CAR constructs.", [
        ("cd19", "CD19", "B-lymphocyte antigen CD19."),
        ("cd22", "CD22", "B-cell receptor CD22."),
        ("bcma", "BCMA", "B-cell maturation antigen."),
        ("psca", "PSCA", "Prostate stem cell antigen."),
    ]),
    "routes": ("Routes of administration", "No route code was verified in the terminology table.", [
        ("intravenous", "Intravenous", "Given into a vein."),
        ("subcutaneous", "Subcutaneous", "Given under the skin."),
        ("oral", "Oral", "Given by mouth."),
        ("intrathecal", "Intrathecal", "Given into the cerebrospinal fluid."),
    ]),
    "cohort": ("Cohort statistics", "Codes for aggregate results reported about a cohort (Group).", [
        ("cart-cohort", "CAR-T treated cohort", "A group of patients treated with CAR-T cells and reported "
         "together in one publication."),
        ("mean-before", "Mean before intervention", "Mean of the measured quantity before the intervention."),
        ("mean-after", "Mean after intervention", "Mean of the measured quantity after the intervention."),
        ("median", "Median", "Median of the measured quantity."),
        ("p-value", "P-value", "P-value of the reported comparison (0-1; a comparator such as < may apply)."),
        ("ci95-lower", "95% CI lower bound", "Lower bound of the 95% confidence interval."),
        ("ci95-upper", "95% CI upper bound", "Upper bound of the 95% confidence interval."),
        ("time-point", "Time point", "The time point of a survival estimate (e.g. 6 months after infusion)."),
        ("event-free-survival-rate", "Event-free survival rate", "Proportion of the cohort alive without an "
         "event at the stated time point."),
        ("overall-survival-rate", "Overall survival rate", "Proportion of the cohort alive at the stated time "
         "point."),
        ("median-event-free-survival", "Median event-free survival", "Median event-free survival time of the "
         "cohort (may be 'not reached')."),
        ("median-overall-survival", "Median overall survival", "Median overall survival time of the cohort "
         "(may be 'not reached')."),
        ("prior-therapy", "Prior toxicity-directed therapy", "Therapy the cohort failed before the intervention."),
        ("age-group", "Age group", "Age group of the cohort members."),
        ("pediatric", "Pediatric", "Patients younger than 18 years."),
        ("high-grade-crs", "High-grade cytokine release syndrome", "CRS of grade 3 or higher."),
        ("intervention", "Intervention", "The treatment whose effect the publication reports for the cohort "
         "(e.g. emapalumab); the value names the drug."),
    ]),
}

#: Code -> integer grade, as a concept property (lets tools compare grades numerically).
GRADE_VALUE = {f"grade-{n}": n for n in range(1, 6)}


def code_system() -> Resource:
    """The `cart-tox` CodeSystem, content complete, two levels: group concepts and their members."""
    cs = header("CodeSystem", "cart-tox", "CarTox", "CAR-T toxicity project codes",
                "Concepts of the CAR-T toxicity project that have no verified standard code (LOINC, SNOMED CT, "
                "RxNorm, ICD-10-CM): scores, grades, grading systems, CAR-T cellular measurements, IEC-HS, "
                "CAR-T products, cohort statistics. A standard code should be added beside these once one is "
                "verified.")
    cs.update({
        "caseSensitive": True,
        "hierarchyMeaning": "grouped-by",
        "content": "complete",
        "property": [
            {"code": "grade", "description": "Numeric grade of a grade concept (1-5)", "type": "integer"},
            {"code": "notSelectable", "uri": "http://hl7.org/fhir/concept-properties#notSelectable",
             "description": "A grouping concept, not for use in data", "type": "boolean"},
        ],
    })
    concepts = []
    for group, (display, definition, members) in GROUPS.items():
        children = []
        for code, child_display, child_definition in members:
            concept: dict[str, Any] = {"code": code, "display": child_display, "definition": child_definition}
            if code in GRADE_VALUE:
                concept["property"] = [{"code": "grade", "valueInteger": GRADE_VALUE[code]}]
            children.append(concept)
        concepts.append({"code": f"_{group}", "display": display, "definition": definition,
                         "property": [{"code": "notSelectable", "valueBoolean": True}], "concept": children})
    cs["concept"] = concepts
    cs["count"] = sum(1 + len(c["concept"]) for c in concepts)
    return cs


def _local(codes: list[str]) -> dict[str, Any]:
    index = {code: display for _, _, members in GROUPS.values() for code, display, _ in members}
    missing = [c for c in codes if c not in index]
    if missing:
        raise KeyError(f"not in cart-tox: {missing}")
    return {"system": CART_TOX, "concept": [{"code": c, "display": index[c]} for c in codes]}


def _external(codes: list[Code]) -> list[dict[str, Any]]:
    by_system: dict[str, list[dict[str, str]]] = {}
    for code in codes:
        entry = {"code": code.code}
        if "not retrieved" not in code.display:  # the table's note, not a display: leave it to the system
            entry["display"] = code.display
        if entry not in by_system.setdefault(code.system, []):
            by_system[code.system].append(entry)
    return [{"system": system, "concept": concepts} for system, concepts in by_system.items()]


def _value_set(rid: str, name: str, title: str, description: str, includes: list[dict[str, Any]],
               immutable: bool = False) -> Resource:
    vs = header("ValueSet", rid, name, title, description)
    if immutable:
        vs["immutable"] = True
    vs["compose"] = {"include": includes}
    return vs


def value_sets(codes: VerifiedCodes) -> list[Resource]:
    """Every ValueSet of the package (external codes resolved through the VERIFIED rows)."""
    rx = lambda *names: [codes.concept(f"medication.{n}", RXNORM)[0] for n in names]  # noqa: E731
    toxicity_rx = rx("tocilizumab", "siltuximab", "anakinra", "ruxolitinib", "dexamethasone",
                     "methylprednisolone", "etoposide", "nicardipine", "norepinephrine", "phenylephrine",
                     "vasopressin", "levetiracetam")
    crs = [codes.get(ICD10CM, f"D89.83{g}") for g in "123459"]
    icans = [codes.get(ICD10CM, f"G92.0{g}") for g in "012345"]
    iec = [codes.get(ICD10CM, c) for c in ("D76.1", "T80.82XA", "T80.82XD", "T80.82XS")]
    labs = codes.prefix("lab.", LOINC)
    vitals = codes.prefix("vital.", LOINC)
    malignancy_icd = (codes.concept("condition.b_all.active") + codes.concept("condition.b_all.remission")
                      + codes.concept("condition.b_all.relapse") + codes.concept("condition.lbcl", ICD10CM)
                      + codes.concept("condition.prostate_cancer", ICD10CM)
                      + codes.concept("condition.mcrpc.hormone_resistant")
                      + codes.concept("condition.mcrpc.bone_mets"))
    malignancy_sct = (codes.concept("condition.b_all", SNOMED) + codes.concept("condition.lbcl", SNOMED)
                      + codes.concept("condition.prostate_cancer", SNOMED))
    ncit = codes.concept("ae_grade", NCIT)
    units = [("mg", "milligram"), ("mg/kg", "milligram per kilogram"), ("mg/m2", "milligram per square metre"),
             ("ug/kg", "microgram per kilogram"), ("ug", "microgram"), ("g", "gram"), ("mL", "millilitre"),
             ("mL/kg", "millilitre per kilogram"), ("ug/min", "microgram per minute"),
             ("ug/kg/min", "microgram per kilogram per minute"), ("[iU]/min", "international unit per minute"),
             ("U/min", "unit per minute"), ("ng/kg/min", "nanogram per kilogram per minute"),
             ("{cells}", "cells"), ("{cells}/kg", "cells per kilogram"), ("{cells}/m2", "cells per square metre")]
    return [
        _value_set("toxicity-drugs", "ToxicityDrugs", "Toxicity-directed drugs",
                   "Drugs given to treat CAR-T toxicities (CRS, ICANS, IEC-HS) and their manifestations: "
                   "anti-cytokine agents, corticosteroids, JAK inhibitors, cytotoxics, vasopressors, "
                   "antihypertensives and anti-seizure drugs. RxNorm where an RxCUI was verified; project codes "
                   "otherwise.", _external(toxicity_rx) + [_local(["emapalumab", "angiotensin-ii", "prednisone"])]),
        _value_set("lymphodepletion-drugs", "LymphodepletionDrugs", "Lymphodepleting chemotherapy",
                   "Drugs of the lymphodepleting chemotherapy given in the days before the CAR-T infusion.",
                   _external(rx("fludarabine", "cyclophosphamide"))),
        _value_set("vasopressors", "Vasopressors", "Vasopressors",
                   "Vasopressors counted when grading CRS hypotension (vasopressin is listed but does not count "
                   "towards 'multiple vasopressors').",
                   _external(rx("norepinephrine", "phenylephrine", "vasopressin")) + [_local(["angiotensin-ii"])]),
        _value_set("crs-condition-codes", "CrsConditionCodes", "CRS condition codes (ICD-10-CM)",
                   "ICD-10-CM codes for cytokine release syndrome by grade (D89.831-D89.835) or grade "
                   "unspecified (D89.839). The header D89.83 is not billable and is excluded.", _external(crs)),
        _value_set("icans-condition-codes", "IcansConditionCodes", "ICANS condition codes (ICD-10-CM)",
                   "ICD-10-CM codes for ICANS by grade (G92.01-G92.05) or grade unspecified (G92.00). The "
                   "header G92.0 is not billable and is excluded.", _external(icans)),
        _value_set("iec-hs-condition-codes", "IecHsConditionCodes", "IEC-HS condition codes",
                   "IEC-HS has no ICD-10-CM code: the project code iec-hs, optionally with ICD-10-CM D76.1 "
                   "(HLH) and T80.82X- (complication of immune effector cellular therapy).",
                   [_local(["iec-hs"])] + _external(iec)),
        _value_set("toxicity-condition-codes", "ToxicityConditionCodes", "CAR-T toxicity condition codes",
                   "Codes of the conditions a toxicity-directed treatment may be given for: CRS, ICANS, IEC-HS "
                   "(other CAR-T-associated toxicities are Conditions with category cart-other-toxicity).",
                   _external(crs + icans + iec) + [_local(["iec-hs"])]),
        _value_set("malignancy-codes", "MalignancyCodes", "Malignancies treated with CAR-T cells",
                   "Malignancies in the case reports: B-ALL, large B-cell lymphoma, high-grade B-cell lymphoma, "
                   "metastatic castration-resistant prostate cancer.",
                   _external(malignancy_icd + malignancy_sct) + [_local(["hgbl", "mcrpc", "ph-like-b-all"])]),
        _value_set("toxicity-lab-loinc", "ToxicityLabLoinc", "Toxicity laboratory tests (LOINC)",
                   "Verified LOINC codes of the laboratory tests that monitor CAR-T toxicity and activity.",
                   _external(labs)),
        _value_set("toxicity-lab-codes", "ToxicityLabCodes", "Toxicity laboratory tests",
                   "Laboratory tests that monitor CAR-T toxicity and activity: verified LOINC codes plus project "
                   "codes where no LOINC code was verified (CAR-T cells, VCN, CXCL10).",
                   _external(labs) + [_local(["cart-cells-blood", "cart-pct-t-cells", "cart-vcn", "cxcl10"])]),
        _value_set("grading-input-codes", "GradingInputCodes", "Vital signs and grading inputs",
                   "Vital signs (verified LOINC) and the project-coded inputs of CRS/ICANS grading (ICE score, "
                   "CAPD score, vasopressor count, oxygen support category).",
                   _external(vitals + codes.concept("finding.fever", SNOMED))
                   + [_local(["ice-score", "capd-score", "hypotension", "vasopressor-count", "oxygen-support",
                              "consciousness-level", "seizure", "motor-findings", "cerebral-edema"])]),
        _value_set("icans-domain-values", "IcansDomainValues", "ICANS domain findings",
                   "Findings of the ASTCT 2019 ICANS domains (consciousness, seizure, motor, cerebral edema).",
                   [_local(["awakens-spontaneously", "awakens-to-voice", "awakens-to-tactile", "unarousable",
                            "seizure-rapidly-resolving", "seizure-prolonged-or-repetitive",
                            "deep-focal-motor-weakness", "cerebral-edema-focal", "cerebral-edema-diffuse"])]),
        _value_set("oxygen-support-categories", "OxygenSupportCategories", "Oxygen support categories",
                   "ASTCT 2019 oxygen support categories used to grade CRS hypoxia.",
                   [_local(["o2-none", "o2-low-flow", "o2-high-flow", "o2-positive-pressure",
                            "o2-support-not-stated"])]),
        _value_set("toxicity-grade-codes", "ToxicityGradeCodes", "Toxicity grade assessments",
                   "What a toxicity grade Observation assesses: CRS, ICANS or IEC-HS grade.",
                   [_local(["crs-grade-astct", "icans-grade-astct", "iec-hs-grade", "crs-grade", "icans-grade"])]),
        _value_set("astct-grades", "AstctGrades", "Toxicity grades 1-5",
                   "Grades 1-5 of a CAR-T toxicity (ASTCT 2019 for CRS/ICANS, ASTCT 2023 for IEC-HS, or the "
                   "grading system recorded beside the grade).",
                   [_local([f"grade-{n}" for n in range(1, 6)])]),
        _value_set("ae-grades-ncit", "AeGradesNcit", "Adverse event grades (NCIt)",
                   "NCIt adverse event grade codes 1-5, as bound by the HL7 AE Clinical Research IG; may be given "
                   "beside a project grade code.", _external(ncit)),
        _value_set("grading-systems", "GradingSystems", "Toxicity grading systems",
                   "Grading systems a reported grade follows. Grades are never converted between systems.",
                   [_local(["astct-2019", "astct-2023-iec-hs", "ctcae-v5", "lee-2014", "penn", "cartox",
                            "hlh-2004", "grading-not-stated"])]),
        _value_set("grade-derivation", "GradeDerivation", "Grade derivation",
                   "Whether a grade is as reported in the publication or computed by rules.",
                   [_local(["grade-reported", "grade-computed"])]),
        _value_set("dose-units", "DoseUnits", "Dose units (UCUM)",
                   "UCUM units for doses of toxicity-directed drugs and cell products: absolute, per kilogram "
                   "body weight, per square metre body surface area, and infusion rates.",
                   [{"system": UCUM, "concept": [{"code": c, "display": d} for c, d in units]}]),
        _value_set("cart-products", "CarTProducts", "CAR-T cell products",
                   "CAR-T cell products (project codes: no RxCUI was verified).",
                   [_local([c for c, _, _ in GROUPS["cart-products"][2]])]),
        _value_set("target-antigens", "TargetAntigens", "CAR target antigens", "Antigens targeted by CARs.",
                   [_local([c for c, _, _ in GROUPS["target-antigens"][2]])]),
        _value_set("administration-routes", "AdministrationRoutes", "Routes of administration",
                   "Routes of administration (project codes; no route code was verified).",
                   [_local([c for c, _, _ in GROUPS["routes"][2]])]),
        _value_set("response-assessment-codes", "ResponseAssessmentCodes", "Response assessments",
                   "What a response assessment Observation measures: overall response, MRD, B-cell aplasia.",
                   [_local(["disease-response", "mrd-flow", "mrd-ngs", "mrd", "bm-leukemia-burden", "b-cell-aplasia",
                            "cart-persistence"])]),
        _value_set("response-values", "ResponseValues", "Response results",
                   "Results of a response assessment: CR, PR, SD, PD; MRD positive/negative.",
                   [_local(["complete-response", "partial-response", "stable-disease", "progressive-disease",
                            "mrd-positive", "mrd-negative"])]),
        _value_set("cohort-statistics", "CohortStatistics", "Cohort statistics",
                   "Kinds of aggregate value reported about a cohort.",
                   [_local(["mean-before", "mean-after", "median", "p-value", "ci95-lower", "ci95-upper",
                            "time-point"])]),
        _value_set("cohort-observation-codes", "CohortObservationCodes", "Cohort observation codes",
                   "What a cohort Observation measures: a toxicity lab or vital sign (verified LOINC), CAR-T "
                   "cellular measurements, or a survival rate.",
                   _external(labs + vitals) + [_local(["cart-cells-blood", "cart-pct-t-cells", "cart-vcn",
                                                       "cxcl10", "event-free-survival-rate", "overall-survival-rate",
                                                       "median-event-free-survival", "median-overall-survival"])]),
        _value_set("condition-categories", "ConditionCategories", "CAR-T condition categories",
                   "Project categories of Conditions: a CAR-T-associated toxicity not graded as CRS, ICANS or "
                   "IEC-HS.", [_local(["cart-other-toxicity"])]),
        _value_set("cohort-characteristics", "CohortCharacteristics", "Cohort characteristics",
                   "Characteristics that define a cohort.",
                   [_local(["age-group", "high-grade-crs", "prior-therapy", "intervention"])]),
    ]
