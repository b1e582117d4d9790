"""Observation, Condition and Patient R4 <-> R5.

Observation: R5 only adds (triggeredBy, bodyStructure, instantiates[x], valueAttachment/valueReference,
referenceRange.normalValue), and SampledData.period (ms) became interval + intervalUnit.
Condition: R5 makes clinicalStatus required (an R4 Condition without one gets a data-absent-reason in R5
and loses it again in R4), replaces asserter/recorder by participant (function `informant` / `enterer` of
provenance-participant-type: our choice, the official map was not at hand), and makes evidence a list of
CodeableReference: an R4 evidence with at most one code and one detail maps to one CodeableReference and
back; a larger one is also carried whole in a 4.0 extension so that its grouping survives the round trip.
Patient: the same elements in both versions (Attachment.size of a photo is a string in R5).
"""
from __future__ import annotations

from typing import Any

from fhir_service.transform.r5_common import (DATA_ABSENT, R5_EXT, Ctx, Json, as_list, attachment_to_r4,
                                              attachment_to_r5, extension_value,
                                              preserve_r4, preserve_r5, restore_r4, restore_r5, restore_r5_nested,
                                              take_extensions)
from fhir_service.validation.outcome import Issue

PARTICIPANT_SYSTEM = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
PARTICIPANT_ROLES = (("asserter", "informant"), ("recorder", "enterer"))
MS_PER_UNIT = {"ms": 1, "s": 1000, "min": 60000, "h": 3600000}


# ---- Observation ----------------------------------------------------------------------------------------

OBS_R5_SIMPLE = (("instantiatesCanonical", "valueCanonical"), ("instantiatesReference", "valueReference"),
                 ("bodyStructure", "valueReference"))
OBS_R5_VALUES = (("valueAttachment", "valueAttachment"), ("valueReference", "valueReference"))


def _sampled_to_r5(holder: Json) -> None:
    data = holder.get("valueSampledData")
    if isinstance(data, dict) and "period" in data:
        data["interval"] = data.pop("period")
        data["intervalUnit"] = "ms"
        if "_period" in data:
            data["_interval"] = data.pop("_period")


def _sampled_to_r4(holder: Json, ctx: Ctx) -> None:
    data = holder.get("valueSampledData")
    if not isinstance(data, dict) or "interval" not in data:
        return
    unit = data.pop("intervalUnit", "ms")
    factor = MS_PER_UNIT.get(unit)
    interval = data.pop("interval")
    if factor is None:
        ctx.lossy("valueSampledData.interval", f"interval unit {unit!r} has no millisecond equivalent",
                  preserved=False)
        return
    data["period"] = interval * factor if factor != 1 else interval
    for key in ("codeMap", "offsets"):
        if key in data:
            ctx.lossy(f"valueSampledData.{key}", f"SampledData.{key} is new in R5", preserved=False)
            del data[key]


def _obs_values_to_r4(holder: Json, ctx: Ctx, path: str) -> None:
    attachment_to_r4(holder.get("valueAttachment"), ctx, "valueAttachment")
    for key, value_key in OBS_R5_VALUES:
        if key in holder:
            preserve_r5(ctx, holder, f"{path}.value", value_key, holder.pop(key), f"{path}.{key} is new in R5", key)


def _obs_values_to_r5(holder: Json, path: str) -> None:
    for extension in take_extensions(holder, f"{R5_EXT}{path}.value"):
        key, value = extension_value(extension)
        if key:
            holder[key] = value
            if key == "valueAttachment":
                attachment_to_r5(value)


def observation_to_r5(r: Json, ctx: Ctx) -> None:
    _sampled_to_r5(r)
    _obs_values_to_r5(r, "Observation")
    for component in as_list(r.get("component")):
        _sampled_to_r5(component)
        _obs_values_to_r5(component, "Observation.component")
    for name, _ in OBS_R5_SIMPLE:
        values = restore_r5(r, f"Observation.{name}")
        if values:
            r[name] = values[0]
    triggers = restore_r5_nested(r, "Observation.triggeredBy")
    if triggers:
        r["triggeredBy"] = [{k: v[0] for k, v in t.items()} for t in triggers]
    for rng in as_list(r.get("referenceRange")):
        normal = restore_r5(rng, "Observation.referenceRange.normalValue")
        if normal:
            rng["normalValue"] = normal[0]


def observation_to_r4(r: Json, ctx: Ctx) -> None:
    _sampled_to_r4(r, ctx)
    _obs_values_to_r4(r, ctx, "Observation")
    for index, component in enumerate(as_list(r.get("component"))):
        sub = ctx.at(ctx.path(f"component[{index}]"))
        _sampled_to_r4(component, sub)
        _obs_values_to_r4(component, sub, "Observation.component")
    for name, value_key in OBS_R5_SIMPLE:
        if name in r:
            preserve_r5(ctx, r, f"Observation.{name}", value_key, r.pop(name), f"Observation.{name} is new in R5",
                        name)
            r.pop("_" + name, None)
    triggers = as_list(r.pop("triggeredBy", None))
    for trigger in triggers:
        nested = []
        for key, value_key in (("observation", "valueReference"), ("type", "valueCode"), ("reason", "valueString")):
            if key in trigger:
                nested.append({"url": key, value_key: trigger[key]})
        r.setdefault("extension", []).append({"url": f"{R5_EXT}Observation.triggeredBy", "extension": nested})
    if triggers:
        ctx.lossy("triggeredBy", "Observation.triggeredBy is new in R5", preserved=True)
    for index, rng in enumerate(as_list(r.get("referenceRange"))):
        if "normalValue" in rng:
            preserve_r5(ctx.at(ctx.path(f"referenceRange[{index}]")), rng, "Observation.referenceRange.normalValue",
                        "valueCodeableConcept", rng.pop("normalValue"), "referenceRange.normalValue is new in R5",
                        "normalValue")


# ---- Condition ------------------------------------------------------------------------------------------

def _role(participant: Json) -> str | None:
    for coding in as_list((participant.get("function") or {}).get("coding")):
        if coding.get("system") == PARTICIPANT_SYSTEM:
            return coding.get("code")
    return None


def _evidence_is_simple(item: Any) -> bool:
    return isinstance(item, dict) and set(item) <= {"code", "detail"} \
        and len(as_list(item.get("code"))) <= 1 and len(as_list(item.get("detail"))) <= 1 and bool(item)


def condition_to_r5(r: Json, ctx: Ctx) -> None:
    if "clinicalStatus" not in r:
        r["clinicalStatus"] = {"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}
        ctx.issues.append(Issue("warning", "informational", "R5 requires Condition.clinicalStatus; the R4 "
                                "Condition has none: a data-absent-reason (unknown) stands in",
                                ctx.path("clinicalStatus")))
    participants = []
    for element, role in PARTICIPANT_ROLES:
        if element in r:
            participants.append({"function": {"coding": [{"system": PARTICIPANT_SYSTEM, "code": role}]},
                                 "actor": r.pop(element)})
    for carried in restore_r5_nested(r, "Condition.participant"):
        item: Json = {}
        if carried.get("function"):
            item["function"] = carried["function"][0]
        if carried.get("actor"):
            item["actor"] = carried["actor"][0]
        participants.append(item)
    if participants:
        r["participant"] = participants
    evidence = as_list(r.get("evidence"))
    if evidence:
        flat = []
        for item in evidence:
            if _evidence_is_simple(item):
                flat.append({**({"concept": item["code"][0]} if item.get("code") else {}),
                             **({"reference": item["detail"][0]} if item.get("detail") else {})})
            else:
                flat.extend({"concept": c} for c in as_list(item.get("code")))
                flat.extend({"reference": d} for d in as_list(item.get("detail")))
        if not all(_evidence_is_simple(item) for item in evidence):
            preserve_r4(ctx, r, "Condition", "evidence", evidence, "an R4 evidence groups several codes/details; "
                        "R5 evidence is one CodeableReference each (grouping)")
        r["evidence"] = flat


def condition_to_r4(r: Json, ctx: Ctx) -> None:
    status = r.get("clinicalStatus")
    if isinstance(status, dict) and set(status) == {"extension"} and \
            all(e.get("url") == DATA_ABSENT for e in status["extension"]):
        del r["clinicalStatus"]
        ctx.note("clinicalStatus", "a data-absent clinicalStatus (required in R5, optional in R4) is left out")
    taken: set[str] = set()
    extra = []
    for index, participant in enumerate(as_list(r.pop("participant", None))):
        role = _role(participant)
        element = next((e for e, code in PARTICIPANT_ROLES if code == role), None)
        if element and element not in taken and set(participant) == {"function", "actor"}:
            r[element] = participant["actor"]
            taken.add(element)
        else:
            extra.append((index, participant))
    for index, participant in extra:
        nested = []
        if "function" in participant:
            nested.append({"url": "function", "valueCodeableConcept": participant["function"]})
        if "actor" in participant:
            nested.append({"url": "actor", "valueReference": participant["actor"]})
        r.setdefault("extension", []).append({"url": f"{R5_EXT}Condition.participant", "extension": nested})
        ctx.lossy(f"participant[{index}]", "R4 has only asserter and recorder", preserved=True)
    carried = restore_r4(ctx, r, "Condition", "evidence")
    if carried is not None:
        r["evidence"] = carried
    elif "evidence" in r:
        out = []
        for index, item in enumerate(as_list(r["evidence"])):
            if not isinstance(item, dict):
                continue
            converted: Json = {}
            if "concept" in item:
                converted["code"] = [item["concept"]]
            if "reference" in item:
                converted["detail"] = [item["reference"]]
            out.append(converted)
        r["evidence"] = out


def patient_to_r5(r: Json, ctx: Ctx) -> None:
    """Patient has the same elements in R4 and R5; only Attachment.size (photo) changed type."""
    for photo in as_list(r.get("photo")):
        attachment_to_r5(photo)


def patient_to_r4(r: Json, ctx: Ctx) -> None:
    for index, photo in enumerate(as_list(r.get("photo"))):
        attachment_to_r4(photo, ctx, f"photo[{index}]")
