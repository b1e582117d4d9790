"""The transforms as a FHIR operation on Bundle, framework-free, for the HTTP layer to mount.

    POST [base]/Bundle/$transform   body: Parameters
      transform (code, required): to-transaction | redate | to-r5 | to-r4
      bundle (resource, required): the input Bundle
      the transform's own parameters (params.py), e.g. infusionDate (date), freshIds (boolean), seed (string)

Returns (status, body): 200 with the output Bundle; 400 with an OperationOutcome for bad parameters;
422 when the input is not a Bundle or the transform could not produce one. Issues that did not stop the
transform (warnings, information) are not lost: a caller that wants them asks for `_outcome` in the response
through `transform_with_outcome`.
"""
from __future__ import annotations

from typing import Any

from fhir_service.transform import TRANSFORMS, run_transform
from fhir_service.transform.params import parameters_to_raw
from fhir_service.transform.result import TransformResult
from fhir_service.validation.outcome import Issue, operation_outcome


def split_parameters(parameters: Any) -> tuple[str | None, Any, dict[str, Any], list[Issue]]:
    """(transform name, input bundle, raw parameters of the transform, issues) from a Parameters resource."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        return None, None, {}, [Issue("error", "structure", "the body must be a Parameters resource")]
    name, bundle, rest = None, None, []
    for part in parameters.get("parameter") or []:
        if isinstance(part, dict) and part.get("name") == "transform":
            name = part.get("valueCode") or part.get("valueString")
        elif isinstance(part, dict) and part.get("name") == "bundle":
            bundle = part.get("resource")
        else:
            rest.append(part)
    raw, issues = parameters_to_raw({"resourceType": "Parameters", "parameter": rest})
    if name is None:
        issues.insert(0, Issue("error", "required", "parameter 'transform' (code) is required: one of "
                               + ", ".join(TRANSFORMS), "transform"))
    if bundle is None:
        issues.insert(0, Issue("error", "required", "parameter 'bundle' (resource) is required", "bundle"))
    return name, bundle, raw, issues


def transform_with_outcome(parameters: Any) -> tuple[int, TransformResult]:
    name, bundle, raw, issues = split_parameters(parameters)
    if issues:
        return 400, TransformResult(None, issues)
    result = run_transform(name, bundle, raw)  # type: ignore[arg-type]
    if result.bundle is None:
        usage = any(i.code in ("invalid", "not-supported", "required") and i.is_error for i in result.issues)
        return (400 if usage else 422), result
    return 200, result


def transform_operation(parameters: Any) -> tuple[int, dict[str, Any]]:
    status, result = transform_with_outcome(parameters)
    return status, result.bundle if result.bundle is not None else operation_outcome(result.issues)
