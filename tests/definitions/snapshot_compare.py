"""Comparison of a generated snapshot with a published one, on the fields validation depends on.

Used by the agreement test against the core package's published profiles and extensions (those ship both a
differential and the snapshot the HL7 IG publisher generated from it).
"""
from __future__ import annotations

from typing import Any, Iterator

from fhir_service.definitions.registry import Definitions

Element = dict[str, Any]


def _canonical(url: Any) -> Any:
    """Canonicals without a `|version` suffix (the publisher sometimes adds `|4.0.1`)."""
    return url.split("|", 1)[0] if isinstance(url, str) else url


def element_signature(elem: Element) -> dict[str, Any]:
    """The compared fields of one element."""
    types = []
    for t in elem.get("type", []):
        types.append((t.get("code"), tuple(_canonical(p) for p in t.get("profile", [])),
                      tuple(_canonical(p) for p in t.get("targetProfile", []))))
    binding = elem.get("binding") or {}
    slicing = elem.get("slicing") or {}
    return {
        "path": elem.get("path"),
        "min": elem.get("min"),
        "max": elem.get("max"),
        "type": types,
        "fixed/pattern": {k: v for k, v in elem.items() if k.startswith(("fixed", "pattern"))},
        "binding": (binding.get("strength"), _canonical(binding.get("valueSet"))) if binding else None,
        "slicing": [(d.get("type"), d.get("path")) for d in slicing.get("discriminator", [])] if slicing else None,
        "rules": slicing.get("rules"),
        "sliceName": elem.get("sliceName"),
        "base": (elem.get("base") or {}).get("path"),
        "contentReference": elem.get("contentReference"),
        "constraints": sorted(str(c.get("key")) for c in elem.get("constraint", [])),
        "mustSupport": elem.get("mustSupport", False),
    }


def compare_snapshots(generated: list[Element], published: list[Element]) -> list[str]:
    """Human-readable differences; empty when the snapshots agree on ids (in order) and compared fields."""
    gen_ids = [e.get("id") for e in generated]
    pub_ids = [e.get("id") for e in published]
    if gen_ids != pub_ids:
        missing = [i for i in pub_ids if i not in gen_ids][:3]
        extra = [i for i in gen_ids if i not in pub_ids][:3]
        first = next((n for n, (a, b) in enumerate(zip(gen_ids, pub_ids)) if a != b), min(len(gen_ids), len(pub_ids)))
        return [f"ids differ at #{first}: missing {missing}, extra {extra}"]
    problems = []
    for gen, pub in zip(generated, published):
        a, b = element_signature(gen), element_signature(pub)
        for key in a:
            if a[key] != b[key]:
                problems.append(f"{gen.get('id')}: {key} generated {a[key]!r} published {b[key]!r}")
    return problems


def core_profiles_with_snapshots(definitions: Definitions) -> Iterator[dict[str, Any]]:
    """The core package's constraint StructureDefinitions (profiles and extensions) that ship both."""
    for package, entry in definitions.index_entries("StructureDefinition"):
        if entry.meta.get("derivation") != "constraint" or not package.name.startswith("hl7.fhir.r4.core"):
            continue
        sd = package.load(entry.filename)
        if sd.get("differential", {}).get("element") and sd.get("snapshot", {}).get("element"):
            yield sd
