"""NamingSystems of the package: the identifier systems the case bundles use.

Why declare them: a FHIR server or EHR that receives the case bundles (as conditional creates on these
identifiers, see `fhir-service transform to-transaction`) can look up what an identifier system means and who
issues it. R4 NamingSystem has no `url`, `version` or `title`: it is found by its `uniqueId`.
"""
from __future__ import annotations

from common import CANONICAL, DATE, PUBLISHER, Resource

CASE = f"{CANONICAL}/case"
CASE_RESOURCE = f"{CANONICAL}/case-resource"


def _naming_system(rid: str, name: str, description: str, usage: str, uri: str) -> Resource:
    return {
        "resourceType": "NamingSystem",
        "id": rid,
        "name": name,
        "status": "draft",
        "kind": "identifier",
        "date": DATE,
        "publisher": PUBLISHER,
        "responsible": PUBLISHER,
        "description": description,
        "usage": usage,
        "uniqueId": [{"type": "uri", "value": uri, "preferred": True}],
    }


def naming_systems() -> list[Resource]:
    return [
        _naming_system(
            "case", "CaseIdentifier",
            "Identifies one published case (one patient of a report, or one cohort): the case id of its "
            "timeline, e.g. 004-case1-tisacel-emapalumab.",
            "On the case's Patient or Group and on its Bundle (Bundle.identifier). A fresh-ids copy of a case "
            "appends a tilde and 8 hex digits of its seed to the value.", CASE),
        _naming_system(
            "case-resource", "CaseResourceIdentifier",
            "Identifies one resource of a published case: the case id, a slash, and the stable key of the event in "
            "the case timeline (patient, infusion, condition/crs, day13/drug/0, undated4/lab/1, "
            "aggregate/efs-6mo), e.g. 004-case1-tisacel-emapalumab/day11/drug/0. The "
            "resource id is the uuid5 of the same string, so the identifier is as stable as the id.",
            "On every resource of the case bundles; a transaction made by to-transaction creates each resource "
            "conditionally on it (ifNoneExist), so loading a case twice creates nothing new on any server, "
            "whatever ids it assigns. A fresh-ids copy appends a tilde and 8 hex digits of its seed to the value.",
            CASE_RESOURCE),
    ]
