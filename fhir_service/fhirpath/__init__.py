"""FHIRPath for the service: invariants (validation), search-parameter extraction (store), views (transform).

    from fhir_service import fhirpath
    obs6 = fhirpath.compile("dataAbsentReason.empty() or value.empty()")   # parsed once, cached by text
    ok = fhirpath.is_true(obs6.evaluate(observation))
    fhirpath.evaluate(obs["valueQuantity"], "code.empty() or system.exists()",
                      context_type="Observation.valueQuantity")              # a typed nested focus

Built on fhirpathpy with the R4 model. Modules:
- engine: compile/evaluate, the environment (%resource, %rootResource, %context, %ucum, %sct, %loinc, %`vs-*`,
  %`ext-*`, caller variables), typed focus (`context_type`), results as JSON values; is_true.
- parser: fhirpathpy's grammar with errors that raise (FhirPathError) instead of being ignored.
- functions: FHIR functions (resolve, hasValue, getValue, htmlChecks, memberOf, conformsTo).
- spec_functions: FHIRPath 2.0 functions fhirpathpy lacks (lowBoundary, highBoundary, precision, sort, ...).
- operators: equality, equivalence, ordering, arithmetic and boolean logic on normalised values (values.py),
  with dates (temporal.py) and UCUM quantities (ucum.py).
- fixes: named corrections of fhirpathpy behaviour (see its docstring; all unit-tested).
- search: SearchParameter extraction (extract, extract_typed) with a stub resolver for `resolve() is Patient`.
- semantics: strict-mode checks of an expression against the model (unknown elements, choice names).
"""
from fhir_service.fhirpath.engine import CompiledPath, Resolver, compile, evaluate, is_true, to_json
from fhir_service.fhirpath.errors import FhirPathError, FhirPathRecursionError

__all__ = ["CompiledPath", "FhirPathError", "FhirPathRecursionError", "Resolver", "compile", "evaluate", "is_true", "to_json"]
