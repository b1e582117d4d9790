"""Reference checks: the reference string's form and, where the element restricts targets, the target's type.

The target type comes from the reference itself (`Patient/1`, `http://x/fhir/Patient/1`), from the contained
resource (`#p1`) or, inside a Bundle, from the entry the bundle resolver finds (`urn:uuid:...`). Allowed types come
from the element's targetProfile (core URLs name the type; other profiles are looked up for their type).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fhir_service.validation.elements import ElementDef
from fhir_service.validation.outcome import Location

if TYPE_CHECKING:
    from fhir_service.validation.walker import ResourceFrame, Walk

FHIR_SD = "http://hl7.org/fhir/StructureDefinition/"
_RELATIVE = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-\.]{1,64}(?:/_history/[A-Za-z0-9\-\.]{1,64})?")
_TYPE_ID = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/[A-Za-z0-9\-\.]{1,64}(?:/_history/[A-Za-z0-9\-\.]{1,64})?$")


def reference_type(reference: str, frame: "ResourceFrame") -> tuple[str | None, bool]:
    """(type of the target or None if unknown, resolvable-locally flag false when a `#id` is missing)."""
    if reference.startswith("#"):
        if reference == "#":
            rtype = frame.resource.get("resourceType")
            return (rtype if isinstance(rtype, str) else None), True
        target = frame.contained(reference[1:])
        if target is None:
            return None, False
        rtype = target.get("resourceType")
        return (rtype if isinstance(rtype, str) else None), True
    if frame.resolver is not None:
        try:
            target = frame.resolver(reference)
        except Exception:  # noqa: BLE001 - a resolver problem is the bundle rules' business
            target = None
        if isinstance(target, dict) and isinstance(target.get("resourceType"), str):
            return target["resourceType"], True
    return written_type(reference), True


def written_type(reference: str) -> str | None:
    """The type a reference names in its text (`Patient/1`, `http://x/fhir/Patient/1`), if any."""
    match = _TYPE_ID.search(reference.split("?", 1)[0])
    return match.group(1) if match else None


def allowed_types(walk: "Walk", elem: ElementDef) -> set[str] | None:
    """Type names a Reference element may point to, or None for any."""
    ref = elem.type_ref("Reference")
    if ref is None or not ref.target_profiles:
        return None
    names: set[str] = set()
    for url in ref.target_profiles:
        name = url[len(FHIR_SD):] if url.startswith(FHIR_SD) else ""
        if name and (name in walk.defs.resource_types or name in ("Resource", "DomainResource")):
            names.add(name)
            continue
        sd = walk.defs.resolve(url)
        if isinstance(sd, dict) and isinstance(sd.get("type"), str):
            names.add(sd["type"])
        else:
            return None  # an unknown target profile: cannot judge
    if "Resource" in names or "DomainResource" in names:
        return None
    return names


def check(walk: "Walk", val: dict[str, Any], elem: ElementDef, expr: str, loc: Location,
          frame: "ResourceFrame") -> None:
    reference = val.get("reference")
    if not isinstance(reference, str):
        return
    target_type, found = reference_type(reference, frame)
    if walk.check_references and frame.local_context and _RELATIVE.fullmatch(reference) \
            and _target(reference, frame) is None:
        walk.issue("error", "not-found", f"Unable to resolve resource with reference '{reference}'",
                   f"{expr}.reference", loc + ("reference",))
    if not found:
        walk.issue("error", "structure", f"Unable to resolve the contained resource for the reference '{reference}' "
                   "(ref-1: SHALL have a contained resource if a local reference is provided)",
                   f"{expr}.reference", loc + ("reference",), rule="ref-1")
        return
    written = written_type(reference) if not reference.startswith("#") else None
    if written and target_type and written != target_type and written in walk.defs.resource_types:
        walk.issue("error", "structure", f"Matching reference for reference {reference} has resourceType "
                   f"{target_type}", f"{expr}.reference", loc + ("reference",))
    declared = val.get("type")
    if isinstance(declared, str) and target_type and declared != target_type:
        walk.issue("error", "structure", f"The type '{declared}' does not match the type of the reference "
                   f"'{reference}' ({target_type})", f"{expr}.type", loc + ("type",))
    allowed = allowed_types(walk, elem)
    if allowed is None:
        check_target_profiles(walk, reference, elem, expr, loc, frame)
        return
    actual = target_type or (declared if isinstance(declared, str) else None)
    if actual is not None and actual not in allowed:
        walk.issue("error", "structure", f"Invalid Resource target type. Found {actual}, but expected one of "
                   f"({', '.join(sorted(allowed))})", f"{expr}.reference", loc + ("reference",))
        return
    check_target_profiles(walk, reference, elem, expr, loc, frame)


def _target(reference: str, frame: "ResourceFrame") -> dict[str, Any] | None:
    if reference.startswith("#"):
        return frame.contained(reference[1:]) if reference != "#" else frame.resource
    if frame.resolver is None:
        return None
    try:
        found = frame.resolver(reference)
    except Exception:  # noqa: BLE001
        return None
    return found if isinstance(found, dict) else None


def check_target_profiles(walk: "Walk", reference: str, elem: ElementDef, expr: str, loc: Location,
                          frame: "ResourceFrame") -> None:
    """A resolvable target (contained, or in the same Bundle) must conform to one of the element's target
    profiles that are not plain core types. A target that declares one of them in meta.profile is validated
    against it as a resource of its own, so it is not checked again here; each (target, profile) once per call."""
    ref = elem.type_ref("Reference")
    profiles = [u for u in (ref.target_profiles if ref else ())
                if not (u.startswith(FHIR_SD) and u[len(FHIR_SD):] in walk.defs.resource_types)]
    if not profiles:
        return
    target = _target(reference, frame)
    if target is None:
        return
    meta = target.get("meta")
    listed = meta.get("profile") if isinstance(meta, dict) else None
    claimed = {u for u in listed if isinstance(u, str)} if isinstance(listed, list) else set()
    if claimed & set(profiles):
        return
    unknown = [u for u in profiles if walk.defs.resolve(u) is None]
    for url in unknown:
        walk.issue("error", "not-found", f"Unable to resolve the profile reference '{url}' (a target profile of "
                   f"this element), so the target of '{reference}' cannot be checked against it",
                   f"{expr}.reference", loc + ("reference",))
    candidates = [u for u in profiles if u not in unknown and _profile_type(walk, u) in (None,
                                                                                         target.get("resourceType"))]
    if not candidates:
        return
    if not any(walk.conforms(target, url) for url in candidates):
        walk.issue("error", "structure", f"The resource referenced by '{reference}' does not conform to the target "
                   f"profile{'s' if len(candidates) > 1 else ''} {', '.join(candidates)}", f"{expr}.reference",
                   loc + ("reference",))


def _profile_type(walk: "Walk", url: str) -> str | None:
    sd = walk.defs.resolve(url)
    return sd.get("type") if isinstance(sd, dict) else None
