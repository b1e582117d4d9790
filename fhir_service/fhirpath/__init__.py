"""FHIRPath for the service: invariants (validation), search-parameter extraction (store), views (transform).

    from fhir_service import fhirpath
    path = fhirpath.compile("dataAbsentReason.empty() or value.empty()")   # parsed once, cached
    ok = fhirpath.is_true(path.evaluate(observation))
    fhirpath.evaluate(obs["valueQuantity"], "value.exists()", context_type="Observation.valueQuantity")

Built on fhirpathpy with the R4 model; see engine.py for the evaluation contract and fixes.py for the
corrections we apply to fhirpathpy.
"""
from fhir_service.fhirpath.engine import CompiledPath, Resolver, compile, evaluate, is_true, to_json
from fhir_service.fhirpath.errors import FhirPathError

__all__ = ["CompiledPath", "FhirPathError", "Resolver", "compile", "evaluate", "is_true", "to_json"]
