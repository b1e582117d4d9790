"""FHIR JSON -> FHIR XML for responses (the server reads XML with `fhir_service.formats.xml.parse_xml`).

The XML form follows the element order of the StructureDefinitions, which is why it is driven by them (the
JSON form has no order): primitives as `value` attributes with their `_name` extensions inside, `id` of
elements and `url` of extensions as attributes, `xhtml` inline, contained and entry resources wrapped in
their element, everything in the FHIR namespace. Properties the definitions do not know are left out
(every write is shape-checked, so stored resources have none).
"""
from __future__ import annotations

from decimal import Decimal
from itertools import zip_longest
from typing import Any

FHIR_NS = "http://hl7.org/fhir"
# name, JSON keys (one, or one per type of a choice), type code per key, content reference
Child = tuple[str, list[str], dict[str, str], str | None]


def _ordered(definitions: Any, type_name: str) -> dict[str, list[Child]] | None:
    def build() -> dict[str, list[Child]] | None:
        sd = definitions.structure_definition(type_name)
        if not sd:
            return None
        tables: dict[str, list[Child]] = {}
        seen: set[str] = set()
        for element in sd.get("snapshot", {}).get("element", []):
            path = element.get("path", "")
            if "." not in path or path in seen:
                continue  # the root, and slices repeating their base path
            seen.add(path)
            parent, name = path.rsplit(".", 1)
            codes = [t.get("code", "") for t in element.get("type", [])]
            reference = element.get("contentReference", "").lstrip("#") or None
            if name.endswith("[x]"):
                stem = name[:-3]
                keys = [stem + c[0].upper() + c[1:] for c in codes]
                tables.setdefault(parent, []).append((stem, keys, dict(zip(keys, codes)), None))
            else:
                tables.setdefault(parent, []).append((name, [name], {name: codes[0] if len(codes) == 1 else ""},
                                                      reference))
        return tables
    return definitions.memo(("rest-xml-order", type_name), build)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _attr(value: Any) -> str:
    return (_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


def to_xml(resource: dict[str, Any], definitions: Any) -> str:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>']
    _resource(resource, definitions, parts)
    return "".join(parts)


def _resource(resource: dict[str, Any], definitions: Any, parts: list[str]) -> None:
    resource_type = str(resource.get("resourceType"))
    tables = _ordered(definitions, resource_type) or {}
    parts.append(f'<{resource_type} xmlns="{FHIR_NS}">')
    _children(resource, resource_type, tables, definitions, parts, at_root=True)
    parts.append(f"</{resource_type}>")


def _children(value: dict[str, Any], path: str, tables: dict[str, list[Child]], definitions: Any,
              parts: list[str], at_root: bool = False, attributes: tuple[str, ...] = ()) -> None:
    for name, keys, codes, reference in tables.get(path, []):
        if name in attributes:
            continue
        for key in keys:
            items, extras = value.get(key), value.get(f"_{key}")
            if items is None and extras is None:
                continue
            items_list = items if isinstance(items, list) else [items]
            extras_list = extras if isinstance(extras, list) else [extras]
            for item, extra in zip_longest(items_list, extras_list):
                _element(key, item, extra, codes.get(key, ""), f"{path}.{name}", reference, tables,
                         definitions, parts)


def _element(key: str, item: Any, extra: Any, code: str, path: str, reference: str | None,
             tables: dict[str, list[Child]], definitions: Any, parts: list[str]) -> None:
    if item is None and not extra:
        return
    if reference:  # a content reference: the same structure as another element of this type
        owner = reference.split(".")[0]
        owner_tables = tables if reference.startswith(path.split(".")[0] + ".") else _ordered(definitions, owner)
        _complex(key, item, reference, owner_tables or {}, definitions, parts)
        return
    if code == "xhtml":
        parts.append(str(item))
        return
    if code == "Resource" or (isinstance(item, dict) and "resourceType" in item and code in ("", "Resource")):
        parts.append(f"<{key}>")
        _resource(item, definitions, parts)
        parts.append(f"</{key}>")
        return
    if code in ("BackboneElement", "Element") or (not code and isinstance(item, dict)):
        _complex(key, item, path, tables, definitions, parts)
        return
    if code and code[0].isupper():
        _complex(key, item, code, _ordered(definitions, code) or {}, definitions, parts)
        return
    # a primitive: the value as an attribute, its id/extensions from the `_key` sibling
    attrs = f' value="{_attr(item)}"' if item is not None else ""
    extra = extra if isinstance(extra, dict) else {}
    if extra.get("id") is not None:
        attrs = f' id="{_attr(extra["id"])}"' + attrs
    extensions = extra.get("extension") or []
    if not extensions:
        parts.append(f"<{key}{attrs}/>")
        return
    parts.append(f"<{key}{attrs}>")
    extension_tables = _ordered(definitions, "Extension") or {}
    for extension in extensions:
        _complex("extension", extension, "Extension", extension_tables, definitions, parts)
    parts.append(f"</{key}>")


def _complex(key: str, item: Any, path: str, tables: dict[str, list[Child]], definitions: Any,
             parts: list[str]) -> None:
    if not isinstance(item, dict):
        return
    attributes: tuple[str, ...] = ("id",)
    attrs = f' id="{_attr(item["id"])}"' if item.get("id") is not None else ""
    if path == "Extension" and item.get("url") is not None:
        attributes = ("id", "url")
        attrs += f' url="{_attr(item["url"])}"'
    parts.append(f"<{key}{attrs}>")
    _children(item, path, tables, definitions, parts, attributes=attributes)
    parts.append(f"</{key}>")
