"""FHIR conformance resources (StructureDefinitions, ValueSets, CodeSystems, SearchParameters) by canonical URL."""

from fhir_service.definitions.package import FhirPackage, PackageError
from fhir_service.definitions.registry import Definitions, default_definitions

__all__ = ["Definitions", "FhirPackage", "PackageError", "default_definitions"]
