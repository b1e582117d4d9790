"""Builders of ElementDefinitions for differentials, and their ordering in the base type's element order.

Why sort: a differential must list elements in the order of the base snapshot (slices after their slicing
entry, children after their parent) or snapshot generators misplace them. Authoring in any order and sorting
here keeps the profile definitions readable.
"""
from __future__ import annotations

import json
import zipfile
from functools import lru_cache
from typing import Any

from common import CORE, REPO, Resource

CORE_ZIP = REPO / "fhir_service" / "data" / "hl7.fhir.r4.core.zip"

Element = dict[str, Any]


@lru_cache(maxsize=None)
def core_sd(type_name: str) -> Resource:
    with zipfile.ZipFile(CORE_ZIP) as archive:
        return json.loads(archive.read(f"StructureDefinition-{type_name}.json"))


def el(eid: str, **fields: Any) -> Element:
    """One ElementDefinition; `path` is the id without slice names."""
    path = ".".join(part.split(":")[0] for part in eid.split("."))
    return {"id": eid, "path": path, **fields}


def constraint(key: str, human: str, expression: str, source: str, severity: str = "error") -> dict[str, str]:
    return {"key": key, "severity": severity, "human": human, "expression": expression, "source": source}


def binding(strength: str, value_set: str, description: str) -> dict[str, str]:
    return {"strength": strength, "description": description, "valueSet": value_set}


def reference(*profiles: str) -> list[dict[str, Any]]:
    return [{"code": "Reference", "targetProfile": list(profiles)}]


def extension_slices(path: str, slices: list[tuple[str, str, int, str, str]]) -> list[Element]:
    """`path.extension` sliced by url, with one slice per (sliceName, extension url, min, max, short)."""
    out = [el(f"{path}.extension", slicing={"discriminator": [{"type": "value", "path": "url"}],
                                             "ordered": False, "rules": "open"})]
    if sum(low for _, _, low, _, _ in slices):  # the sliced element holds at least its required slices
        out[0]["min"] = sum(low for _, _, low, _, _ in slices)
    for name, url, low, high, short in slices:
        out.append(el(f"{path}.extension:{name}", sliceName=name, short=short, min=low, max=high,
                      type=[{"code": "Extension", "profile": [url]}], mustSupport=True))
    return out


def coding_slices(path: str, slices: list[tuple[str, str, int, str, Any]]) -> list[Element]:
    """`path.coding` sliced by system: (sliceName, system, min, max, binding-or-fixed-code)."""
    out = [el(f"{path}.coding", slicing={"discriminator": [{"type": "value", "path": "system"}],
                                         "ordered": False, "rules": "open"})]
    if sum(low for _, _, low, _, _ in slices):
        out[0]["min"] = sum(low for _, _, low, _, _ in slices)
    for name, system, low, high, code_rule in slices:
        out.append(el(f"{path}.coding:{name}", sliceName=name, min=low, max=high, mustSupport=True))
        out.append(el(f"{path}.coding:{name}.system", min=1, fixedUri=system))
        code_el = el(f"{path}.coding:{name}.code", min=1)
        if isinstance(code_rule, dict):
            code_el["binding"] = code_rule
        elif isinstance(code_rule, str):
            code_el["fixedCode"] = code_rule
        out.append(code_el)
    return out


def _order(base_type: str) -> dict[str, int]:
    return {e["path"]: i for i, e in enumerate(core_sd(base_type)["snapshot"]["element"])}


def sort_differential(base_type: str, elements: list[Element]) -> list[Element]:
    """Order `elements` as the base snapshot orders their paths; unknown (nested type) paths keep the order
    they were written in, under their parent; slices follow their slicing entry in the order written."""
    order = _order(base_type)
    written: dict[str, int] = {}
    slice_rank: dict[str, int] = {}
    for i, element in enumerate(elements):
        written.setdefault(element["path"], i)
        for part in element["id"].split("."):
            if ":" in part:
                slice_rank.setdefault(part, len(slice_rank) + 1)

    def key(element: Element) -> tuple[tuple[int, int, int], ...]:
        parts = element["id"].split(".")
        out = []
        for n in range(1, len(parts) + 1):
            path = ".".join(p.split(":")[0] for p in parts[:n])
            last = parts[n - 1]
            rank = slice_rank.get(last, 0) if ":" in last else 0
            if path in order:
                out.append((order[path], 0, rank))
            else:
                out.append((10**6, written.get(path, 10**6), rank))
        return tuple(out)

    ids = [e["id"] for e in elements]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{base_type}: duplicate element ids in differential")
    return sorted(elements, key=key)


def structure_definition(header: Resource, base_type: str, kind: str, elements: list[Element],
                         context: list[str] | None = None) -> Resource:
    """A constraint StructureDefinition on the R4 core type `base_type` with the differential given."""
    sd = dict(header)
    sd["fhirVersion"] = "4.0.1"
    sd["kind"] = kind
    sd["abstract"] = False
    if context is not None:
        sd["context"] = [{"type": "element", "expression": c} for c in context]
    sd["type"] = base_type
    sd["baseDefinition"] = CORE + base_type
    sd["derivation"] = "constraint"
    sd["differential"] = {"element": sort_differential(base_type, elements)}
    return sd
