"""The FHIR REST interactions as plain functions of (method, path, query, headers, body): no web framework.

`FhirRest(repository).handle(method, path, query, headers, body, base=...)` returns a `Response`
(status, headers, body as a JSON-ready dict or None). The Flask adapter in `fhir_service.web` and the tests
both drive this same core.
"""
from fhir_service.rest.http import FhirError, Request, Response
from fhir_service.rest.router import FhirRest, RestConfig

__all__ = ["FhirError", "FhirRest", "Request", "Response", "RestConfig"]
