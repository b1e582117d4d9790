"""FHIR XML -> FHIR JSON, driven by the StructureDefinitions (which elements repeat, which are primitives).

Why here and not a library: no maintained Python library converts FHIR XML without generated model classes, and
the validator needs what the XML really said (unknown elements, bad values) carried into the JSON so that it can
report them, plus the line and column of every element. Parsing is done with expat (stdlib), which gives positions.

The result is the JSON form the FHIR spec defines: repeating elements as arrays, primitives with `id`/`extension`
as `_name` siblings (arrays aligned with nulls), `xhtml` as a string, resources inside `contained`/`resource`
elements as objects with `resourceType`. Elements the definitions do not know are kept (a string for a `value`
attribute, else an object) so the validator reports them as unknown.

The rules that only XML has are checked here, while reading (as issues, so JSON validation stays lean), as the
HL7 Java validator's XML parser does: elements in the order of their definition (out of order is an error),
only the attributes FHIR defines (`value` on primitives, `id` on elements, `url` on extensions), every element
in the FHIR namespace (the narrative `div` in the XHTML one), and no text content outside the narrative.
Comments and processing instructions are ignored. A DTD (DOCTYPE) is refused outright: it can declare
entities, which are the XXE and "billion laughs" attacks; an undeclared entity is a well-formedness error.
"""
from __future__ import annotations

import functools
import re
import xml.parsers.expat
from dataclasses import dataclass, field
from typing import Any

from fhir_service.definitions import Definitions
from fhir_service.validation.outcome import Issue
from fhir_service.validation.source_map import expression_of

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
INTEGER_TYPES = {"integer", "positiveInt", "unsignedInt", "integer64"}
PRIMITIVE_RE = re.compile(r"^[a-z]")  # FHIR primitive type names start lowercase
Location = tuple[str | int, ...]


class XmlFormatError(ValueError):
    """The text is not well-formed XML, or not a FHIR resource; carries the position."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None) -> None:
        super().__init__(message)
        self.line, self.col = line, col


@dataclass(frozen=True)
class ChildInfo:
    """What the definitions say of one child element name in one context."""

    type_code: str | None  # FHIR type of the child (None when unknown)
    repeats: bool
    context: tuple[str, str] | None  # (StructureDefinition type, element path) for a backbone element's children
    order: int = -1  # position of its definition among its siblings' (XML keeps the definition's order)


@dataclass
class XmlResult:
    resource: dict[str, Any] | None
    positions: dict[Location, tuple[int, int]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


def _element_index(definitions: Definitions, type_name: str) -> dict[str, dict[str, Any]]:
    def build() -> dict[str, dict[str, Any]]:
        sd = definitions.structure_definition(type_name)
        return {} if sd is None else {e["path"]: e for e in sd["snapshot"]["element"]}
    return definitions.memo(("xml-element-index", type_name), build)


def _element_order(definitions: Definitions, type_name: str) -> dict[str, int]:
    """Element path -> its position in the snapshot (the order FHIR XML must follow)."""
    def build() -> dict[str, int]:
        return {path: i for i, path in enumerate(_element_index(definitions, type_name))}
    return definitions.memo(("xml-element-order", type_name), build)


def _type_code(type_entry: dict[str, Any]) -> str:
    code = type_entry.get("code", "")
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in type_entry.get("extension", []):
            if ext.get("url") == FHIR_TYPE_EXT:
                return ext.get("valueUrl") or ext.get("valueString") or code
    return code


class _Model:
    """Child lookup over the definitions, cached per (context, name)."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.child = functools.lru_cache(maxsize=None)(self._child)

    def _child(self, root_type: str, path: str, name: str) -> ChildInfo | None:
        found = self._child_unordered(root_type, path, name)
        if found is None:
            return None
        info, element_path = found
        order = _element_order(self.definitions, root_type).get(element_path, -1)
        return ChildInfo(info.type_code, info.repeats, info.context, order)

    def _child_unordered(self, root_type: str, path: str, name: str) -> tuple[ChildInfo, str] | None:
        index = _element_index(self.definitions, root_type)
        element = index.get(f"{path}.{name}")
        if element is None:
            # A choice type: `valueQuantity` for `value[x]`.
            for candidate_path, candidate in index.items():
                if not candidate_path.startswith(path + ".") or not candidate_path.endswith("[x]"):
                    continue
                stem = candidate_path[len(path) + 1:-3]
                if "." in stem or not name.startswith(stem):
                    continue
                suffix = name[len(stem):]
                for type_entry in candidate.get("type", []):
                    code = _type_code(type_entry)
                    if code[:1].upper() + code[1:] == suffix:
                        return ChildInfo(code, candidate.get("max") != "1", None), candidate_path
            return None
        element_path = f"{path}.{name}"
        repeats = element.get("max") not in ("1", "0")
        if element.get("contentReference"):
            target = element["contentReference"].split("#", 1)[1]
            return ChildInfo("BackboneElement", repeats, (root_type, target)), element_path
        types = element.get("type", [])
        code = _type_code(types[0]) if types else "Element"
        if code in ("BackboneElement", "Element") and any(
                p.startswith(f"{path}.{name}.") for p in index):
            return ChildInfo(code, repeats, (root_type, f"{path}.{name}")), element_path
        return ChildInfo(code, repeats, None), element_path

    def is_primitive(self, type_code: str | None) -> bool:
        return bool(type_code) and bool(PRIMITIVE_RE.match(type_code)) and type_code != "xhtml"  # type: ignore[arg-type]


@dataclass
class _Frame:
    name: str
    location: Location
    line: int
    col: int
    info: ChildInfo | None
    context: tuple[str, str] | None  # where this element's children are defined
    obj: dict[str, Any]
    attrs: dict[str, str]
    is_resource_holder: bool = False  # `contained`, `resource`, `outcome`: the child is a resource
    xhtml_depth: int = 0
    last_order: int = -1  # definition position of the last child element seen (to check the order)
    last_name: str = ""


def parse_xml(text: str | bytes, definitions: Definitions) -> XmlResult:
    """Parse FHIR XML into FHIR JSON with the position (line, col) of every element's location."""
    model = _Model(definitions)
    result = XmlResult(None)
    parser = xml.parsers.expat.ParserCreate(namespace_separator="|")
    parser.buffer_text = True
    stack: list[_Frame] = []
    xhtml: list[str] = []  # the serialized div while inside one
    xhtml_root: list[_Frame] = []

    def position() -> tuple[int, int]:
        return parser.CurrentLineNumber, parser.CurrentColumnNumber + 1

    def split(tag: str) -> tuple[str, str]:
        ns, _, local = tag.rpartition("|")
        return ns, local

    def issue(message: str, location: Location, line: int, col: int, severity: str = "error") -> None:
        root = result.resource.get("resourceType", "") if result.resource else ""
        result.issues.append(Issue(severity, "structure" if severity != "fatal" else "invalid", message,
                                   expression_of(location, root), location, line, col))

    def check_order(parent: _Frame, name: str, info: ChildInfo | None, line: int, col: int) -> None:
        if info is None or info.order < 0:
            return
        if info.order < parent.last_order:
            issue(f"Element '{name}' is out of order (found after {parent.last_name}): in FHIR XML the elements "
                  "follow the order of their definition", parent.location, line, col)
            return
        parent.last_order, parent.last_name = info.order, name

    def check_attributes(frame: _Frame, type_code: str | None, is_resource: bool) -> None:
        allowed: set[str] = set()
        if not is_resource:
            allowed.add("id")
            if model.is_primitive(type_code):
                allowed.add("value")
            if type_code == "Extension":
                allowed.add("url")
        for name in frame.attrs:
            if name not in allowed:
                issue(f"Undefined attribute '@{_attribute_name(name)}' on {frame.name} for type "
                      f"{type_code or frame.name}", frame.location, frame.line, frame.col)

    def start(tag: str, attrs: dict[str, str]) -> None:
        ns, local = split(tag)
        line, col = position()
        if xhtml_root:
            xhtml.append(_open_tag(local, attrs))
            return
        if not stack:
            if ns != FHIR_NS:
                raise XmlFormatError(f"The root element must be in the FHIR namespace {FHIR_NS}, not '{ns or 'none'}'", line, col)
            obj = {"resourceType": local}
            frame = _Frame(local, (), line, col, None, (local, local), obj, attrs)
            result.resource = obj
            result.positions[()] = (line, col)
            _apply_attributes(frame, attrs, None)
            check_attributes(frame, local, True)
            stack.append(frame)
            return
        parent = stack[-1]
        if parent.is_resource_holder:
            obj = {"resourceType": local}
            frame = _Frame(local, parent.location, line, col, None, (local, local), obj, attrs)
            parent.obj["__resource__"] = obj
            if ns != FHIR_NS:
                issue(f"The resource '{local}' must be in the FHIR namespace {FHIR_NS}, not '{ns or 'none'}'",
                      parent.location, line, col)
            _apply_attributes(frame, attrs, None)
            check_attributes(frame, local, True)
            stack.append(frame)
            return
        info = None
        if parent.context is not None:
            info = model.child(parent.context[0], parent.context[1], local)
        if local == "div" and (ns == XHTML_NS or (info is not None and info.type_code == "xhtml")):
            check_order(parent, local, info, line, col)
            if ns != XHTML_NS:
                issue(f"The narrative div must be in the XHTML namespace {XHTML_NS}, not '{ns or 'none'}'",
                      parent.location + ("div",), line, col)
            xhtml_root.append(_Frame(local, parent.location + ("div",), line, col, None, None, parent.obj, attrs))
            result.positions[parent.location + ("div",)] = (line, col)
            xhtml.append(_open_tag(local, {**attrs, "xmlns": XHTML_NS}))
            return
        # Each JSON location: name, plus index when the element repeats.
        if info is not None and info.repeats:
            existing = parent.obj.get(local)
            index = len(existing) if isinstance(existing, list) else 0
            location = parent.location + (local, index)
        else:
            location = parent.location + (local,)
        result.positions.setdefault(location, (line, col))
        if ns != FHIR_NS:
            issue(f"The element '{local}' must be in the FHIR namespace {FHIR_NS}, not '{ns or 'none'}'",
                  location, line, col)
        check_order(parent, local, info, line, col)
        context = None
        if info is not None:
            if info.context is not None:
                context = info.context
            elif info.type_code and info.type_code != "Resource":
                context = (info.type_code, info.type_code)  # primitives too: their id and extension children
        frame = _Frame(local, location, line, col, info, context, {}, attrs,
                       is_resource_holder=info is not None and info.type_code == "Resource")
        if info is not None:
            check_attributes(frame, info.type_code, False)
        stack.append(frame)

    def end(tag: str) -> None:
        ns, local = split(tag)
        if xhtml_root:
            xhtml.append(f"</{local}>")
            if local == "div" and _balanced(xhtml):
                frame = xhtml_root.pop()
                frame.obj["div"] = "".join(xhtml)
                xhtml.clear()
            return
        frame = stack.pop()
        if not stack:
            return
        parent = stack[-1]
        if parent.is_resource_holder and frame.obj.get("resourceType"):
            return  # the resource was stored in the holder; the holder's end places it
        _attach(parent, frame, model)

    def chars(data: str) -> None:
        if xhtml_root:
            xhtml.append(_escape(data))
        elif data.strip() and stack:
            line, col = position()
            issue(f"Text content is not allowed here: '{data.strip()[:40]}'", stack[-1].location, line, col)

    def refuse_doctype(name: str, *_: Any) -> None:
        line, col = position()
        raise XmlFormatError(f"A DTD (<!DOCTYPE {name}>) is not allowed in FHIR XML: it can declare entities "
                             "(external entity / entity expansion attacks), so the input is refused", line, col)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        raise XmlFormatError(f"The XML is not well-formed: {xml.parsers.expat.ErrorString(exc.code)}",
                             exc.lineno, exc.offset + 1) from exc
    return result


def _apply_attributes(frame: _Frame, attrs: dict[str, str], info: ChildInfo | None) -> None:
    for key, value in attrs.items():
        if key == "id" and frame.obj.get("resourceType"):
            continue  # a resource's id is an element, not an attribute
        if key in ("id", "url"):
            frame.obj[key] = value


def _attach(parent: _Frame, frame: _Frame, model: _Model) -> None:
    info = frame.info
    name = frame.name
    obj = frame.obj
    if frame.is_resource_holder:
        value: Any = obj.get("__resource__", {})
        _put(parent.obj, name, value, info)
        return
    is_primitive = info is not None and model.is_primitive(info.type_code)
    if is_primitive or (info is None and "value" in frame.attrs and not obj):
        primitive_value = _convert(frame.attrs.get("value"), info.type_code if info else None)
        extra = {k: v for k, v in obj.items()}
        if "id" in frame.attrs:
            extra["id"] = frame.attrs["id"]
        _put_primitive(parent.obj, name, primitive_value, extra or None, info)
        return
    for key in ("id", "url"):
        if key in frame.attrs:
            obj = {key: frame.attrs[key], **obj}
    _put(parent.obj, name, obj, info)


def _put(target: dict[str, Any], name: str, value: Any, info: ChildInfo | None) -> None:
    if info is not None and info.repeats:
        target.setdefault(name, []).append(value)
    elif name in target:
        existing = target[name]
        target[name] = (existing if isinstance(existing, list) else [existing]) + [value]
    else:
        target[name] = value


def _put_primitive(target: dict[str, Any], name: str, value: Any, extra: dict[str, Any] | None,
                   info: ChildInfo | None) -> None:
    if info is not None and info.repeats:
        values = target.setdefault(name, [])
        extras = target.get("_" + name)
        values.append(value)
        if extra is not None:
            if extras is None:
                extras = target["_" + name] = [None] * (len(values) - 1)
            extras.append(extra)
        elif extras is not None:
            extras.append(None)
        return
    if value is not None:
        target[name] = value
    if extra is not None:
        target["_" + name] = extra


def _convert(raw: str | None, type_code: str | None) -> Any:
    if raw is None:
        return None
    if type_code == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    if type_code in INTEGER_TYPES:
        return int(raw) if re.fullmatch(r"-?(0|[1-9][0-9]*)", raw) else raw
    if type_code == "decimal":
        if re.fullmatch(r"-?(0|[1-9][0-9]*)", raw):
            return int(raw)
        if re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", raw):
            return float(raw)
        return raw
    return raw


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


XML_NS = "http://www.w3.org/XML/1998/namespace"


def _attribute_name(name: str) -> str:
    ns, _, local = name.rpartition("|")
    prefix = {XML_NS: "xml:", XSI_NS: "xsi:"}.get(ns, f"{{{ns}}}" if ns else "")
    return prefix + local


def _open_tag(local: str, attrs: dict[str, str]) -> str:
    rendered = "".join(f' {_attribute_name(k)}="{_escape(v)}"' for k, v in attrs.items())
    return f"<{local}{rendered}>"


def _balanced(parts: list[str]) -> bool:
    depth = 0
    for part in parts:
        if part.startswith("</"):
            depth -= 1
        elif part.startswith("<"):
            depth += 1
    return depth == 0
