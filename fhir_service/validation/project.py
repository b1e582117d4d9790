"""The validator as the project's users get it: base R4 + profiles + the project's clinical rule layers.

One factory, so `fhir-service validate`, `fhir-service cases build --validate` and the server's `$validate` and
validate-on-write all run the same rules; the engine itself (`Validator`) stays free of project knowledge.
"""
from __future__ import annotations

from fhir_service.definitions import Definitions
from fhir_service.validation.clinical import clinical_issues
from fhir_service.validation.validator import Rule, Validator

PROJECT_RULES: tuple[Rule, ...] = (clinical_issues,)


def project_validator(definitions: Definitions | None = None) -> Validator:
    """A Validator with the project's rule layers (ASTCT grade recomputation) on top of R4 and the profiles."""
    return Validator(definitions, rules=PROJECT_RULES)
