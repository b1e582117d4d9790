"""How the REST core validates: the project's validator (`validation.project.project_validator`: R4,
profiles and the clinical rules, the same as `fhir-service validate`), behind one function.

Used by `$validate` and by the validate-on-write interceptor. If the validator cannot be imported (it is
being written alongside this code), a structural check with the fhir.resources R4B models stands in, so the
server keeps answering with a real OperationOutcome instead of failing.
"""
from __future__ import annotations

import logging
import threading
from decimal import Decimal
from typing import Any, Sequence

from fhir_service.validation.outcome import Issue

log = logging.getLogger(__name__)
_lock = threading.Lock()
_validators: dict[int, Any] = {}


def _validator(definitions: Any) -> Any | None:
    key = id(definitions)
    if key not in _validators:
        with _lock:
            try:  # the project's validator: R4 + profiles + the clinical rule layers (as `validate` runs)
                from fhir_service.validation.project import project_validator

                _validators[key] = project_validator(definitions)
            except Exception as exc:  # noqa: BLE001 - fall back, say why once
                log.warning("fhir_service.validation.Validator unavailable (%s); using structural fallback", exc)
                _validators[key] = None
    return _validators[key]


def _plain(value: Any) -> Any:
    """The server keeps decimals as Decimal (precision); the validator reads JSON numbers as float."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def validate(resource: Any, definitions: Any, profiles: Sequence[str] = ()) -> list[Issue]:
    validator = _validator(definitions)
    resource = _plain(resource)
    if validator is not None:
        try:
            return list(validator.validate(resource, profiles))
        except Exception as exc:  # noqa: BLE001 - a validator crash must not become a 500
            log.exception("validator failed")
            return [Issue("error", "exception", f"validator failed on this resource: {type(exc).__name__}: {exc}")]
    return _structural(resource)


def _structural(resource: Any) -> list[Issue]:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return [Issue("fatal", "structure", "not a FHIR resource: a JSON object with resourceType is needed")]
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource["resourceType"])
    except KeyError:
        return [Issue("fatal", "structure", f"unknown resource type {resource['resourceType']!r}", "resourceType")]
    try:
        model.model_validate(resource)
    except Exception as exc:  # pydantic ValidationError
        errors = getattr(exc, "errors", lambda: [])()
        return [Issue("error", "structure", err.get("msg", str(err)),
                      resource["resourceType"] + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                                         for p in err.get("loc", ())))
                for err in errors] or [Issue("error", "structure", str(exc))]
    return []
