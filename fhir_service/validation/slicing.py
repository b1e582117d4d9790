"""Slicing: assign each item of a sliced element to a slice by its discriminators, then check each slice.

Supported discriminators: value and pattern (fixed[x]/pattern[x] found at the discriminator path inside the
slice, or an extension slice's profile URL for `url`), type (the item's type: choice suffix or resourceType),
profile (the item conforms to the slice's type profile), exists. Paths: dotted element names, `$this`,
`extension('url')`, `resolve()`, `ofType(T)`. Items matching a slice are validated against that slice's
definition (which, in a snapshot, also carries the sliced element's constraints); others against the sliced
element; `closed` slicing rejects them. Slice cardinality is counted per slice.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fhir_service.validation import patterns
from fhir_service.validation.elements import (
    PRIMITIVE_TYPES, CompiledStructure, Discriminator, ElementDef, compiled,
)
from fhir_service.validation.jsonshape import dicts
from fhir_service.validation.outcome import Location

if TYPE_CHECKING:
    from fhir_service.validation.walker import ResourceFrame, Walk

_PRIMITIVES_BY_LOWER = {name.lower(): name for name in PRIMITIVE_TYPES}
_FUNC = re.compile(r"^(\w+)\((.*)\)$")
_NO_MATCH = object()


def _segments(path: str) -> list[str]:
    out: list[str] = []
    depth = 0
    cur = ""
    for ch in path:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "." and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return [s for s in out if s != "$this"]


def _item_type(key: str, elem: ElementDef, item: Any) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("resourceType"), str):
        return item["resourceType"]
    if elem.is_choice and key.startswith(elem.name) and len(key) > len(elem.name):
        suffix = key[len(elem.name):]
        for t in elem.types:
            if t.code.lower() == suffix.lower():
                return t.code
        return _PRIMITIVES_BY_LOWER.get(suffix.lower(), suffix)  # valueDateTime -> dateTime
    if len(elem.types) == 1:
        return elem.types[0].code
    return None


def _item_values(walk: "Walk", item: Any, segments: list[str], frame: "ResourceFrame") -> list[Any]:
    """Values found at a discriminator path in an instance item (JSON navigation)."""
    current = [item]
    for seg in segments:
        nxt: list[Any] = []
        m = _FUNC.match(seg)
        for value in current:
            if m:
                name, arg = m.group(1), m.group(2).strip().strip("'\"")
                if name == "extension":
                    for ext in dicts(value.get("extension")) if isinstance(value, dict) else []:
                        if isinstance(ext, dict) and ext.get("url") == arg:
                            nxt.append(ext)
                elif name == "resolve":
                    if isinstance(value, dict) and isinstance(value.get("reference"), str):
                        target = _resolve(value["reference"], frame)
                        if target is not None:
                            nxt.append(target)
                elif name in ("ofType", "as"):
                    nxt.append(value)
                continue
            if not isinstance(value, dict):
                continue
            if seg in value:
                found = value[seg]
                nxt.extend(found if isinstance(found, list) else [found])
            else:
                for key, found in value.items():  # choice: value -> valueQuantity
                    if key.startswith(seg) and key[len(seg):][:1].isupper():
                        nxt.extend(found if isinstance(found, list) else [found])
        current = nxt
    return current


def _resolve(reference: str, frame: "ResourceFrame") -> Any:
    if reference.startswith("#"):
        return frame.contained(reference[1:])
    if frame.resolver is not None:
        try:
            return frame.resolver(reference)
        except Exception:  # noqa: BLE001
            return None
    return None


def _type_children(walk: "Walk", elem: ElementDef) -> dict[str, tuple[ElementDef, str | None]]:
    if elem.has_inline_children:
        return elem.children
    for t in elem.types:
        for url in t.profiles[:1]:
            prof = compiled(walk.defs, url)
            if prof is not None:
                return prof.root.children
        base = compiled(walk.defs, t.code)
        if base is not None:
            return base.root.children
    return {}


def _element_at(walk: "Walk", elem: ElementDef, segments: list[str]) -> ElementDef | None:
    current = elem
    for seg in segments:
        m = _FUNC.match(seg)
        if m:
            name, arg = m.group(1), m.group(2).strip().strip("'\"")
            if name in ("ofType", "as"):
                continue
            if name == "extension":
                ext = current.children.get("extension")
                found = None
                if ext is not None:
                    for s in ext[0].slices:
                        for t in s.types:
                            if arg in t.profiles:
                                found = s
                        fixed_url = s.children.get("url")
                        if fixed_url is not None and fixed_url[0].fixed == arg:
                            found = s
                if found is None:
                    return None
                current = found
                continue
            if name == "resolve":
                ref = current.type_ref("Reference")
                if ref is None or not ref.target_profiles:
                    return None
                prof = compiled(walk.defs, ref.target_profiles[0])
                if prof is None:
                    return None
                current = prof.root
                continue
            return None
        children = _type_children(walk, current)
        entry = children.get(seg)
        if entry is None:
            for name, (child, _) in children.items():
                if child.is_choice and child.name == seg:
                    entry = (child, None)
                    break
        if entry is None:
            return None
        current = entry[0]
    return current


def _expected_value(walk: "Walk", slice_def: ElementDef, segments: list[str]) -> tuple[str, Any]:
    """('fixed'|'pattern', value) the discriminator requires in this slice, or ('', _NO_MATCH)."""
    target = _element_at(walk, slice_def, segments)
    if target is not None:
        if target.fixed is not None:
            return "fixed", target.fixed
        if target.pattern is not None:
            return "pattern", target.pattern
    if segments == ["url"]:
        for t in slice_def.types:
            if t.code == "Extension" and t.profiles:
                return "fixed", t.profiles[0]
    return "", _NO_MATCH


def matches(walk: "Walk", slice_def: ElementDef, discriminators: list[Discriminator], key: str, item: Any,
            sliced: ElementDef, frame: "ResourceFrame") -> bool:
    for disc in discriminators:
        segments = _segments(disc.path)
        if disc.type in ("value", "pattern"):
            kind, expected = _expected_value(walk, slice_def, segments)
            if expected is _NO_MATCH:
                continue  # this slice does not constrain the discriminator's element: any value matches
            values = _item_values(walk, item, segments, frame)
            test = patterns.fixed_matches if kind == "fixed" and disc.type == "value" else patterns.pattern_matches
            if not any(test(v, expected) for v in values):
                return False
        elif disc.type == "type":
            expected = _expected_types(walk, slice_def, segments)
            if expected is None:
                continue  # the slice does not constrain the type there
            if not _actual_types(walk, item, key, sliced, segments, frame) & expected:
                return False
        elif disc.type == "exists":
            target = _element_at(walk, slice_def, segments)
            if target is None:
                return False
            present = bool(_item_values(walk, item, segments, frame))
            if (target.min >= 1 and not present) or (target.max == 0 and present):
                return False
        elif disc.type == "profile":
            target = _element_at(walk, slice_def, segments) if segments else slice_def
            if target is None:
                return False
            urls = [u for t in target.types for u in (t.profiles or t.target_profiles)]
            if not urls:
                continue  # this slice does not constrain the discriminator's element: any value matches
            values = _item_values(walk, item, segments, frame)
            if not values or not any(_conforms(walk, v, url, frame) for v in values for url in urls):
                return False
        else:
            return False
    return True


def _expected_types(walk: "Walk", slice_def: ElementDef, segments: list[str]) -> set[str] | None:
    """Types a slice allows at a type discriminator's path (for `...resolve()`, the target profiles' types)."""
    if segments and segments[-1] == "resolve()":
        element = _element_at(walk, slice_def, segments[:-1])
        ref = element.type_ref("Reference") if element is not None else None
        if ref is None or not ref.target_profiles:
            return None
        types = set()
        for url in ref.target_profiles:
            sd = walk.defs.resolve(url)
            types.add(sd["type"] if isinstance(sd, dict) and isinstance(sd.get("type"), str) else url.rsplit("/", 1)[-1])
        return types
    element = _element_at(walk, slice_def, segments) if segments else slice_def
    if element is None or not element.types:
        return None
    return {t.code for t in element.types}


def _actual_types(walk: "Walk", item: Any, key: str, sliced: ElementDef, segments: list[str],
                  frame: "ResourceFrame") -> set[str]:
    """Types the instance has at a type discriminator's path: resource types, or the type a choice names."""
    if not segments:
        found = _item_type(key, sliced, item)
        return {found} if found else set()
    if segments[-1] == "resolve()":
        return {v["resourceType"] for v in _item_values(walk, item, segments, frame)
                if isinstance(v, dict) and isinstance(v.get("resourceType"), str)}
    last = segments[-1]
    types: set[str] = set()
    for parent in _item_values(walk, item, segments[:-1], frame) if len(segments) > 1 else [item]:
        if not isinstance(parent, dict):
            continue
        for name, value in parent.items():
            if name == last:
                if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
                    types.add(value["resourceType"])
                else:
                    element = _element_at(walk, sliced, segments)
                    types.update(t.code for t in element.types) if element is not None else None
            elif name.startswith(last) and name[len(last):len(last) + 1].isupper():
                suffix = name[len(last):]
                types.add(_PRIMITIVES_BY_LOWER.get(suffix.lower(), suffix))
    return types


def _conforms(walk: "Walk", value: Any, url: str, frame: "ResourceFrame") -> bool:
    from fhir_service.validation.walker import Walk as WalkClass

    prof = compiled(walk.defs, url)
    if prof is None:
        return False
    if isinstance(value, dict) and "resourceType" in value:
        return walk.conforms(value, url)
    probe = WalkClass(walk.defs)
    probe.secondary = True
    probe.value(value, prof.root, prof.type, "", (), frame, 0, structure=prof)
    return not any(i.is_error for i in probe.issues)


def check(walk: "Walk", sliced: ElementDef, code: str | None, pairs: list[tuple[int, Any, Any]], expr: str,
          loc: Location, frame: "ResourceFrame", depth: int, structure: CompiledStructure | None, key: str,
          single: bool = False, ext_owner: tuple[str, str, str] | None = None) -> None:
    discriminators = sliced.slicing.discriminators if sliced.slicing is not None else [Discriminator("type", "$this")]
    rules = sliced.slicing.rules if sliced.slicing is not None else "open"
    counts = [0] * len(sliced.slices)
    last_slice = -1
    for i, item, item_ext in pairs:
        item_expr = expr if single else f"{expr}[{i}]"
        item_loc = loc if single else loc + (i,)
        chosen = -1
        if item is not None:
            for s_index, slice_def in enumerate(sliced.slices):
                if "/" in (slice_def.slice_name or ""):
                    continue
                try:
                    ok = matches(walk, slice_def, discriminators, key, item, sliced, frame)
                except RecursionError:
                    ok = False
                if ok:
                    chosen = s_index
                    break
        if chosen >= 0:
            counts[chosen] += 1
            if sliced.slicing is not None and sliced.slicing.ordered and chosen < last_slice:
                walk.issue("error", "structure", f"As specified by profile, elements in {expr} are out of order "
                           f"(slice {sliced.slices[chosen].slice_name})", item_expr, item_loc)
            last_slice = max(last_slice, chosen)
            walk.value(item, sliced.slices[chosen], code, item_expr, item_loc, frame, depth + 1, prim_ext=item_ext,
                       structure=structure, ext_owner=ext_owner)
            continue
        url = item.get("url") if isinstance(item, dict) else None
        if sliced.path.endswith("Extension.extension") and sliced.slices and isinstance(url, str) and ":" not in url:
            owner = structure.url if structure is not None and structure.type == "Extension" else sliced.path
            walk.issue("error", "structure", f"Sub-extension url '{url}' is not defined by the Extension {owner}",
                       item_expr, item_loc)
        elif rules == "closed" and item is not None and sliced.slicing is not None:
            walk.issue("error", "structure", f"This element does not match any known slice defined in the profile "
                       f"(slicing of {sliced.path} is closed)", item_expr, item_loc)
        walk.value(item, sliced, code, item_expr, item_loc, frame, depth + 1, prim_ext=item_ext, structure=structure,
                   ext_owner=ext_owner)
    for slice_def, count in zip(sliced.slices, counts):
        if "/" in (slice_def.slice_name or ""):
            continue
        if count < slice_def.min:
            walk.issue("error", "required", f"{expr}: minimum required = {slice_def.min}, but only found {count} "
                       f"(from slice {slice_def.slice_name})", expr, loc)
        if count > slice_def.max:
            walk.issue("error", "structure", f"{expr}: max allowed = {slice_def.max}, but found {count} "
                       f"(from slice {slice_def.slice_name})", expr, loc)
