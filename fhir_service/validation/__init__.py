"""FHIR R4 validation: structure, invariants, profiles, terminology bindings and Bundle rules, definitions-driven.

    from fhir_service.validation import Validator
    issues = Validator().validate(resource)            # list[Issue] (see outcome.py)
"""
from fhir_service.validation.outcome import Issue, has_errors, operation_outcome
from fhir_service.validation.validator import Validator, validate_resource

__all__ = ["Issue", "Validator", "has_errors", "operation_outcome", "validate_resource"]
