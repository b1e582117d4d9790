"""The CapabilityStatement, generated from what this server really does.

Search parameters are listed per type only when the store compiled them (see `store.search_params`), the
project's profiles come from the loaded definitions (profiles/ StructureDefinitions, by their `type`), and
the interactions are those the router has routes for.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import fhir_service

TYPE_INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create",
                     "search-type"]
SPECIAL_PARAMS = [("_id", "token", "http://hl7.org/fhir/SearchParameter/Resource-id"),
                  ("_lastUpdated", "date", "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated"),
                  ("_text", "string", "http://hl7.org/fhir/SearchParameter/DomainResource-text"),
                  ("_content", "string", "http://hl7.org/fhir/SearchParameter/Resource-content")]


def _project_profiles(definitions: Any) -> dict[str, list[str]]:
    """Profile URLs by resource type, from every package except the core."""
    by_type: dict[str, list[str]] = {}
    for package in getattr(definitions, "packages", []):
        if getattr(package, "name", "") == "hl7.fhir.r4.core":
            continue
        for entry in package.entries:
            if entry.resource_type == "StructureDefinition" and entry.url and \
                    entry.meta.get("kind") == "resource" and entry.meta.get("derivation") == "constraint":
                by_type.setdefault(entry.meta.get("type") or "", []).append(entry.url)
    return by_type


def capability_statement(rest: Any) -> dict[str, Any]:
    registry = rest.repo.registry
    profiles = _project_profiles(rest.definitions)
    resources = []
    for resource_type in sorted(rest.repo.resource_types):
        params = registry.for_type(resource_type)
        search_params = [{"name": n, "definition": d, "type": t} for n, t, d in SPECIAL_PARAMS]
        search_params += [{"name": p.code, **({"definition": p.url} if p.url else {}), "type": p.type}
                          for code, p in sorted(params.items()) if code not in {n for n, _, _ in SPECIAL_PARAMS}]
        references = sorted(code for code, p in params.items() if p.type == "reference")
        entry: dict[str, Any] = {
            "type": resource_type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        }
        if profiles.get(resource_type):
            entry["supportedProfile"] = sorted(profiles[resource_type])
        entry.update({
            "interaction": [{"code": code} for code in TYPE_INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "not-supported",
            "conditionalUpdate": True,
            "conditionalDelete": "single",
            "searchInclude": ["*"] + [f"{resource_type}:{code}" for code in references],
            "searchRevInclude": ["*"],
            "searchParam": search_params,
            "operation": [{"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"}],
        })
        if resource_type == "Bundle":
            from fhir_service.rest.operations import TRANSFORM_DEFINITION

            entry["operation"].append({"name": "transform", "definition": TRANSFORM_DEFINITION,
                                       "documentation": "POST a Parameters resource: transform (code: "
                                                        "to-transaction | redate | to-r5 | to-r4), bundle (the "
                                                        "input Bundle) and the transform's own parameters"})
        if resource_type == "Patient":
            entry["operation"].append({"name": "everything",
                                       "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"})
        resources.append(entry)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now,
        "publisher": "CAR-T toxicity FHIR service",
        "kind": "instance",
        "software": {"name": rest.config.software_name, "version": getattr(fhir_service, "__version__", "0.1.0")},
        "implementation": {"description": "FHIR R4 server for CAR-T cell therapy toxicity case reports"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json", "application/fhir+xml", "xml"],
        "patchFormat": ["application/json-patch+json"],
        "implementationGuide": sorted({getattr(p, "canonical", "") for p in getattr(rest.definitions, "packages", [])
                                       if getattr(p, "name", "") != "hl7.fhir.r4.core" and getattr(p, "canonical", "")}),
        "rest": [{
            "mode": "server",
            "documentation": "Search: string/token/date/reference/number/quantity/uri/composite parameters with "
                             "prefixes (eq ne gt lt ge le sa eb ap) and modifiers (:missing :not :exact :contains "
                             ":text :of-type :in :not-in :identifier :below :[type]), chaining and _has, "
                             "compartments, _include/_revinclude (:iterate), _sort, _summary, _elements; paging "
                             "with keyset cursors; _total=accurate on request. Writes are checked as a FHIR "
                             "parser would (400); profile validation on write is configurable (422).",
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"},
                            {"code": "search-system"}],
            "searchParam": [{"name": n, "definition": d, "type": t} for n, t, d in SPECIAL_PARAMS],
            "operation": [{"name": "run", "definition": "http://sql-on-fhir.org/OperationDefinition/$run",
                           "documentation": "POST ViewDefinition/$run: the rows of a SQL-on-FHIR v2 view "
                                            "(viewResource, or viewReference to a project view) over the "
                                            "stored resources; _format csv | ndjson | json, patient, _limit"}],
        }],
    }
