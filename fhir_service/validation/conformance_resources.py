"""Checks of StructureDefinitions given as instances: their differential must produce a snapshot.

As the HL7 validator does when it validates a profile: a differential the snapshot generator rejects (an element
that is not in the base, a choice renamed to a type it does not have, a base that cannot be found) is an error
in the profile itself, reported at the StructureDefinition.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_service.validation.outcome import Location

if TYPE_CHECKING:
    from fhir_service.validation.walker import Walk


def check_structure_definition(walk: "Walk", sd: dict[str, Any], expr: str, loc: Location) -> None:
    differential = sd.get("differential")
    if not isinstance(differential, dict) or not differential.get("element") or not sd.get("baseDefinition"):
        return
    try:
        from fhir_service.definitions.snapshot import generate_snapshot
    except ImportError:  # no snapshot generator: nothing to check against
        return
    candidate = {k: v for k, v in sd.items() if k != "snapshot"}
    try:
        generate_snapshot(candidate, walk.defs)
    except RecursionError:
        walk.issue("error", "processing", "Error generating Snapshot: the definition derives from itself", expr, loc)
    except Exception as exc:  # noqa: BLE001 - SnapshotError and whatever a broken differential provokes
        walk.issue("error", "processing", f"Error generating Snapshot: {exc}", expr, loc)
