"""Snapshot generation, rule by rule: small differentials on core bases, each with what must (not) happen."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_service.definitions.registry import Definitions
from fhir_service.definitions.snapshot import SnapshotError, generate_snapshot

FHIR = "http://hl7.org/fhir/StructureDefinition/"


def profile(base: str, *elements: dict[str, Any], url: str = "http://example.org/sd/test") -> dict[str, Any]:
    return {"resourceType": "StructureDefinition", "id": url.rsplit("/", 1)[-1], "url": url, "name": "Test",
            "status": "draft", "kind": "resource", "abstract": False, "type": base.rsplit("/", 1)[-1],
            "baseDefinition": base if "/" in base else FHIR + base, "derivation": "constraint",
            "differential": {"element": list(elements)}}


def el(eid: str, **props: Any) -> dict[str, Any]:
    """A differential element; the path is the id without slice names."""
    path = ".".join(part.split(":", 1)[0] for part in eid.split("."))
    return {"id": eid, "path": path, **props}


def snapshot(sd: dict[str, Any], definitions: Definitions) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in generate_snapshot(sd, definitions)["snapshot"]["element"]}


def ids(sd: dict[str, Any], definitions: Definitions) -> list[str]:
    return [e["id"] for e in generate_snapshot(sd, definitions)["snapshot"]["element"]]


# -- constraints on existing elements ---------------------------------------------------------------------
def test_cardinality_flags_and_texts_override_the_base(definitions: Definitions) -> None:
    snap = snapshot(profile("Patient", el("Patient.birthDate", min=1, mustSupport=True, short="Born on"),
                            el("Patient.active", isModifier=True, isModifierReason="why",
                               meaningWhenMissing="true", defaultValueBoolean=True)), definitions)
    assert (snap["Patient.birthDate"]["min"], snap["Patient.birthDate"]["max"]) == (1, "1")
    assert snap["Patient.birthDate"]["mustSupport"] is True and snap["Patient.birthDate"]["short"] == "Born on"
    assert snap["Patient.birthDate"]["base"] == {"path": "Patient.birthDate", "min": 0, "max": "1"}
    assert snap["Patient.active"]["meaningWhenMissing"] == "true"
    assert snap["Patient.active"]["defaultValueBoolean"] is True
    untouched = snapshot(profile("Patient"), definitions)
    assert untouched["Patient.birthDate"]["min"] == 0 and "mustSupport" not in untouched["Patient.birthDate"]


def test_fixed_pattern_binding_and_value_limits(definitions: Definitions) -> None:
    snap = snapshot(profile(
        "Observation",
        el("Observation.status", fixedCode="final"),
        el("Observation.code", patternCodeableConcept={"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
           binding={"strength": "required", "valueSet": "http://example.org/vs"}),
        el("Observation.value[x]", type=[{"code": "integer"}], minValueInteger=0, maxValueInteger=10),
        el("Observation.note.text", maxLength=200),
    ), definitions)
    assert snap["Observation.status"]["fixedCode"] == "final"
    assert snap["Observation.code"]["patternCodeableConcept"]["coding"][0]["code"] == "8310-5"
    assert snap["Observation.code"]["binding"]["strength"] == "required"
    assert snap["Observation.code"]["binding"]["valueSet"] == "http://example.org/vs"
    assert snap["Observation.value[x]"]["minValueInteger"] == 0 and snap["Observation.value[x]"]["maxValueInteger"] == 10
    assert snap["Observation.note.text"]["maxLength"] == 200


def test_constraints_are_added_to_the_base_ones_with_their_source(definitions: Definitions) -> None:
    sd = profile("Patient", el("Patient", constraint=[{"key": "tst-1", "severity": "error", "human": "x",
                                                       "expression": "name.exists()"}]),
                 el("Patient.name", condition=["tst-1"]))
    snap = snapshot(sd, definitions)
    keys = [c["key"] for c in snap["Patient"]["constraint"]]
    assert "dom-2" in keys and keys[-1] == "tst-1"
    assert snap["Patient"]["constraint"][-1]["source"] == sd["url"]
    assert snap["Patient.name"]["condition"] == ["tst-1"]


def test_type_narrowing_keeps_profiles_and_target_profiles(definitions: Definitions) -> None:
    snap = snapshot(profile(
        "Observation",
        el("Observation.subject", type=[{"code": "Reference", "targetProfile": [FHIR + "Patient"]}]),
        el("Observation.effective[x]", type=[{"code": "dateTime"}]),
        el("Observation.value[x]", type=[{"code": "Quantity", "profile": [FHIR + "SimpleQuantity"]}]),
    ), definitions)
    assert snap["Observation.subject"]["type"] == [{"code": "Reference", "targetProfile": [FHIR + "Patient"]}]
    assert [t["code"] for t in snap["Observation.effective[x]"]["type"]] == ["dateTime"]
    # the SimpleQuantity profile's invariant holds on the element
    assert "sqty-1" in {c["key"] for c in snap["Observation.value[x]"]["constraint"]}


def test_a_type_the_base_does_not_allow_is_an_error(definitions: Definitions) -> None:
    with pytest.raises(SnapshotError, match="type string is not allowed"):
        generate_snapshot(profile("Observation", el("Observation.effective[x]", type=[{"code": "string"}])),
                          definitions)


def test_a_type_derived_from_a_base_type_is_allowed(definitions: Definitions) -> None:
    snap = snapshot(profile("Observation", el("Observation.value[x]", type=[{"code": "Age"}])), definitions)
    assert snap["Observation.value[x]"]["type"] == [{"code": "Age"}]


# -- unfolding datatypes -------------------------------------------------------------------------------------
def test_paths_into_a_datatype_unfold_its_children(definitions: Definitions) -> None:
    element_ids = ids(profile("Patient", el("Patient.identifier.system", min=1)), definitions)
    start = element_ids.index("Patient.identifier")
    assert element_ids[start:start + 9] == [
        "Patient.identifier", "Patient.identifier.id", "Patient.identifier.extension", "Patient.identifier.use",
        "Patient.identifier.type", "Patient.identifier.system", "Patient.identifier.value",
        "Patient.identifier.period", "Patient.identifier.assigner"]
    snap = snapshot(profile("Patient", el("Patient.identifier.system", min=1)), definitions)
    assert snap["Patient.identifier.system"]["min"] == 1
    assert snap["Patient.identifier.system"]["base"]["path"] == "Identifier.system"
    assert "Patient.identifier.system" not in ids(profile("Patient"), definitions)


def test_deep_paths_unfold_every_level(definitions: Definitions) -> None:
    snap = snapshot(profile("Observation", el("Observation.code.coding.system", fixedUri="http://loinc.org")),
                    definitions)
    assert snap["Observation.code.coding.system"]["fixedUri"] == "http://loinc.org"
    assert snap["Observation.code.coding.system"]["path"] == "Observation.code.coding.system"
    assert "Observation.code.text" in snap


def test_children_of_an_element_with_several_types_are_an_error(definitions: Definitions) -> None:
    with pytest.raises(SnapshotError, match="constrain it to one type first"):
        generate_snapshot(profile("Observation", el("Observation.value[x].unit", min=1)), definitions)


def test_content_reference_is_unfolded_from_the_referenced_element(definitions: Definitions) -> None:
    snap = snapshot(profile("Questionnaire", el("Questionnaire.item.item.linkId", maxLength=10)), definitions)
    assert snap["Questionnaire.item.item.linkId"]["maxLength"] == 10
    assert "contentReference" not in snap["Questionnaire.item.item"]
    assert snap["Questionnaire.item.item"]["type"] == [{"code": "BackboneElement"}]
    assert snap["Questionnaire.item.item.item"]["contentReference"] == "#Questionnaire.item"


# -- choice types ---------------------------------------------------------------------------------------------
def test_renamed_choice_becomes_a_type_slice(definitions: Definitions) -> None:
    snap = snapshot(profile("Observation", el("Observation.valueQuantity", min=1),
                            el("Observation.valueQuantity.unit", min=1)), definitions)
    head = snap["Observation.value[x]"]
    assert head["slicing"] == {"discriminator": [{"type": "type", "path": "$this"}], "ordered": False,
                               "rules": "closed"}
    assert [t["code"] for t in head["type"]] == ["Quantity"]
    slice_ = snap["Observation.value[x]:valueQuantity"]
    assert (slice_["path"], slice_["sliceName"], slice_["min"]) == ("Observation.value[x]", "valueQuantity", 1)
    assert snap["Observation.value[x]:valueQuantity.unit"]["path"] == "Observation.value[x].unit"
    assert snap["Observation.value[x]:valueQuantity.unit"]["min"] == 1


def test_renamed_choice_needs_a_type_of_the_element(definitions: Definitions) -> None:
    with pytest.raises(SnapshotError, match="Money is not a type of Observation.value"):
        generate_snapshot(profile("Observation", el("Observation.valueMoney")), definitions)


def test_explicit_type_slices_on_a_choice(definitions: Definitions) -> None:
    snap = snapshot(profile(
        "Observation",
        el("Observation.value[x]", slicing={"discriminator": [{"type": "type", "path": "$this"}], "rules": "open"}),
        el("Observation.value[x]:valueString", sliceName="valueString", maxLength=5),
        el("Observation.value[x]:valueQuantity", sliceName="valueQuantity"),
        el("Observation.value[x]:valueQuantity.code", min=1),
    ), definitions)
    assert snap["Observation.value[x]:valueString"]["type"] == [{"code": "string"}]
    assert snap["Observation.value[x]:valueQuantity"]["type"] == [{"code": "Quantity"}]
    assert snap["Observation.value[x]:valueQuantity.code"]["min"] == 1


# -- slicing ----------------------------------------------------------------------------------------------------
COMPONENT_SLICING = {"discriminator": [{"type": "pattern", "path": "code"}], "ordered": False, "rules": "open"}


def bp_like() -> dict[str, Any]:
    return profile(
        "Observation",
        el("Observation.component", slicing=COMPONENT_SLICING, min=2),
        el("Observation.component:systolic", sliceName="systolic", min=1, max="1"),
        el("Observation.component:systolic.code", patternCodeableConcept={"coding": [{"code": "8480-6"}]}),
        el("Observation.component:systolic.valueQuantity", type=[{"code": "Quantity"}]),
        el("Observation.component:systolic.valueQuantity.unit", fixedString="mmHg"),
        el("Observation.component:diastolic", sliceName="diastolic", min=1, max="1"),
        url="http://example.org/sd/bp-like")


def test_slices_follow_the_sliced_element_and_its_children(definitions: Definitions) -> None:
    element_ids = ids(bp_like(), definitions)
    head = element_ids.index("Observation.component")
    systolic = element_ids.index("Observation.component:systolic")
    diastolic = element_ids.index("Observation.component:diastolic")
    assert head < element_ids.index("Observation.component.code") < systolic < diastolic
    assert element_ids[systolic + 1:systolic + 6] == [
        "Observation.component:systolic.id", "Observation.component:systolic.extension",
        "Observation.component:systolic.modifierExtension", "Observation.component:systolic.code",
        "Observation.component:systolic.value[x]"]
    snap = snapshot(bp_like(), definitions)
    assert snap["Observation.component"]["slicing"] == COMPONENT_SLICING
    assert snap["Observation.component"]["min"] == 2
    systolic_el = snap["Observation.component:systolic"]
    assert (systolic_el["path"], systolic_el["sliceName"], systolic_el["min"], systolic_el["max"]) == \
        ("Observation.component", "systolic", 1, "1")
    assert "slicing" not in systolic_el
    # inside a slice a renamed choice narrows the type without a type slice (as the publisher does: bp)
    assert [t["code"] for t in snap["Observation.component:systolic.value[x]"]["type"]] == ["Quantity"]
    assert snap["Observation.component:systolic.value[x].unit"]["fixedString"] == "mmHg"
    assert snap["Observation.component:diastolic.code"]["min"] == 1  # from the base, unconstrained
    assert "patternCodeableConcept" not in snap["Observation.component:diastolic.code"]


def test_a_slice_without_slicing_is_an_error(definitions: Definitions) -> None:
    sd = profile("Observation", el("Observation.component:systolic", sliceName="systolic"))
    with pytest.raises(SnapshotError, match="is a slice, but Observation.component is not sliced"):
        generate_snapshot(sd, definitions)


def test_slices_of_a_sliced_base_are_constrained_and_extended(definitions: Definitions) -> None:
    base = bp_like()
    base["snapshot"] = generate_snapshot(base, definitions)["snapshot"]
    local = definitions.copy()
    local.add(base)
    derived = profile(base["url"],
                      el("Observation.component:diastolic.code", short="DBP"),
                      el("Observation.component:mean", sliceName="mean", max="1"),
                      el("Observation.component:systolic", max="1", mustSupport=True))
    derived["type"] = "Observation"
    snap = snapshot(derived, local)
    order = [i for i in snap if i.count(".") == 1 and i.startswith("Observation.component:")]
    assert order == ["Observation.component:systolic", "Observation.component:diastolic",
                     "Observation.component:mean"]
    assert snap["Observation.component:systolic"]["mustSupport"] is True
    assert snap["Observation.component:systolic.value[x].unit"]["fixedString"] == "mmHg"  # kept from the base
    assert snap["Observation.component:diastolic.code"]["short"] == "DBP"


def test_reslicing(definitions: Definitions) -> None:
    base = bp_like()
    base["snapshot"] = generate_snapshot(base, definitions)["snapshot"]
    local = definitions.copy()
    local.add(base)
    derived = profile(base["url"],
                      el("Observation.component:systolic", slicing={"discriminator": [{"type": "value",
                                                                                      "path": "id"}],
                                                                    "rules": "open"}),
                      el("Observation.component:systolic/arm", sliceName="systolic/arm", max="1"))
    derived["type"] = "Observation"
    snap = snapshot(derived, local)
    assert snap["Observation.component:systolic/arm"]["sliceName"] == "systolic/arm"
    element_ids = list(snap)
    assert element_ids.index("Observation.component:systolic") < element_ids.index(
        "Observation.component:systolic/arm") < element_ids.index("Observation.component:diastolic")


def test_extension_slices_get_url_slicing_and_keep_their_profile(definitions: Definitions) -> None:
    nationality = FHIR + "patient-nationality"
    snap = snapshot(profile("Patient", el("Patient.extension:nationality", sliceName="nationality", max="1",
                                          type=[{"code": "Extension", "profile": [nationality]}])), definitions)
    assert snap["Patient.extension"]["slicing"]["discriminator"] == [{"type": "value", "path": "url"}]
    assert snap["Patient.extension:nationality"]["type"] == [{"code": "Extension", "profile": [nationality]}]
    assert "Patient.extension:nationality.url" not in snap  # not unfolded where the differential does not go


def test_children_of_a_complex_extension_slice_come_from_its_definition(definitions: Definitions) -> None:
    nationality = FHIR + "patient-nationality"
    snap = snapshot(profile(
        "Patient",
        el("Patient.extension:nationality", sliceName="nationality",
           type=[{"code": "Extension", "profile": [nationality]}]),
        el("Patient.extension:nationality.extension:code", sliceName="code", min=1),
    ), definitions)
    assert snap["Patient.extension:nationality.extension:code"]["min"] == 1
    assert snap["Patient.extension:nationality.extension:code.url"]["fixedUri"] == "code"
    assert snap["Patient.extension:nationality.url"]["fixedUri"] == nationality
    assert snap["Patient.extension:nationality.value[x]"]["max"] == "0"


# -- extension definitions ---------------------------------------------------------------------------------
def test_simple_extension_definition(definitions: Definitions) -> None:
    url = "http://example.org/StructureDefinition/relative-day"
    sd = profile("Extension", el("Extension", max="1"), el("Extension.extension", max="0"),
                 el("Extension.url", fixedUri=url), el("Extension.value[x]", min=1, type=[{"code": "integer"}]),
                 url=url)
    snap = snapshot(sd, definitions)
    assert list(snap) == ["Extension", "Extension.id", "Extension.extension", "Extension.url", "Extension.value[x]"]
    assert snap["Extension.url"]["fixedUri"] == url
    assert snap["Extension.value[x]"]["type"] == [{"code": "integer"}] and snap["Extension.value[x]"]["min"] == 1


def test_complex_extension_definition(definitions: Definitions) -> None:
    url = "http://example.org/StructureDefinition/grading"
    sd = profile("Extension",
                 el("Extension.extension:system", sliceName="system", min=1, max="1"),
                 el("Extension.extension:system.url", fixedUri="system"),
                 el("Extension.extension:system.value[x]", type=[{"code": "CodeableConcept"}]),
                 el("Extension.url", fixedUri=url), el("Extension.value[x]", max="0"), url=url)
    snap = snapshot(sd, definitions)
    assert snap["Extension.extension:system"]["min"] == 1
    assert snap["Extension.extension:system.url"]["fixedUri"] == "system"
    assert snap["Extension.extension:system.value[x]"]["type"] == [{"code": "CodeableConcept"}]
    assert snap["Extension.extension:system.value[x]"]["path"] == "Extension.extension.value[x]"
    assert snap["Extension.value[x]"]["max"] == "0"


# -- errors, identity and safety ----------------------------------------------------------------------------
def test_an_unknown_path_is_an_error_naming_it(definitions: Definitions) -> None:
    with pytest.raises(SnapshotError, match="Patient.dateOfBirth matches no element"):
        generate_snapshot(profile("Patient", el("Patient.dateOfBirth", min=1)), definitions)


def test_lenient_generation_leaves_out_what_matches_nothing(definitions: Definitions) -> None:
    """For using a flawed profile (the Java validator does): the rest of its constraints still apply."""
    flawed = profile("Patient", el("Patient.dateOfBirth", min=1), el("Patient.gender", min=1))
    snap = {e["id"]: e for e in generate_snapshot(flawed, definitions, lenient=True)["snapshot"]["element"]}
    assert snap["Patient.gender"]["min"] == 1 and "Patient.dateOfBirth" not in snap
    widened = profile("Patient", el("Patient.gender", min=1, max="*"), el("Patient.active", min=1))
    with pytest.raises(SnapshotError, match="exceeds the base's max"):
        generate_snapshot(widened, definitions)
    lenient = {e["id"]: e for e in generate_snapshot(widened, definitions, lenient=True)["snapshot"]["element"]}
    assert (lenient["Patient.gender"]["min"], lenient["Patient.gender"]["max"]) == (0, "1")  # the base's stands
    assert lenient["Patient.active"]["min"] == 1


def test_the_children_every_type_of_a_choice_shares_can_be_constrained(definitions: Definitions) -> None:
    snap = snapshot(profile("MedicationStatement", el("MedicationStatement.effective[x]", min=1),
                            el("MedicationStatement.effective[x].extension", max="1")), definitions)
    assert snap["MedicationStatement.effective[x].extension"]["max"] == "1"
    with pytest.raises(SnapshotError, match="constrain it to one type first"):
        generate_snapshot(profile("MedicationStatement", el("MedicationStatement.effective[x].start", min=1)),
                          definitions)


def test_new_slices_keep_the_constraints_on_the_sliced_elements_children(definitions: Definitions) -> None:
    snap = snapshot(profile(
        "Parameters",
        el("Parameters.parameter", slicing={"discriminator": [{"type": "value", "path": "name"}], "rules": "open"}),
        el("Parameters.parameter.extension", max="0"),
        el("Parameters.parameter:one", sliceName="one", max="1"),
        el("Parameters.parameter:one.name", fixedString="one")), definitions)
    assert snap["Parameters.parameter:one.extension"]["max"] == "0"
    assert snap["Parameters.parameter:one"]["min"] == 0 and snap["Parameters.parameter:one"]["max"] == "1"


def test_an_unknown_base_is_an_error(definitions: Definitions) -> None:
    with pytest.raises(SnapshotError, match="not a known StructureDefinition"):
        generate_snapshot(profile("http://example.org/sd/missing", el("Patient")), definitions)


def test_circular_definitions_stop_with_an_error(definitions: Definitions) -> None:
    local = definitions.copy()
    a = profile("http://example.org/sd/b", el("Patient"), url="http://example.org/sd/a")
    b = profile("http://example.org/sd/a", el("Patient"), url="http://example.org/sd/b")
    local.add(a)
    local.add(b)
    with pytest.raises(SnapshotError, match="circular"):
        local.structure_definition(a["url"])


def test_the_input_is_not_modified_and_the_result_shares_nothing(definitions: Definitions) -> None:
    sd = bp_like()
    before = copy.deepcopy(sd)
    generated = generate_snapshot(sd, definitions)
    assert sd == before and "snapshot" not in sd
    assert generated["differential"] == sd["differential"]
    observation = definitions.structure_definition("Observation")
    published = copy.deepcopy(observation["snapshot"])
    for elem in generated["snapshot"]["element"]:
        elem.setdefault("type", []).append({"code": "x"})
        elem.clear()
    assert observation["snapshot"] == published


def test_elements_follow_base_order_whatever_the_differential_order(definitions: Definitions) -> None:
    forward = ids(profile("Patient", el("Patient.name", min=1), el("Patient.gender", min=1)), definitions)
    backward = ids(profile("Patient", el("Patient.gender", min=1), el("Patient.name", min=1)), definitions)
    assert forward == backward
    assert forward.index("Patient.name") < forward.index("Patient.gender")


def test_snapshot_is_placed_before_the_differential(definitions: Definitions) -> None:
    keys = list(generate_snapshot(profile("Patient"), definitions))
    assert keys.index("snapshot") == keys.index("differential") - 1


# -- cardinality may only narrow -----------------------------------------------------------------------------
@pytest.mark.parametrize("props, message", [
    ({"max": "*"}, "max \\* exceeds the base's max 1"),
    ({"min": 2}, "min 2 is greater than max 1"),
    ({"max": "many"}, "is not a number"),
])
def test_cardinality_wider_than_the_base_is_an_error(props: dict, message: str, definitions: Definitions) -> None:
    with pytest.raises(SnapshotError, match=message):
        generate_snapshot(profile("Patient", el("Patient.birthDate", **props)), definitions)


def test_min_below_the_base_min_is_an_error_but_not_for_a_slice(definitions: Definitions) -> None:
    with pytest.raises(SnapshotError, match="min 0 is below the base's min 1"):
        generate_snapshot(profile("Observation", el("Observation.status", min=0)), definitions)
    # vitalsigns has Observation.category 1..* sliced; a new slice is 0..1 of it
    sd = profile(FHIR + "vitalsigns", el("Observation.category:extra", sliceName="extra", min=0, max="1"))
    sd["type"] = "Observation"
    snap = snapshot(sd, definitions)
    assert snap["Observation.category:extra"]["min"] == 0 and snap["Observation.category"]["min"] == 1
    assert list(snap).index("Observation.category:VSCat") < list(snap).index("Observation.category:extra")


def test_a_binding_replaces_the_base_description_and_keeps_its_value_set(definitions: Definitions) -> None:
    snap = snapshot(profile("Observation", el("Observation.status", short="s", binding={"strength": "required"})),
                    definitions)
    binding = snap["Observation.status"]["binding"]
    assert binding["strength"] == "required" and binding["valueSet"].startswith(
        "http://hl7.org/fhir/ValueSet/observation-status")
    assert "description" not in binding


def test_a_required_binding_cannot_be_weakened(definitions: Definitions) -> None:
    with pytest.raises(SnapshotError, match="required in the base and cannot become extensible"):
        generate_snapshot(profile("Observation", el("Observation.status", binding={"strength": "extensible"})),
                          definitions)
    snap = snapshot(profile("Observation", el("Observation.code", binding={"strength": "required",
                                                                        "valueSet": "http://x/vs"})), definitions)
    assert snap["Observation.code"]["binding"]["strength"] == "required"  # example -> required: narrower, fine


# -- malformed input is an error, never a crash ----------------------------------------------------------------
@pytest.mark.parametrize("differential", [
    [{"id": "Patient.name", "path": "Patient.name", "type": "HumanName"}],
    [{"id": "Patient.name", "path": "Patient.name", "type": [{"profile": ["x"]}]}],
    [{"id": "Patient.name", "path": "Patient.name", "min": "1"}],
    [{"id": "Patient.name", "path": "Patient.name", "binding": "required"}],
    [{"id": "Patient.name", "path": "Patient.name", "constraint": ["nm-1"]}],
    [{"id": "Patient.name"}],
    ["Patient.name"],
    [{"id": "Patient.name", "path": "Patient.name"}, {"id": "Patient.name", "path": "Patient.name"}],
    [{"path": "Observation.status"}],
])
def test_malformed_differentials_raise_snapshot_errors(differential: list, definitions: Definitions) -> None:
    sd = profile("Patient")
    sd["differential"] = {"element": differential}
    with pytest.raises(SnapshotError):
        generate_snapshot(sd, definitions)


def test_randomly_damaged_differentials_never_crash(definitions: Definitions) -> None:
    """Seeded damage to a realistic differential: every outcome is a snapshot or a SnapshotError."""
    import random

    rng = random.Random(20261121)
    junk: list[Any] = [None, 0, -1, "x", "*", [], {}, ["x"], [{}], {"a": 1}, True, "Observation.nope"]
    outcomes = {"generated": 0, "error": 0}
    for _ in range(300):
        sd = bp_like()
        elements = sd["differential"]["element"]
        for _ in range(rng.randint(1, 3)):
            elem = rng.choice(elements)
            key = rng.choice(["path", "id", "min", "max", "type", "sliceName", "slicing", "binding",
                              "patternCodeableConcept", "constraint", "condition"])
            elem[key] = rng.choice(junk)
        try:
            generate_snapshot(sd, definitions)
            outcomes["generated"] += 1
        except SnapshotError:
            outcomes["error"] += 1
    assert outcomes["error"] > 0 and outcomes["generated"] > 0


def test_children_of_a_profiled_type_come_from_the_profile(definitions: Definitions) -> None:
    """referenceRange.low is a SimpleQuantity: its comparator is already 0..0 there."""
    snap = snapshot(profile("Observation", el("Observation.referenceRange.low.unit", min=1)), definitions)
    assert snap["Observation.referenceRange.low.unit"]["min"] == 1
    assert snap["Observation.referenceRange.low.comparator"]["max"] == "0"
    plain = snapshot(profile("Observation", el("Observation.valueQuantity.unit", min=1)), definitions)
    assert plain["Observation.value[x]:valueQuantity.comparator"]["max"] == "1"


def test_children_of_a_type_whose_profile_is_unavailable_come_from_the_type(definitions: Definitions) -> None:
    """As the Java generator does: the missing profile stays on the type (the validator reports it)."""
    missing = "http://example.org/sd/identifier-missing"
    snap = snapshot(profile("Organization", el("Organization.identifier", type=[{"code": "Identifier",
                                                                                 "profile": [missing]}]),
                            el("Organization.identifier.system", min=1)), definitions)
    assert snap["Organization.identifier.system"]["min"] == 1
    assert snap["Organization.identifier"]["type"] == [{"code": "Identifier", "profile": [missing]}]


def test_type_slices_without_slicing_get_a_closed_type_slicing(definitions: Definitions) -> None:
    snap = snapshot(profile("Observation", el("Observation.value[x]:valueString", sliceName="valueString",
                                              maxLength=3)), definitions)
    assert snap["Observation.value[x]"]["slicing"]["discriminator"] == [{"type": "type", "path": "$this"}]
    assert snap["Observation.value[x]:valueString"]["type"] == [{"code": "string"}]


def test_the_result_does_not_share_the_differential_with_the_input(definitions: Definitions) -> None:
    sd = bp_like()
    generated = generate_snapshot(sd, definitions)
    generated["differential"]["element"].clear()
    assert len(sd["differential"]["element"]) == 6


def test_reference_targets_may_only_narrow(definitions: Definitions) -> None:
    with pytest.raises(SnapshotError, match="target .*Practitioner is not one of the base's targets"):
        generate_snapshot(profile("Observation", el("Observation.subject", type=[
            {"code": "Reference", "targetProfile": [FHIR + "Practitioner"]}])), definitions)
    # a profile of an allowed target (vitalsigns' subject is Reference(Patient); bodyweight is an Observation)
    snap = snapshot(profile("Observation", el("Observation.hasMember", type=[
        {"code": "Reference", "targetProfile": [FHIR + "bodyweight"]}])), definitions)
    assert snap["Observation.hasMember"]["type"][0]["targetProfile"] == [FHIR + "bodyweight"]
