"""Terminology bindings and code checks, over the local terminology service (no network).

- A required binding whose value is not in the value set is an error; extensible, a warning; preferred and
  example bindings are not checked (as in the HL7 validator's default). Additional bindings (R5, carried in R4
  by an extension on the binding) with purpose required or maximum are errors, extensible warnings.
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
#: additional bindings (R5's ElementDefinition.binding.additional, in R4 as an extension) that are checked
ADDITIONAL_PURPOSES = {"required": "error", "maximum": "error", "extensible": "warning"}


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
        if severity is not None and vs:
            result = self._validate(walk, vs, val, code, expr, loc)
            if result is not None and result.outcome == "invalid":
                message = result.message or f"The value is not in the value set {vs}"
                walk.issue(severity, "code-invalid", f"{message} ({elem.binding_strength} binding to {vs})",
                           expr, loc)
            elif result is not None and result.outcome == "not-checkable":
                walk.issue("information", "not-supported",
                           result.message or f"The code could not be checked against {vs} locally", expr, loc)
            # (a wrong display is reported once, by check_coding on the Coding itself)
        for purpose, additional in elem.additional_bindings:
            severity = ADDITIONAL_PURPOSES.get(purpose)
            if severity is None:
                continue
            result = self._validate(walk, additional, val, code, expr, loc)
            if result is not None and result.outcome == "invalid":
                walk.issue(severity, "code-invalid", f"None of the codings provided are in the value set "
                           f"'{additional}' specified in an additional binding ({purpose}), and a coding from this "
                           "value set is " + ("required" if severity == "error" else "expected"), expr, loc)

    def _validate(self, walk: "Walk", vs: str, val: Any, code: str, expr: str, loc: Location) -> Any:
        """The terminology's verdict on `val` (of type `code`) in value set `vs`; None when nothing to check."""
        try:
            if code in ("code", "string", "uri"):
                return self.terminology.validate_code(vs, None, val)
            if code in ("Coding", "Quantity"):
                system, value = val.get("system"), val.get("code")
                if not isinstance(value, str):
                    return None
                return self.terminology.validate_code(vs, system if isinstance(system, str) else None, value,
                                                      val.get("display") if code == "Coding" else None)
            if code == "CodeableConcept":
                codings = dicts(val.get("coding"))
                return self.terminology.validate_codings(vs, codings) if codings else None
            return None
        except Exception as exc:  # noqa: BLE001 - a terminology gap must not stop validation
            walk.issue("information", "informational", f"The binding to {vs} could not be checked: {exc}",
                       expr, loc)
            return None

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
        if result.display_issue and not _display_allowed(walk, system, value, val.get("display")):
            walk.issue("error", "invalid", result.display_issue, f"{expr}.display", loc + ("display",))
        if getattr(result, "status_issue", None):
            walk.issue("warning", "business-rule", result.status_issue, expr, loc)


def _display_allowed(walk: "Walk", system: str, code: str, display: Any) -> bool:
    """A display the bound value set (carried by the profile) gives the code: the Java validator accepts it."""
    return isinstance(display, str) and any(display in allowed.get((system, code), ())
                                            for allowed in walk.allowed_displays)
