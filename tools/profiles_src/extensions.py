"""Extension definitions: the day relative to CAR-T infusion and the other facts R4 has no element for."""
from __future__ import annotations

from typing import Any

from common import SD, UCUM, VS, Resource, header
from elements import binding, constraint, el, structure_definition

#: Resources that carry a clinical date, and so the day relative to infusion.
DATED = ["Observation", "Condition", "MedicationAdministration", "Procedure", "Encounter", "DiagnosticReport",
         "AdverseEvent", "MedicationStatement"]
#: Elements that hold the end (or start) of a period: the day goes on the element itself.
PERIOD_ELEMENTS = ["Condition.onset[x]", "Condition.abatement[x]", "Period.start", "Period.end",
                   "Patient.deceased[x]"]


def _extension(rid: str, name: str, title: str, description: str, context: list[str],
               value_types: list[str], value_fields: dict[str, Any] | None = None,
               extra: list[dict[str, Any]] | None = None, invariants: list[dict[str, str]] | None = None
               ) -> Resource:
    head = header("StructureDefinition", rid, name, title, description)
    root = el("Extension", short=title, definition=description)
    if invariants:
        root["constraint"] = invariants
    elements = [
        root,
        el("Extension.extension", max="0"),
        el("Extension.url", fixedUri=head["url"]),
        el("Extension.value[x]", min=1, type=[{"code": t} for t in value_types], **(value_fields or {})),
    ]
    return structure_definition(head, "Extension", "complex-type", elements + (extra or []), context=context)


def extensions() -> list[Resource]:
    source = SD
    return [
        _extension(
            "relative-day", "RelativeDay", "Day relative to CAR-T infusion",
            "The day of the event relative to the CAR-T cell infusion (Day 0 = infusion day; Day -5 = five days "
            "before; Day +1 = the day after), as case reports give it. On a resource it is the day of the "
            "event, or the first day of a period (onset of a Condition, first dose of a course). The last day of "
            "a period goes on the element that ends it: Condition.abatement[x] (`_abatementDateTime`) or "
            "Period.end (`_end`); the day of death on Patient.deceased[x]. Calendar dates are rarely published, "
            "so this is the time axis of every dated "
            "resource of the package.",
            DATED + PERIOD_ELEMENTS, ["integer"]),
        _extension(
            "source-publication", "SourcePublication", "Source publication (DOI)",
            "The DOI of the published case report or study the data was curated from (e.g. "
            "10.3389/fonc.2025.1543622).", ["Patient", "Group"], ["string"],
            invariants=[constraint(
                "cart-20", "The source publication is a DOI (10.<registrant>/<suffix>)",
                "value.ofType(string).all(matches('^10\\\\.[0-9]{4,9}/\\\\S+$'))", source + "source-publication")]),
        _extension(
            "age-at-infusion", "AgeAtInfusion", "Age at CAR-T infusion",
            "The patient's age at CAR-T infusion where the report gives only an age (no birth date), "
            "as a UCUM Age (years 'a', months 'mo', weeks 'wk' or days 'd').", ["Patient"], ["Age"],
            extra=[el("Extension.value[x].value", min=1),
                   el("Extension.value[x].system", min=1, fixedUri=UCUM),
                   el("Extension.value[x].code", min=1,
                      binding=binding("required", "http://hl7.org/fhir/ValueSet/age-units", "UCUM units of age"))]),
        _extension(
            "car-construct", "CarConstruct", "CAR construct",
            "The CAR construct of the infused product: the product code, or the construct as described "
            "(e.g. 'PSCA-directed CAR with rimiducid-inducible MyD88/CD40 switch').",
            ["MedicationAdministration", "Procedure"], ["string", "CodeableConcept"],
            value_fields={"binding": binding("extensible", VS + "cart-products", "CAR-T products")}),
        _extension(
            "target-antigen", "TargetAntigen", "CAR target antigen",
            "The antigen targeted by the CAR of the infused product (CD19, CD22, BCMA, PSCA ...).",
            ["MedicationAdministration", "Procedure", "Group"], ["CodeableConcept"],
            value_fields={"binding": binding("extensible", VS + "target-antigens", "CAR target antigens")}),
        _extension(
            "grading-system", "GradingSystem", "Toxicity grading system",
            "The grading system a toxicity grade follows (ASTCT 2019, ASTCT 2023 IEC-HS, CTCAE v5, Lee 2014, "
            "Penn, CARTOX). Case reports mix systems and grades are never converted between them.",
            ["Condition", "Observation", "AdverseEvent"], ["CodeableConcept"],
            value_fields={"binding": binding("required", VS + "grading-systems", "Toxicity grading systems")}),
        _extension(
            "dose-frequency", "DoseFrequency", "Dose frequency",
            "How often the drug was given during the recorded course (e.g. every 6 hours = frequency 1, period "
            "6, periodUnit h; twice daily = frequency 2, period 1, periodUnit d). R4 MedicationAdministration "
            "has no timing element.", ["MedicationAdministration.dosage"], ["Timing"]),
    ]
