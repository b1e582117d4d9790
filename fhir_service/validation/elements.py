"""StructureDefinition snapshots compiled into compact element trees: what the walker consults at every node.

Why: a snapshot is a flat list of ElementDefinitions addressed by dotted paths. Walking a resource against that
list directly would mean string matching at every node. Compiling once per StructureDefinition gives, for each
element, its children keyed by the JSON property name (choice types expanded: `value[x]` -> `valueQuantity`,
`valueString`, ...), its cardinality, allowed types, fixed/pattern values, binding, slicing and its invariants with
their FHIRPath compiled once. Compiled trees are cached per Definitions through `definitions.memo`.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from fhir_service.definitions import Definitions
from fhir_service.validation.guards import root_names
from fhir_service.validation.fhirpath_adapter import CompiledExpression, compile_expression

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
MIN_LENGTH_EXT = "http://hl7.org/fhir/StructureDefinition/minLength"
MUST_HAVE_VALUE_EXT = "/StructureDefinition/extension-ElementDefinition.mustHaveValue"
VALUE_ALTERNATIVES_EXT = "/StructureDefinition/extension-ElementDefinition.valueAlternatives"
SYSTEM_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Time": "time",
}
PRIMITIVE_TYPES = frozenset({
    "boolean", "integer", "string", "decimal", "uri", "url", "canonical", "base64Binary", "instant", "date",
    "dateTime", "time", "code", "oid", "id", "markdown", "unsignedInt", "positiveInt", "uuid", "xhtml", "integer64",
})
NATIVE_INVARIANTS = frozenset({"ele-1", "ext-1", "txt-1", "txt-2", "ref-1", "dom-3"})  # checked natively at every element (see walker)
UNBOUNDED = 1 << 40


@dataclass(slots=True)
class TypeRef:
    code: str
    profiles: tuple[str, ...] = ()
    target_profiles: tuple[str, ...] = ()


@dataclass(slots=True, eq=False)
class Constraint:
    key: str
    severity: str
    human: str
    expression: str
    compiled: CompiledExpression | None
    source: str | None
    roots: frozenset[str] | None = None  # see guards.root_names
    when_absent: dict[str, bool] = field(default_factory=dict)  # result by focus type when no root is present
    shortcut: Any = None  # shortcuts.Plan, built on first use; False when the expression has none
    pure: bool | str | None = None  # memoisable: True, "resolve" (keyed by targets too), False; set on first use
    resource_roots: frozenset[str] | bool | None = None  # roots + names read via %resource (see
    # guards.resource_reads), for memoising a resource's own invariants; False when not applicable; set on first use


@dataclass(slots=True)
class Discriminator:
    type: str  # value | pattern | type | profile | exists
    path: str


@dataclass(slots=True)
class Slicing:
    discriminators: list[Discriminator]
    rules: str  # open | closed | openAtEnd
    ordered: bool


@dataclass(slots=True, eq=False)
class ElementDef:
    """One compiled ElementDefinition. `children` maps JSON property names to (element, type code or None)."""

    id: str
    path: str
    name: str
    min: int
    max: int
    types: list[TypeRef]
    base_path: str
    slice_name: str | None = None
    is_choice: bool = False
    content_ref: str | None = None
    fixed: Any = None
    fixed_type: str | None = None
    pattern: Any = None
    pattern_type: str | None = None
    binding_strength: str | None = None
    binding_valueset: str | None = None
    additional_bindings: tuple[tuple[str, str], ...] = ()  # (purpose, value set) of R5-style additional bindings
    # displays the bound value set gives its codes ((system, code) -> displays and designations), when the
    # profile carries that value set (contained): a display it lists is accepted for the code
    binding_displays: dict[tuple[str, str], frozenset[str]] | None = None
    narrative_controls: dict[str, str] = field(default_factory=dict)  # "language" / "source" -> control code
    constraints: list[Constraint] = field(default_factory=list)
    slicing: Slicing | None = None
    slices: list["ElementDef"] = field(default_factory=list)
    children: dict[str, tuple["ElementDef", str | None]] = field(default_factory=dict)
    child_list: list["ElementDef"] = field(default_factory=list)
    max_length: int | None = None
    min_value: Any = None
    max_value: Any = None
    has_inline_children: bool = False
    is_modifier: bool = False
    min_length: int | None = None  # the minLength extension on the element definition
    must_have_value: bool = False  # the (R5 / cross-version) mustHaveValue extension
    value_alternatives: tuple[str, ...] = ()  # R5 valueAlternatives: extensions that may stand for a value
    base_max: int = UNBOUNDED  # the base definition's max decides the JSON shape (array or not)

    @property
    def type_codes(self) -> list[str]:
        return [t.code for t in self.types]

    def type_ref(self, code: str | None) -> TypeRef | None:
        for t in self.types:
            if t.code == code:
                return t
        return self.types[0] if len(self.types) == 1 and code is None else None


@dataclass(slots=True, eq=False)
class CompiledStructure:
    """A StructureDefinition compiled: the root element, elements by id (for contentReference), and facts."""

    url: str
    type: str
    kind: str
    root: ElementDef
    by_id: dict[str, ElementDef]
    abstract: bool
    derivation: str | None
    base_definition: str | None
    context: list[dict[str, Any]] = field(default_factory=list)
    context_invariants: list[str] = field(default_factory=list)


class StructureError(Exception):
    """A StructureDefinition that cannot be compiled (missing or broken snapshot)."""


def type_code(type_json: dict[str, Any]) -> str:
    code = type_json.get("code", "")
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in type_json.get("extension", ()):
            if ext.get("url") == FHIR_TYPE_EXT:
                return ext.get("valueUrl") or ext.get("valueUri") or SYSTEM_TYPES.get(code, "string")
        return SYSTEM_TYPES.get(code, "string")
    return code


def _max(value: str | None) -> int:
    if value is None or value == "*":
        return UNBOUNDED
    try:
        return int(value)
    except ValueError:
        return UNBOUNDED


NARRATIVE_CONTROLS = {"http://hl7.org/fhir/StructureDefinition/narrative-language-control": "language",
                      "http://hl7.org/fhir/StructureDefinition/narrative-source-control": "source"}
ADDITIONAL_BINDING_URLS = ("http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.binding.additional",
                           "http://hl7.org/fhir/tools/StructureDefinition/additional-binding")


def _additional_bindings(binding: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """(purpose, valueSet) of the additional-binding extensions on a binding (R5's binding.additional)."""
    found = []
    for ext in binding.get("extension") or ():
        if not isinstance(ext, dict) or ext.get("url") not in ADDITIONAL_BINDING_URLS:
            continue
        parts = {sub.get("url"): next((v for k, v in sub.items() if k.startswith("value")), None)
                 for sub in ext.get("extension") or () if isinstance(sub, dict)}
        purpose, value_set = parts.get("purpose"), parts.get("valueSet")
        if isinstance(purpose, str) and isinstance(value_set, str):
            found.append((purpose, value_set))
    return tuple(found)


def _prefixed(element: dict[str, Any], prefix: str) -> tuple[Any, str | None]:
    for key, value in element.items():
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            return value, key[len(prefix):]
    return None, None


_expr_lock = threading.Lock()
_expr_cache: dict[str, CompiledExpression | None] = {}


def compiled_expression(expression: str) -> CompiledExpression | None:
    """Compile a FHIRPath expression once per process (invariants repeat across many definitions)."""
    cached = _expr_cache.get(expression, False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    try:
        # trace() (dom-3 uses it) is silent in the engine: logged at DEBUG, never printed
        result: CompiledExpression | None = compile_expression(expression)
    except Exception:  # noqa: BLE001 - an expression our engine cannot parse is reported at use
        result = None
    with _expr_lock:
        _expr_cache[expression] = result
    return result


def _element(raw: dict[str, Any]) -> ElementDef:
    path = raw.get("path", "")
    last = path.rsplit(".", 1)[-1]
    is_choice = last.endswith("[x]")
    types = []
    for t in raw.get("type", ()) or ():
        types.append(TypeRef(type_code(t), tuple(t.get("profile", ()) or ()), tuple(t.get("targetProfile", ()) or ())))
    base = raw.get("base") or {}
    elem = ElementDef(
        id=raw.get("id") or path, path=path, name=last[:-3] if is_choice else last,
        min=int(raw.get("min", 0) or 0), max=_max(raw.get("max")), types=types,
        base_path=base.get("path", path), slice_name=raw.get("sliceName"), is_choice=is_choice,
        max_length=raw.get("maxLength"), base_max=_max(base.get("max", raw.get("max"))),
    )
    ref = raw.get("contentReference")
    elem.is_modifier = bool(raw.get("isModifier"))
    for ext in raw.get("extension", ()) or ():
        if not isinstance(ext, dict):
            continue
        if ext.get("url") == MIN_LENGTH_EXT and isinstance(ext.get("valueInteger"), int):
            elem.min_length = ext["valueInteger"]
        elif str(ext.get("url", "")).endswith(MUST_HAVE_VALUE_EXT) and ext.get("valueBoolean") is True:
            elem.must_have_value = True
        elif str(ext.get("url", "")).endswith(VALUE_ALTERNATIVES_EXT) and isinstance(ext.get("valueCanonical"), str):
            elem.value_alternatives = (*elem.value_alternatives, ext["valueCanonical"])
        elif ext.get("url") in NARRATIVE_CONTROLS and isinstance(ext.get("valueCode"), str):
            elem.narrative_controls = {**elem.narrative_controls, NARRATIVE_CONTROLS[ext["url"]]: ext["valueCode"]}
    if ref:
        elem.content_ref = ref.split("#", 1)[-1]
    elem.fixed, elem.fixed_type = _prefixed(raw, "fixed")
    elem.pattern, elem.pattern_type = _prefixed(raw, "pattern")
    elem.min_value, _ = _prefixed(raw, "minValue")
    elem.max_value, _ = _prefixed(raw, "maxValue")
    binding = raw.get("binding")
    if binding and binding.get("valueSet"):
        elem.binding_strength = binding.get("strength")
        elem.binding_valueset = binding.get("valueSet")
    if binding:
        elem.additional_bindings = _additional_bindings(binding)
    for c in raw.get("constraint", ()) or ():
        key = c.get("key", "")
        expr = c.get("expression")
        if not expr or key in NATIVE_INVARIANTS:
            continue
        elem.constraints.append(Constraint(key, c.get("severity", "error"), c.get("human", ""), expr,
                                           compiled_expression(expr), c.get("source"), root_names(expr)))
    slicing = raw.get("slicing")
    if slicing:
        elem.slicing = Slicing(
            [Discriminator(d.get("type", "value"), d.get("path", "$this")) for d in slicing.get("discriminator", ())],
            slicing.get("rules", "open"), bool(slicing.get("ordered", False)))
    return elem


def _add_child(parent: ElementDef, child: ElementDef) -> None:
    parent.child_list.append(child)
    parent.has_inline_children = True
    if child.is_choice:
        for t in child.types:
            code = t.code
            parent.children[child.name + code[:1].upper() + code[1:]] = (child, code)
    else:
        parent.children[child.name] = (child, None)


def _attach_renamed_choice(parent: ElementDef, child: ElementDef) -> bool:
    """A snapshot element named like `valueQuantity` (a profile constraining one choice type by its name)."""
    for name, (existing, code) in list(parent.children.items()):
        if existing.is_choice and name == child.name:
            child.is_choice = True
            child.name = existing.name
            if not child.types:
                child.types = [t for t in existing.types if t.code == code]
            parent.children[name] = (child, code)
            return True
    return False


def value_set_displays(value_set: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """(system, code) -> the displays and designations a value set gives (expansion and enumerated compose)."""
    found: dict[tuple[str, str], set[str]] = {}

    def add(system: Any, code: Any, concept: dict[str, Any]) -> None:
        if not isinstance(system, str) or not isinstance(code, str):
            return
        names = found.setdefault((system, code), set())
        if isinstance(concept.get("display"), str):
            names.add(concept["display"])
        for designation in concept.get("designation") or ():
            if isinstance(designation, dict) and isinstance(designation.get("value"), str):
                names.add(designation["value"])

    stack = list((value_set.get("expansion") or {}).get("contains") or ())
    while stack:
        entry = stack.pop()
        if isinstance(entry, dict):
            add(entry.get("system"), entry.get("code"), entry)
            stack.extend(entry.get("contains") or ())
    for include in (value_set.get("compose") or {}).get("include") or ():
        if isinstance(include, dict):
            for concept in include.get("concept") or ():
                if isinstance(concept, dict):
                    add(include.get("system"), concept.get("code"), concept)
    return {key: frozenset(names) for key, names in found.items()}


def _contained_value_set_displays(sd: dict[str, Any], by_id: dict[str, "ElementDef"]) -> None:
    contained = {c.get("id"): c for c in sd.get("contained") or () if isinstance(c, dict)
                 and c.get("resourceType") == "ValueSet"}
    if not contained:
        return
    for elem in set(by_id.values()):
        url = elem.binding_valueset
        if isinstance(url, str) and url.startswith("#") and url[1:] in contained:
            elem.binding_displays = value_set_displays(contained[url[1:]])


def compile_structure(sd: dict[str, Any]) -> CompiledStructure:
    """Compile a StructureDefinition with a snapshot. Slices become `slices` of their sliced element."""
    raw_elements = (sd.get("snapshot") or {}).get("element") or []
    if not raw_elements:
        raise StructureError(f"StructureDefinition {sd.get('url')} has no snapshot")
    by_id: dict[str, ElementDef] = {}
    root = _element(raw_elements[0])
    by_id[root.path] = root
    by_id.setdefault(root.id, root)
    stack: list[ElementDef] = [root]  # stack[d] = current element at path depth d
    for raw in raw_elements[1:]:
        elem = _element(raw)
        depth = elem.path.count(".")
        if depth < 1 or depth > len(stack):
            continue  # malformed ordering: ignore rather than crash
        del stack[depth:]
        parent = stack[depth - 1]
        slice_name = elem.slice_name
        if slice_name:
            sliced = None
            # The sliced element is the latest non-slice sibling with the same path.
            for candidate, _ in parent.children.values():
                if candidate.path == elem.path or (candidate.is_choice and elem.path.endswith("[x]")
                                                   and candidate.name == elem.name):
                    sliced = candidate
            if sliced is not None:
                if "/" in slice_name:  # re-slice: attach to the slice it refines when present
                    outer = slice_name.split("/", 1)[0]
                    for s in sliced.slices:
                        if s.slice_name == outer:
                            sliced = s
                            break
                if elem.is_choice or sliced.is_choice:
                    elem.is_choice = True
                    elem.name = sliced.name
                sliced.slices.append(elem)
                stack.append(elem)
                by_id[elem.id] = elem
                continue
        if not elem.is_choice and elem.name not in parent.children and _attach_renamed_choice(parent, elem):
            parent.child_list.append(elem)
        else:
            _add_child(parent, elem)
        stack.append(elem)
        by_id.setdefault(elem.path, elem)
        by_id[elem.id] = elem
    ctx_inv = [c for c in sd.get("contextInvariant", ()) or () if isinstance(c, str)]
    _contained_value_set_displays(sd, by_id)
    return CompiledStructure(
        url=sd.get("url", ""), type=sd.get("type", root.path), kind=sd.get("kind", ""), root=root, by_id=by_id,
        abstract=bool(sd.get("abstract")), derivation=sd.get("derivation"),
        base_definition=sd.get("baseDefinition"), context=list(sd.get("context", ()) or ()),
        context_invariants=ctx_inv,
    )


class _Broken:
    """Cached in place of a definition that failed to compile, so the failure is reported, not retried."""

    def __init__(self, message: str) -> None:
        self.message = message


def _lenient(definitions: Definitions, url: str) -> CompiledStructure | None:
    """A profile whose differential names elements its base does not have is still used for its other
    constraints, as the Java validator does (it reports those elements when the profile itself is validated)."""
    if "/" not in url and ":" not in url:
        return None
    try:
        from fhir_service.definitions.snapshot import generate_snapshot

        raw = definitions.resolve(url)
        if not isinstance(raw, dict) or raw.get("resourceType") != "StructureDefinition":
            return None
        return compile_structure(generate_snapshot(raw, definitions, lenient=True))
    except Exception:  # noqa: BLE001 - still unusable: the strict error is reported
        return None


def compiled_or_error(definitions: Definitions, url_or_type: str) -> tuple[CompiledStructure | None, str | None]:
    """(compiled, None); (None, None) when unknown; (None, message) when it exists but cannot be used
    (no snapshot and the snapshot generator failed, or a malformed snapshot). Cached in `definitions`."""
    def build() -> CompiledStructure | _Broken | None:
        try:
            sd = definitions.structure_definition(url_or_type)
            if sd is None:
                return None
            return compile_structure(sd)
        except Exception as exc:  # noqa: BLE001 - SnapshotError and friends become an issue, never a crash
            lenient = _lenient(definitions, url_or_type)
            return lenient if lenient is not None else _Broken(f"{type(exc).__name__}: {exc}")

    value = definitions.memo(("validation.compiled", url_or_type), build)
    if isinstance(value, _Broken):
        return None, value.message
    return value, None


def compiled(definitions: Definitions, url_or_type: str) -> CompiledStructure | None:
    """The compiled StructureDefinition, or None when unknown or unusable."""
    return compiled_or_error(definitions, url_or_type)[0]
