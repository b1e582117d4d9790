"""The XPath a runner can honour without an XML engine: a plain child path from the resource root to a primitive's
value, `fhir:Patient/fhir:name/fhir:family/@value` (or `Patient/id`), which means exactly the FHIRPath
`Patient.name.family`. Anything else (predicates, axes, functions, `//`) raises Unsupported."""
from __future__ import annotations

import re

from tests.conformance.testscripts.model import Unsupported

_STEP = re.compile(r"(?:fhir:)?([A-Za-z][A-Za-z0-9]*)")


def to_fhirpath(xpath: str) -> str:
    """The FHIRPath equivalent of a trivially mappable XPath; Unsupported otherwise."""
    text = xpath.strip()
    if text.startswith("/"):
        text = text[1:]
    steps = text.split("/")
    if steps and steps[-1] == "@value":
        steps = steps[:-1]
    names = []
    for step in steps:
        match = _STEP.fullmatch(step)
        if match is None:
            raise Unsupported(f"XPath {xpath!r} is not a plain child path (only fhir:A/fhir:b/@value maps to FHIRPath)")
        names.append(match.group(1))
    if len(names) < 2 or not names[0][0].isupper():
        raise Unsupported(f"XPath {xpath!r} does not start at a resource root")
    return ".".join(names)
