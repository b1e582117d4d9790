"""Helpers for the validation specification tests: issue filters and small profiles given by differentials."""
from __future__ import annotations

from typing import Any

from fhir_service.definitions import Definitions, default_definitions
from fhir_service.validation import Issue


def errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity in ("error", "fatal")]


def by_severity(issues: list[Issue], severity: str) -> list[Issue]:
    return [i for i in issues if i.severity == severity]


def messages(issues: list[Issue]) -> str:
    return "\n".join(f"{i.severity} {i.expression}: {i.diagnostics}" for i in issues)


def profile(url: str, type_: str, elements: list[dict[str, Any]], base: str | None = None,
            **extra: Any) -> dict[str, Any]:
    """A constraint StructureDefinition given by its differential (the registry generates the snapshot)."""
    return {
        "resourceType": "StructureDefinition", "url": url, "name": url.rsplit("/", 1)[-1].replace("-", ""),
        "status": "active", "kind": extra.pop("kind", "resource"), "abstract": False, "type": type_,
        "baseDefinition": base or f"http://hl7.org/fhir/StructureDefinition/{type_}", "derivation": "constraint",
        "differential": {"element": [{"id": e["path"] if "id" not in e else e["id"], **e} for e in elements]},
        **extra,
    }


def definitions_with(*resources: dict[str, Any]) -> Definitions:
    defs = default_definitions().copy()
    for resource in resources:
        defs.add(resource)
    return defs
