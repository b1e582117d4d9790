"""MedicationAdministration R4 <-> R5, the resource that changed most.

R4 -> R5: medication[x] -> medication (CodeableReference); context -> encounter (an EpisodeOfCare context has
no R5 place: cross-version extension); effective[x] -> occurence[x] (R5's spelling); reasonCode +
reasonReference -> reason; device -> device (CodeableReference); performer.actor -> CodeableReference;
category 0..1 -> 0..*; instantiates (gone in R5) -> extension. statusReason, request, dosage, note,
partOf, supportingInformation, eventHistory keep their shape.
R5 -> R4: the reverse, and R5-only elements (basedOn, recorded, isSubPotent, subPotentReason, occurenceTiming,
extra categories, coded performers/devices, a medication with both concept and reference) go to 5.0
cross-version extensions, each reported by an issue that names it.
"""
from __future__ import annotations

from fhir_service.transform.r5_common import (DATA_ABSENT, Ctx, Json, as_list, concepts_and_references,
                                              preserve_r4, preserve_r5, rename_choice, restore_r4, restore_r5,
                                              split_codeable_references)

T = "MedicationAdministration"
EFFECTIVE_TYPES = ("DateTime", "Period")
DAR_UNKNOWN = {"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}
R5_SIMPLE = (("basedOn", "valueReference"), ("recorded", "valueDateTime"), ("isSubPotent", "valueBoolean"),
             ("subPotentReason", "valueCodeableConcept"))


def to_r5(r: Json, ctx: Ctx) -> None:
    if "instantiates" in r:
        preserve_r4(ctx, r, T, "instantiates", r.pop("instantiates"), "MedicationAdministration.instantiates")
        r.pop("_instantiates", None)
    for name, _ in R5_SIMPLE:
        values = restore_r5(r, f"{T}.{name}")
        if values:
            r[name] = values if name in ("basedOn", "subPotentReason") else values[0]
    if "category" in r:
        r["category"] = [r["category"]] + restore_r5(r, f"{T}.category")
    concept_extra = restore_r5(r, f"{T}.medication.concept")
    if "medicationCodeableConcept" in r:
        r["medication"] = {"concept": r.pop("medicationCodeableConcept")}
    elif "medicationReference" in r:
        r["medication"] = {"reference": r.pop("medicationReference")}
        if concept_extra:
            r["medication"] = {"concept": concept_extra[0], **r["medication"]}
    if "context" in r:
        target = ctx.resolve(r["context"].get("reference", "")) or r["context"].get("type")
        if target == "EpisodeOfCare":
            preserve_r4(ctx, r, T, "context", r.pop("context"), "context is an EpisodeOfCare; R5 encounter is "
                        "Reference(Encounter) only")
        else:
            r["encounter"] = r.pop("context")
    else:
        carried = restore_r4(ctx, r, T, "context")
        if carried is not None:
            r["context"] = carried
    rename_choice(r, "effective", "occurence", EFFECTIVE_TYPES)
    timing = restore_r5(r, f"{T}.occurence")
    if timing:
        r.pop("occurencePeriod", None)
        r["occurenceTiming"] = timing[0]
    for performer in as_list(r.get("performer")):
        coded = restore_r5(performer, f"{T}.performer.actor")
        if "actor" in performer:
            actor = performer.pop("actor")
            new_actor: Json = {} if actor == DAR_UNKNOWN else {"reference": actor}
            if coded:
                new_actor = {"concept": coded[0], **new_actor}
            performer["actor"] = new_actor
    if "reasonCode" in r or "reasonReference" in r:
        r["reason"] = concepts_and_references(r.pop("reasonCode", None), r.pop("reasonReference", None))
    coded_devices = restore_r5(r, f"{T}.device")
    if "device" in r or coded_devices:
        r["device"] = [{"concept": c} for c in coded_devices] + [{"reference": d} for d in as_list(r.get("device"))]


def to_r4(r: Json, ctx: Ctx) -> None:
    carried = restore_r4(ctx, r, T, "instantiates")
    if carried is not None:
        r["instantiates"] = carried
    for name, value_key in R5_SIMPLE:
        if name in r:
            preserve_r5(ctx, r, f"{T}.{name}", value_key, r.pop(name), f"{T}.{name} is new in R5", name)
            r.pop("_" + name, None)
    categories = as_list(r.pop("category", None))
    if categories:
        r["category"] = categories[0]
        if len(categories) > 1:
            preserve_r5(ctx, r, f"{T}.category", "valueCodeableConcept", categories[1:],
                        "R4 allows one category", "category")
    medication = r.pop("medication", None)
    if isinstance(medication, dict):
        if "reference" in medication:
            r["medicationReference"] = medication["reference"]
            if "concept" in medication:
                preserve_r5(ctx, r, f"{T}.medication.concept", "valueCodeableConcept", medication["concept"],
                            "R4 medication[x] is a concept or a reference, not both", "medication")
        elif "concept" in medication:
            r["medicationCodeableConcept"] = medication["concept"]
    if "encounter" in r:
        r["context"] = r.pop("encounter")
    else:
        carried = restore_r4(ctx, r, T, "context")
        if carried is not None:
            r["context"] = carried
    rename_choice(r, "occurence", "effective", EFFECTIVE_TYPES)
    if "occurenceTiming" in r:
        preserve_r5(ctx, r, f"{T}.occurence", "valueTiming", r.pop("occurenceTiming"),
                    "R4 effective[x] is dateTime or Period, not Timing (effectivePeriod left data-absent)",
                    "occurenceTiming")
        r["effectivePeriod"] = dict(DAR_UNKNOWN)
    for index, performer in enumerate(as_list(r.get("performer"))):
        actor = performer.pop("actor", None)
        if not isinstance(actor, dict):
            continue
        if "concept" in actor:
            preserve_r5(ctx.at(ctx.path(f"performer[{index}]")), performer, f"{T}.performer.actor",
                        "valueCodeableConcept", actor["concept"], "R4 performer.actor is a Reference", "actor")
        performer["actor"] = actor.get("reference", dict(DAR_UNKNOWN))
    if "reason" in r:
        concepts, references = split_codeable_references(ctx, r.pop("reason"), "reason")
        if concepts:
            r["reasonCode"] = concepts
        if references:
            r["reasonReference"] = references
    if "device" in r:
        concepts = [d["concept"] for d in r["device"] if isinstance(d, dict) and "concept" in d]
        references = [d["reference"] for d in r["device"] if isinstance(d, dict) and "reference" in d]
        del r["device"]
        if references:
            r["device"] = references
        if concepts:
            preserve_r5(ctx, r, f"{T}.device", "valueCodeableConcept", concepts,
                        "R4 device is Reference(Device) only", "device")
