"""FHIR R4 validation: structure, invariants, profiles, terminology bindings and Bundle rules, definitions-driven.

    from fhir_service.validation import Validator
    issues = Validator().validate(resource)            # list[Issue] (see outcome.py)
    issues = Validator(defs).validate(resource, ["https://fhir.cart-tox.org/StructureDefinition/cart-crs"])

How it is put together (each module has one job):
- validator.py: the public entry point; one Walk per call; rule layers (clinical rules) on the top-level resource.
- elements.py: StructureDefinition snapshots compiled once into element trees (children by JSON name, choice
  types expanded, slices, fixed/pattern, bindings, invariants with their FHIRPath compiled once).
- walker.py: the single walk over the JSON against a compiled tree (structure, cardinality, JSON types,
  primitives, ele-1/ext-1 natively, invariants, nested resources, profiles); slicing.py, patterns.py,
  references.py, extensions.py, bindings.py, datatypes.py, contained.py (dom-3), xhtml.py, primitives.py hold
  the rules it applies; questionnaire.py and conformance_resources.py check resources against the definitions
  they name (a QuestionnaireResponse against its Questionnaire, a profile's differential against its base).
- guards.py and shortcuts.py: why invariants rarely need FHIRPath at run time (absent roots are constants,
  cheap operands settle implies/or/and, pure invariants are memoised by the properties they read, and so are a
  resource's own invariants reading `%resource.name`; the memo is bounded by entries and by bytes of key JSON).
- native.py: the core invariants met at every Bundle, entry and DomainResource (bdl-2/3/4/5/7/8, dom-6, con-3)
  read straight from the JSON when it is plain, FHIRPath otherwise; ids and fullUrls differ in every new Bundle,
  so memoising cannot help them.
- bundle.py (Bundle rules, resolver), reader.py / source_map.py (text -> JSON with positions), clinical.py
  (project rules) belong to the CLI and cases engineers.
"""
from fhir_service.validation.outcome import Issue, has_errors, operation_outcome
from fhir_service.validation.validator import Validator, validate_resource

__all__ = ["Issue", "Validator", "has_errors", "operation_outcome", "validate_resource"]
