"""Pure transforms of FHIR Bundles, shared by the CLI (`fhir-service transform ...`) and the HTTP operation.

    from fhir_service.transform import run_transform
    result = run_transform("redate", bundle, {"infusionDate": "2030-01-01", "freshIds": True})
    result.bundle, result.issues          # TransformResult: output Bundle (or None) and Issues

Each transform is `transform(bundle, params) -> TransformResult`; its parameters are a marshmallow schema in
params.py, checked here before the transform runs, so the CLI and HTTP reject the same things alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from fhir_service.transform import r5, redate, transaction
from fhir_service.transform.inputs import bundle_problems
from fhir_service.transform.params import load_params
from fhir_service.transform.result import TransformResult


@dataclass(frozen=True)
class TransformSpec:
    name: str
    summary: str
    function: Callable[[dict[str, Any], Any], TransformResult]


TRANSFORMS: dict[str, TransformSpec] = {spec.name: spec for spec in (
    TransformSpec("to-transaction", "collection -> transaction/batch that loads twice without duplicates",
                  transaction.transform),
    TransformSpec("redate", "move a case's timeline to a new infusion date, optionally as a new patient",
                  redate.transform),
    TransformSpec("to-r5", "FHIR R4 -> R5 (cross-version extensions for what R5 cannot hold)", r5.to_r5),
    TransformSpec("to-r4", "FHIR R5 -> R4 (cross-version extensions for what R4 cannot hold)", r5.to_r4),
)}


def run_transform(name: str, bundle: Any, raw_params: Mapping[str, Any]) -> TransformResult:
    """Check the parameters, then the input, then run. Parameter problems: issues with code `invalid` and no
    bundle (a usage error: CLI exit 2, HTTP 400); input problems: code `structure` (CLI exit 1, HTTP 422)."""
    params, issues = load_params(name, raw_params)
    if issues:
        return TransformResult(None, issues)
    problems = bundle_problems(bundle)
    if problems:
        return TransformResult(None, problems)
    return TRANSFORMS[name].function(bundle, params)


__all__ = ["TRANSFORMS", "TransformResult", "TransformSpec", "run_transform"]
