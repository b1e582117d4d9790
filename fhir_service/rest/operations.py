"""Operations that hand a posted Parameters resource to another part of the project and answer with what
it returns: `POST [base]/Bundle/$transform` (fhir_service.transform.operation). The part owns the semantics
(parameter names, which statuses); this module only adapts the REST request and response, so the same
transform runs from the CLI, the library and HTTP."""
from __future__ import annotations

from typing import Any

from fhir_service.rest.http import FhirError, Request, Response

TRANSFORM_DEFINITION = "https://fhir.cart-tox.org/OperationDefinition/Bundle-transform"


def parameters_body(rest: Any, request: Request, operation: str) -> dict[str, Any]:
    """The posted Parameters resource (JSON or XML), or a 400 naming the operation."""
    body = rest._resource_body(request, None)
    if body.get("resourceType") != "Parameters":
        raise FhirError(400, f"${operation} takes a Parameters resource, not a {body.get('resourceType')}",
                        "invalid", "resourceType")
    parameters = body.get("parameter", [])
    if not isinstance(parameters, list) or not all(isinstance(p, dict) for p in parameters):
        raise FhirError(400, "Parameters.parameter must be an array of objects", "structure", "Parameters.parameter")
    return body


def transform(rest: Any, request: Request) -> Response:
    """`Bundle/$transform`: 200 with the output Bundle; 400 (bad or missing parameters) or 422 (the input
    could not be transformed) with the transform's OperationOutcome."""
    from fhir_service.transform.operation import transform_operation

    status, body = transform_operation(parameters_body(rest, request, "transform"))
    return Response(status, {}, body)
