"""Encounter, Procedure and Group R4 <-> R5: present in the case Bundles, so a Bundle converts whole.

Encounter: class Coding -> CodeableConcept list, period -> actualPeriod, reasonCode/reasonReference -> reason
(one R5 reason per R4 item), participant.individual -> actor, serviceType -> CodeableReference list,
hospitalization -> admission (diet preference and special courtesy/arrangement move up), location.physicalType
-> form, diagnosis.condition -> CodeableReference list; statuses arrived/triaged (R4) and discharged/
discontinued (R5) have no counterpart and travel in extensions.
Procedure: performed[x] -> occurrence[x], reason/complication/used -> CodeableReference, category -> list.
Group: actual (boolean) -> membership (enumerated/definitional).
"""
from __future__ import annotations

from fhir_service.transform.r5_common import (R5_EXT, Ctx, Json, as_list, concepts_and_references,
                                              extension_value, preserve_r4, preserve_r5, rename, rename_choice,
                                              restore_r4, restore_r5, split_codeable_references, take_extensions)

STATUS_TO_R5 = {"planned": "planned", "arrived": "in-progress", "triaged": "in-progress",
                "in-progress": "in-progress", "onleave": "on-hold", "finished": "completed",
                "cancelled": "cancelled", "entered-in-error": "entered-in-error", "unknown": "unknown"}
STATUS_TO_R4 = {"planned": "planned", "in-progress": "in-progress", "on-hold": "onleave", "completed": "finished",
                "discharged": "finished", "discontinued": "cancelled", "cancelled": "cancelled",
                "entered-in-error": "entered-in-error", "unknown": "unknown"}
ADMISSION_MOVED = ("dietPreference", "specialCourtesy", "specialArrangement")
PERFORMED_TYPES = ("DateTime", "Period", "String", "Age", "Range")


def encounter_to_r5(r: Json, ctx: Ctx) -> None:
    status = r.get("status")
    carried_r5 = restore_r5(r, "Encounter.status")
    if carried_r5:
        r["status"] = carried_r5[0]
    elif isinstance(status, str) and status in STATUS_TO_R5:
        r["status"] = STATUS_TO_R5[status]
        if STATUS_TO_R5[status] != status and status not in ("onleave", "finished"):
            preserve_r4(ctx, r, "Encounter", "status", status, f"status {status!r} has no R5 code")
    for element in ("statusHistory", "classHistory"):
        if element in r:
            preserve_r4(ctx, r, "Encounter", element, r.pop(element), f"Encounter.{element} is gone in R5")
    if "class" in r:
        r["class"] = [{"coding": [r["class"]]}]
    if "serviceType" in r:
        r["serviceType"] = [{"concept": r["serviceType"]}]
    for participant in as_list(r.get("participant")):
        rename(participant, "individual", "actor")
    rename(r, "period", "actualPeriod")
    if "reasonCode" in r or "reasonReference" in r:
        r["reason"] = [{"value": [item]} for item in
                       concepts_and_references(r.pop("reasonCode", None), r.pop("reasonReference", None))]
    for index, diagnosis in enumerate(as_list(r.get("diagnosis"))):
        if "condition" in diagnosis:
            diagnosis["condition"] = [{"reference": diagnosis["condition"]}]
        if "use" in diagnosis:
            diagnosis["use"] = [diagnosis["use"]]
        if "rank" in diagnosis:
            preserve_r4(ctx.at(ctx.path(f"diagnosis[{index}]")), diagnosis, "Encounter.diagnosis", "rank",
                        diagnosis.pop("rank"),
                        "Encounter.diagnosis.rank is gone in R5")
    if "hospitalization" in r:
        admission = r.pop("hospitalization")
        for element in ADMISSION_MOVED:
            if element in admission:
                r[element] = admission.pop(element)
        r["admission"] = admission
    for location in as_list(r.get("location")):
        rename(location, "physicalType", "form")


def encounter_to_r4(r: Json, ctx: Ctx) -> None:
    carried = restore_r4(ctx, r, "Encounter", "status")
    status = r.get("status")
    if carried is not None:
        r["status"] = carried
    elif isinstance(status, str) and status in STATUS_TO_R4:
        r["status"] = STATUS_TO_R4[status]
        if status in ("discharged", "discontinued"):
            preserve_r5(ctx, r, "Encounter.status", "valueCode", status, f"status {status!r} has no R4 code",
                        "status")
    for element in ("statusHistory", "classHistory"):
        value = restore_r4(ctx, r, "Encounter", element)
        if value is not None:
            r[element] = value
    classes = as_list(r.pop("class", None))
    if classes:
        codings = as_list(classes[0].get("coding"))
        if codings:
            r["class"] = codings[0]
        if len(classes) > 1 or len(codings) != 1 or set(classes[0]) != {"coding"}:
            ctx.lossy("class", "R4 Encounter.class is one Coding", preserved=False)
    services = as_list(r.pop("serviceType", None))
    if services:
        if "concept" in services[0]:
            r["serviceType"] = services[0]["concept"]
        if len(services) > 1 or set(services[0]) != {"concept"}:
            ctx.lossy("serviceType", "R4 Encounter.serviceType is one CodeableConcept", preserved=False)
    for participant in as_list(r.get("participant")):
        rename(participant, "actor", "individual")
    rename(r, "actualPeriod", "period")
    if "reason" in r:
        values = []
        for index, reason in enumerate(as_list(r.pop("reason"))):
            if "use" in reason:
                ctx.lossy(f"reason[{index}].use", "R4 has no reason use", preserved=False)
            values.extend(as_list(reason.get("value")))
        concepts, references = split_codeable_references(ctx, values, "reason")
        if concepts:
            r["reasonCode"] = concepts
        if references:
            r["reasonReference"] = references
    for index, diagnosis in enumerate(as_list(r.get("diagnosis"))):
        conditions = [c["reference"] for c in as_list(diagnosis.get("condition")) if "reference" in c]
        if conditions:
            diagnosis["condition"] = conditions[0]
        else:
            diagnosis.pop("condition", None)
        uses = as_list(diagnosis.pop("use", None))
        if uses:
            diagnosis["use"] = uses[0]
        if len(conditions) > 1 or len(uses) > 1:
            ctx.lossy(f"diagnosis[{index}]", "R4 diagnosis has one condition and one use", preserved=False)
        rank = restore_r4(ctx, diagnosis, "Encounter.diagnosis", "rank")
        if rank is not None:
            diagnosis["rank"] = rank
    moved = {element: r.pop(element) for element in ADMISSION_MOVED if element in r}
    if "admission" in r or moved:
        r["hospitalization"] = {**r.pop("admission", {}), **moved}
    for location in as_list(r.get("location")):
        rename(location, "form", "physicalType")


# ---- Procedure ------------------------------------------------------------------------------------------

PROCEDURE_R5_SIMPLE = (("recorded", "valueDateTime"), ("reportedBoolean", "valueBoolean"),
                       ("reportedReference", "valueReference"), ("focus", "valueReference"),
                       ("supportingInfo", "valueReference"))


def procedure_to_r5(r: Json, ctx: Ctx) -> None:
    rename_choice(r, "performed", "occurrence", PERFORMED_TYPES)
    for extension in take_extensions(r, f"{R5_EXT}Procedure.occurrence"):
        r["occurrenceTiming"] = extension_value(extension)[1]
    for name, _ in PROCEDURE_R5_SIMPLE:
        values = restore_r5(r, f"Procedure.{name}")
        if values:
            r[name] = values if name == "supportingInfo" else values[0]
    if "category" in r:
        r["category"] = [r["category"]] + restore_r5(r, "Procedure.category")
    if "asserter" in r:
        preserve_r4(ctx, r, "Procedure", "asserter", r.pop("asserter"), "Procedure.asserter is gone in R5")
    for r4_code, r4_ref, r5 in (("reasonCode", "reasonReference", "reason"),
                                ("complication", "complicationDetail", "complication"),
                                ("usedCode", "usedReference", "used")):
        if r4_code in r or r4_ref in r:
            r[r5] = concepts_and_references(r.pop(r4_code, None), r.pop(r4_ref, None))


def procedure_to_r4(r: Json, ctx: Ctx) -> None:
    rename_choice(r, "occurrence", "performed", PERFORMED_TYPES)
    if "occurrenceTiming" in r:
        preserve_r5(ctx, r, "Procedure.occurrence", "valueTiming", r.pop("occurrenceTiming"),
                    "R4 performed[x] has no Timing", "occurrenceTiming")
    for name, value_key in PROCEDURE_R5_SIMPLE:
        if name in r:
            preserve_r5(ctx, r, f"Procedure.{name}", value_key, r.pop(name), f"Procedure.{name} is new in R5", name)
    categories = as_list(r.pop("category", None))
    if categories:
        r["category"] = categories[0]
        if len(categories) > 1:
            preserve_r5(ctx, r, "Procedure.category", "valueCodeableConcept", categories[1:],
                        "R4 allows one category", "category")
    asserter = restore_r4(ctx, r, "Procedure", "asserter")
    if asserter is not None:
        r["asserter"] = asserter
    for r4_code, r4_ref, r5 in (("reasonCode", "reasonReference", "reason"),
                                ("complication", "complicationDetail", "complication"),
                                ("usedCode", "usedReference", "used")):
        if r5 in r:
            concepts, references = split_codeable_references(ctx, r.pop(r5), r5)
            if concepts:
                r[r4_code] = concepts
            if references:
                r[r4_ref] = references


# ---- Group ----------------------------------------------------------------------------------------------

def group_to_r5(r: Json, ctx: Ctx) -> None:
    if "actual" in r:
        r["membership"] = "enumerated" if r.pop("actual") else "definitional"
        r.pop("_actual", None)
    description = restore_r5(r, "Group.description")
    if description:
        r["description"] = description[0]
    if r.get("type") in ("medication", "substance"):
        ctx.lossy("type", f"Group.type {r['type']!r} has no R5 code (R5 Group.type is required)", preserved=False)


def group_to_r4(r: Json, ctx: Ctx) -> None:
    if "membership" in r:
        r["actual"] = r.pop("membership") == "enumerated"
    if "description" in r:
        preserve_r5(ctx, r, "Group.description", "valueMarkdown", r.pop("description"), "Group.description is new "
                    "in R5", "description")
