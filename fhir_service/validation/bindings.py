"""Terminology bindings and code checks, over the local terminology service (no network).

- A required binding whose value is not in the value set is an error; extensible, a warning; preferred and
  example bindings are not checked (as in the HL7 validator's default).
- A code the packages cannot judge (SNOMED CT, LOINC, RxNorm, ... are not enumerated locally) yields an
  information issue, never an error.
- Every Coding with a system and a code is also checked against its CodeSystem when the packages carry it
  (an unknown code in a complete CodeSystem or a wrong display is an error, as in the HL7 validator's default;
  a retired concept, a warning).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_service.definitions import Definitions
from fhir_service.validation.elements import ElementDef
from fhir_service.validation.jsonshape import dicts
from fhir_service.validation.outcome import Location

if TYPE_CHECKING:
    from fhir_service.validation.walker import Walk

CHECKED_STRENGTHS = {"required": "error", "extensible": "warning"}


class BindingChecker:
    """Checks values against bindings using `fhir_service.terminology.Terminology` for these definitions."""

    def __init__(self, terminology: Any) -> None:
        self.terminology = terminology

    @classmethod
    def create(cls, definitions: Definitions) -> "BindingChecker":
        from fhir_service.terminology import terminology_for

        return cls(terminology_for(definitions))

    def check(self, walk: "Walk", val: Any, elem: ElementDef, code: str, expr: str, loc: Location) -> None:
        severity = CHECKED_STRENGTHS.get(elem.binding_strength or "")
        vs = elem.binding_valueset
        if severity is None or not vs:
            return
        try:
            if code in ("code", "string", "uri"):
                result = self.terminology.validate_code(vs, None, val)
            elif code in ("Coding", "Quantity"):
                system, value = val.get("system"), val.get("code")
                if not isinstance(value, str):
                    return
                result = self.terminology.validate_code(vs, system if isinstance(system, str) else None, value,
                                                        val.get("display") if code == "Coding" else None)
            elif code == "CodeableConcept":
                codings = dicts(val.get("coding"))
                if not codings:
                    return
                result = self.terminology.validate_codings(vs, codings)
            else:
                return
        except Exception as exc:  # noqa: BLE001 - a terminology gap must not stop validation
            walk.issue("information", "informational", f"The binding to {vs} could not be checked: {exc}",
                       expr, loc)
            return
        if result.outcome == "invalid":
            message = result.message or f"The value is not in the value set {vs}"
            walk.issue(severity, "code-invalid", f"{message} ({elem.binding_strength} binding to {vs})", expr, loc)
        elif result.outcome == "not-checkable":
            walk.issue("information", "not-supported",
                       result.message or f"The code could not be checked against {vs} locally", expr, loc)
        # (a wrong display is reported once, by check_coding on the Coding itself)

    def check_coding(self, walk: "Walk", val: dict[str, Any], expr: str, loc: Location) -> None:
        system, value = val.get("system"), val.get("code")
        if not isinstance(system, str) or not isinstance(value, str) or not system or not value:
            return
        try:
            result = self.terminology.check_coding(system, value, val.get("display")
                                                   if isinstance(val.get("display"), str) else None)
        except Exception:  # noqa: BLE001
            return
        if result.outcome == "invalid":
            walk.issue("error", "code-invalid", result.message or f"Unknown code '{value}' in {system}",
                       f"{expr}.code", loc + ("code",))
        if result.display_issue:
            walk.issue("error", "invalid", result.display_issue, f"{expr}.display", loc + ("display",))
        if getattr(result, "status_issue", None):
            walk.issue("warning", "business-rule", result.status_issue, expr, loc)
