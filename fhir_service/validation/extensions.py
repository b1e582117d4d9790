"""Where an extension may be used: its definition's `context` list, and modifier versus plain extensions.

An extension definition says on which elements it may appear (`context`: element paths or type names,
other extensions, or FHIRPath) and whether it is a modifier (root `isModifier`): a modifier extension must be in
`modifierExtension`, a plain one in `extension`. A `fhirpath` context is evaluated on the resource: the element
holding the extension must be one of its results. `contextInvariant`s are evaluated with that element as focus
and must be true (both as the HL7 Java validator does).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_service.validation.elements import CompiledStructure
from fhir_service.validation.fhirpath_adapter import compile_expression, satisfied
from fhir_service.validation.outcome import Location

if TYPE_CHECKING:
    from fhir_service.validation.walker import Walk

ANYWHERE = frozenset({"Element", "Base", "*"})


def _context_allows(walk: "Walk", structure: CompiledStructure, owner_path: str, owner_type: str) -> bool:
    if not structure.context:
        return True
    resource_types = walk.defs.resource_types
    for ctx in structure.context:
        kind = ctx.get("type")
        expression = ctx.get("expression") or ""
        if kind == "fhirpath":
            selected = _fhirpath_selects(walk, expression)
            if selected is not None:
                if selected:
                    return True
                continue
            # not evaluable here: judged by the path the expression starts with
            path = expression.split(".where(", 1)[0].split("(", 1)[0].rstrip(".")
            if path in (owner_path, owner_type) or path in ANYWHERE:
                return True
            continue
        if kind == "extension":
            if walk.extension_stack and walk.extension_stack[-1] == expression:
                return True  # inside (on, or on the value of) the extension the context names
            continue
        if expression in ANYWHERE or expression in (owner_type, owner_path):
            return True
        if expression in ("Resource", "DomainResource") and owner_type in resource_types:
            return True
        if "#" in expression and expression.split("#", 1)[0] == owner_type:
            return True
        head = expression.split(".", 1)[0].split("#", 1)[0]
        if walk.defs.resolve(head if ":" in head else "http://hl7.org/fhir/StructureDefinition/" + head) is None:
            return True  # a type of another FHIR release (CanonicalResource): cannot be judged here
        if owner_type in ("BackboneElement", "Element") and expression == owner_path:
            return True
        if expression.startswith(owner_path + "."):
            return True  # on the element holding the context element (as the Java validator accepts)
    return False


def _evaluate(expression: str, focus: Any, resource: Any, context_type: str | None) -> list[Any] | None:
    try:
        return compile_expression(expression).evaluate(focus, resource=resource, root_resource=resource,
                                                       context_type=context_type)
    except Exception:  # noqa: BLE001 - an expression the engine cannot evaluate decides nothing
        return None


def _fhirpath_selects(walk: "Walk", expression: str) -> bool | None:
    """Whether the `fhirpath` context, evaluated on the resource, selects the element holding the extension
    (None when there is no such element or the expression cannot be evaluated)."""
    if not walk.extension_hosts:
        return None
    host, frame = walk.extension_hosts[-1]
    resource = frame.resource
    if not isinstance(resource, dict):
        return None
    result = _evaluate(expression, resource, resource, resource.get("resourceType"))
    if result is None:
        return None
    return any(item is host for item in result)


def _failed_context_invariant(walk: "Walk", structure: CompiledStructure, owner_type: str) -> str | None:
    if not structure.context_invariants or not walk.extension_hosts:
        return None
    host, frame = walk.extension_hosts[-1]
    for invariant in structure.context_invariants:
        result = _evaluate(invariant, host, frame.resource, owner_type or None)
        if result is not None and not satisfied(result, invariant):
            return invariant
    return None


def check_use(walk: "Walk", structure: CompiledStructure, owner: tuple[str, str, str], expr: str,
              loc: Location) -> None:
    owner_path, owner_type, prop = owner
    url = structure.url
    if prop == "extension" and structure.root.is_modifier:
        walk.issue("error", "structure", f"The Extension '{url}' must not be used as an extension (it's a "
                   "modifierExtension)", expr, loc)
    elif prop == "modifierExtension" and not structure.root.is_modifier:
        walk.issue("error", "structure", f"The Extension '{url}' must not be used as a modifierExtension (it's a "
                   "regular extension)", expr, loc)
    if not _context_allows(walk, structure, owner_path, owner_type):
        allowed = ", ".join(f"{c.get('type')}:{c.get('expression')}" for c in structure.context)
        walk.issue("error", "structure", f"The extension {url} is not allowed to be used at this point (this "
                   f"element is [{owner_type}, {owner_path}]; allowed = {allowed})", expr, loc)
        return
    invariant = _failed_context_invariant(walk, structure, owner_type)
    if invariant is not None:
        walk.issue("error", "structure", f"The extension {url} is not allowed to be used at this point (based on "
                   f"context invariant '{invariant}')", expr, loc)
