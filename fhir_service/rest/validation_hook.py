"""How the REST core validates: the project's validator (`validation.project.project_validator`: R4,
profiles and the clinical rules, the same as `fhir-service validate`), behind one function.

Used by `$validate` and by the validate-on-write interceptor. A profile the caller names (a `$validate` profile
parameter, or the meta.profile that validate-on-write checks) that this server does not know is an error, as
`fhir-service validate --profile` treats it: a resource cannot be said to conform to a profile nobody checked,
and `--validate-on-write enforce` must not store it as if it did (the validator alone only warns when it meets
an unknown meta.profile while validating).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import replace
from decimal import Decimal
from typing import Any, Sequence

from fhir_service.validation.outcome import Issue
from fhir_service.validation.project import project_validator
from fhir_service.validation.validator import Validator

log = logging.getLogger(__name__)
_lock = threading.Lock()
_validators: dict[int, Any] = {}


def _validator(definitions: Any) -> Validator:
    """One project validator (R4 + profiles + the clinical rule layers, as `validate` runs) per definitions."""
    key = id(definitions)
    if key not in _validators:
        with _lock:
            if key not in _validators:
                _validators[key] = project_validator(definitions)
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


def _is_profile(definitions: Any, url: str) -> bool:
    try:
        found = definitions.resolve(url)
    except Exception:  # noqa: BLE001 - an unreadable entry is as good as unknown here
        return False
    return isinstance(found, dict) and found.get("resourceType") == "StructureDefinition"


def _unknown_profiles_are_errors(issues: list[Issue], unknown: list[str], resource: Any) -> list[Issue]:
    """`issues` with an error for each profile in `unknown`: the validator's own warning about the same
    meta.profile (code not-found) is raised to an error in place (keeping its location), and a profile it did
    not mention (asked for, but not in meta.profile) gets a new error."""
    reported: set[str] = set()
    out: list[Issue] = []
    for issue in issues:
        url = next((u for u in unknown if issue.code == "not-found" and f"'{u}'" in issue.diagnostics), None)
        if url is not None and not issue.is_error:
            issue = replace(issue, severity="error", diagnostics=_unknown_message(url))
            reported.add(url)
        out.append(issue)
    where = resource.get("resourceType") if isinstance(resource, dict) else None
    return [Issue("error", "not-found", _unknown_message(u), where if isinstance(where, str) else None)
            for u in unknown if u not in reported] + out


def _unknown_message(url: str) -> str:
    return (f"Profile reference '{url}' could not be resolved: this server has no such StructureDefinition, "
            "so the resource cannot be checked against it")


def validate(resource: Any, definitions: Any, profiles: Sequence[str] = ()) -> list[Issue]:
    """The validator's issues for `resource` (base R4, its meta.profile and `profiles`); each of `profiles`
    that is not a known StructureDefinition is an error."""
    validator = _validator(definitions)
    resource = _plain(resource)
    wanted = list(dict.fromkeys(p for p in profiles if p))
    unknown = [p for p in wanted if not _is_profile(definitions, p)]
    try:
        issues = list(validator.validate(resource, [p for p in wanted if p not in unknown]))
    except Exception as exc:  # noqa: BLE001 - a validator crash must not become a 500
        log.exception("validator failed")
        return [Issue("error", "exception", f"validator failed on this resource: {type(exc).__name__}: {exc}")]
    return _unknown_profiles_are_errors(issues, unknown, resource)
