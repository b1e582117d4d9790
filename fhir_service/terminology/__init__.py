"""Local terminology services for the validator: expansions, validate-code, lookup, UCUM, BCP-47, MIME types.

No network and no terminology server: see `service.Terminology` for what is checked exactly and what is
reported as not checkable.
"""
from fhir_service.terminology.codesystem import CompiledCodeSystem
from fhir_service.terminology.model import INVALID, NOT_CHECKABLE, VALID, CodeCheck, Concept, Designation, Expansion
from fhir_service.terminology.service import Terminology, terminology_for
from fhir_service.terminology.syntax import check_bcp47, check_mime_type
from fhir_service.terminology.ucum import UCUM_SYSTEM, validate_ucum

__all__ = [
    "INVALID", "NOT_CHECKABLE", "UCUM_SYSTEM", "VALID", "CodeCheck", "CompiledCodeSystem", "Concept",
    "Designation", "Expansion", "Terminology", "check_bcp47", "check_mime_type", "terminology_for",
    "validate_ucum",
]
