"""The FHIR R4 type of each JSON key, from the core StructureDefinitions, for type-driven walks.

Re-dating must touch every date, dateTime and instant and nothing else (a `valueString` "2019" or an
identifier that looks like a date are not dates), so it walks resources knowing each element's type, as the
validator does, instead of guessing from the text. A *context* is a type name (`Period`, `Observation`) or,
for backbone elements, the element path (`Observation.component`); resolved children are cached.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fhir_service.definitions import Definitions, default_definitions

PRIMITIVE_PREFIX = "http://hl7.org/fhirpath/System."
BACKBONE = ("BackboneElement", "Element")


@dataclass(frozen=True, slots=True)
class Child:
    """What a JSON key holds: `type` is a FHIR type code (`dateTime`, `Period`, `Resource`), `context` where
    to look up its own children (the type, or the backbone path)."""

    type: str
    context: str
    many: bool = False


class ElementTypes:
    def __init__(self, definitions: Definitions | None = None) -> None:
        self._definitions = definitions or default_definitions()
        self._tables: dict[str, dict[str, dict[str, Child]]] = {}  # root type -> path -> key -> child
        self._children: dict[str, dict[str, Child]] = {}
        self._lock = threading.Lock()

    def child(self, context: str, key: str) -> Child | None:
        """The child `key` of `context` (a type name or a backbone path), or None when unknown."""
        return self.children(context).get(key)

    def children(self, context: str) -> dict[str, Child]:
        """JSON key -> Child of `context` (a type name or a backbone path); empty when unknown."""
        found = self._children.get(context)
        if found is not None:
            return found
        root = context.split(".", 1)[0]
        table = self._tables.get(root)
        if table is None:
            with self._lock:
                table = self._tables.get(root)
                if table is None:
                    table = self._tables[root] = self._build(root)
        found = table.get(context, {})
        self._children[context] = found
        return found

    def _build(self, root: str) -> dict[str, dict[str, Child]]:
        sd = self._definitions.structure_definition(root)
        table: dict[str, dict[str, Child]] = {}
        if sd is None:
            return table
        for element in sd.get("snapshot", {}).get("element", []):
            path: str = element["path"]
            if "." not in path:
                continue
            parent, name = path.rsplit(".", 1)
            children = table.setdefault(parent, {})
            reference = element.get("contentReference")
            if reference:
                target = reference.split("#", 1)[1]
                children[name] = Child("BackboneElement", target, many)
                continue
            many = element.get("max", "1") != "1"
            types = [t.get("code", "") for t in element.get("type", [])]
            if name.endswith("[x]"):
                stem = name[:-3]
                for code in types:
                    code = _code(code)
                    children[stem + code[0].upper() + code[1:]] = Child(code, code, many)
            elif len(types) == 1:
                code = _code(types[0])
                children[name] = Child(code, path if code in BACKBONE else code, many)
        return table


def _code(code: str) -> str:
    if code.startswith(PRIMITIVE_PREFIX):
        return {"String": "string", "Boolean": "boolean", "Integer": "integer", "Decimal": "decimal",
                "Date": "date", "DateTime": "dateTime", "Time": "time"}.get(code[len(PRIMITIVE_PREFIX):], "string")
    return code


_SHARED: ElementTypes | None = None


def shared_element_types() -> ElementTypes:
    global _SHARED
    if _SHARED is None:
        _SHARED = ElementTypes()
    return _SHARED


def walk_typed(value: Any, context: str, visit: Any, types: ElementTypes | None = None) -> Any:
    """A copy of `value` (a resource or element of type/path `context`) in which each primitive is
    `visit(type_code, key_path, value)`; `key_path` is the tuple of JSON keys from the resource root.
    Contained and nested resources are walked with their own type; unknown keys are copied unchanged."""
    return _walk(value, context, visit, types or shared_element_types(), ())


def _walk(value: Any, context: str, visit: Any, types: ElementTypes, path: tuple[str, ...]) -> Any:
    if not isinstance(value, dict):
        return value
    if context in ("Resource", "DomainResource"):
        context = value.get("resourceType", context)
    kids = types.children(context)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "resourceType":
            out[key] = item
            continue
        if key[0] == "_":  # a primitive's id/extension: Element
            child: Child | None = ELEMENT_CHILD
        else:
            child = kids.get(key)
        if child is None:
            out[key] = item
            continue
        here = path + (key,)
        kind = child.type
        if kind in ("Resource", "DomainResource"):
            target = None
        elif kind[0].islower():
            target = kind
        else:
            target = child.context
        if isinstance(item, list):
            out[key] = [_one(v, kind, target, visit, types, here) for v in item]
        else:
            out[key] = _one(item, kind, target, visit, types, here)
    return out


ELEMENT_CHILD = Child("Element", "Element")


def _one(value: Any, kind: str, target: str | None, visit: Any, types: ElementTypes, path: tuple[str, ...]) -> Any:
    if target is None:  # a nested resource: its own type
        return _walk(value, value.get("resourceType", "Resource") if isinstance(value, dict) else "Resource",
                     visit, types, path)
    if target is kind and kind[0].islower():
        return visit(kind, path, value) if value is not None else value
    return _walk(value, target, visit, types, path)
