"""Checks of a few data types that their StructureDefinitions cannot express (as the HL7 Java validator does).

- Attachment: a stated `size` must equal the decoded length of `data`.
- Coding: `system` must be an absolute URI, and must name a code system, not a value set.
"""
from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, Callable

from fhir_service.validation.elements import ElementDef
from fhir_service.validation.outcome import Location

if TYPE_CHECKING:
    from fhir_service.validation.walker import Walk


def check_attachment(walk: "Walk", val: dict[str, Any], elem: ElementDef, expr: str, loc: Location) -> None:
    data, size = val.get("data"), val.get("size")
    if not isinstance(data, str) or isinstance(size, bool) or not isinstance(size, int):
        return
    try:
        actual = len(base64.b64decode("".join(data.split()), validate=True))
    except (binascii.Error, ValueError):
        return  # the base64Binary check reports it
    if actual != size:
        walk.issue("error", "value", f"Stated Attachment Size {size} does not match actual attachment size {actual}",
                   expr, loc)


def check_coding(walk: "Walk", val: dict[str, Any], elem: ElementDef, expr: str, loc: Location) -> None:
    system = val.get("system")
    if not isinstance(system, str) or not system:
        return
    if ":" not in system:
        walk.issue("error", "value", "Coding.system must be an absolute reference, not a local reference",
                   f"{expr}.system", loc + ("system",))
        return
    if system.startswith("http://hl7.org/fhir/ValueSet/") or walk.defs.value_set(system) is not None:
        if walk.defs.code_system(system) is None:
            walk.issue("error", "value", f"The Coding references a value set, not a code system ('{system}')",
                       f"{expr}.system", loc + ("system",))


CHECKS: dict[str, Callable[["Walk", dict[str, Any], ElementDef, str, Location], None]] = {
    "Attachment": check_attachment,
    "Coding": check_coding,
}
