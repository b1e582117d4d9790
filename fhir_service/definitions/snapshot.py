"""Snapshot generation: a profile's differential merged onto its base definition's snapshot.

This follows the HL7 Java `ProfileUtilities.generateSnapshot` (as it ran for the R4 4.0.1 publication):
- every differential element constrains the base element with the same path (or the choice element it
  renames: `Observation.valueQuantity` constrains `Observation.value[x]`, as a type slice `valueQuantity`
  under a `type`/`$this` closed slicing, as the 4.0.1 publication shows it);
- a differential that goes below an element whose base has no children (a datatype: `Observation.code.coding`)
  unfolds that element: the children come from the snapshot of its single type, or of its single
  `type.profile` (a profiled datatype or an extension definition), or from the element a `contentReference`
  points at;
- slices (`sliceName`) are matched by name with the base's slices; new slices are copies of the sliced base
  element (without its slicing) constrained by the differential, placed after the base's slices; an
  extension element gets the standard `url` slicing when the differential does not give one;
- elements keep the order of the base; `id`s are recomputed from the tree (`Observation.component:systolic.code`).

The work is done on trees (`elements.Node`); base trees are memoised per definition, so a profile costs one
pass over its differential plus copying the base snapshot.
"""
from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any

import orjson

from fhir_service.definitions.elements import Element, Node, TreeError, build_tree, flatten, merge_element, tail

if TYPE_CHECKING:
    from fhir_service.definitions.registry import Definitions

FHIR_BASE = "http://hl7.org/fhir/StructureDefinition/"
EXTENSION_SLICING = {"discriminator": [{"type": "value", "path": "url"}], "ordered": False, "rules": "open"}
TYPE_SLICING = {"discriminator": [{"type": "type", "path": "$this"}], "ordered": False, "rules": "closed"}
# Base types that a profile may replace with any more specific type.
OPEN_TYPES = frozenset({"Element", "BackboneElement", "Resource", "DomainResource", "*"})
MAX_TYPE_DERIVATION_DEPTH = 8

# (key, Python type, description) of the differential properties whose shape the merge depends on.
SHAPES: tuple[tuple[str, type, str], ...] = (
    ("type", list, "a list of type objects"), ("constraint", list, "a list of constraint objects"),
    ("mapping", list, "a list of mapping objects"), ("extension", list, "a list of extensions"),
    ("condition", list, "a list of constraint keys"), ("alias", list, "a list of strings"),
    ("example", list, "a list of examples"), ("binding", dict, "an object"), ("slicing", dict, "an object"),
    ("sliceName", str, "a string"), ("contentReference", str, "a string"), ("min", int, "an integer"),
    ("max", (str, int), "a string"),  # type: ignore[arg-type]
)
LISTS_OF_OBJECTS = frozenset({"type", "constraint", "mapping", "extension", "example"})
LISTS_OF_STRINGS = frozenset({"condition", "alias"})

_in_progress = threading.local()


class SnapshotError(Exception):
    """A differential that cannot be applied to its base (the message says which element and why)."""


def generate_snapshot(sd: dict[str, Any], definitions: "Definitions", *, lenient: bool = False) -> dict[str, Any]:
    """A new StructureDefinition: `sd` with `snapshot.element` generated from its base and differential.

    `sd` is not modified (it may be a shared, cached resource). Raises SnapshotError when the differential
    does not fit the base, when the base cannot be found, or when definitions refer to each other in a circle.
    `lenient`: differential elements that match no element of the base are left out instead, and a
    cardinality the base does not allow leaves the base's (what the Java generator does, reporting them as
    messages), so that a validator can still use the rest of the profile; the strict default is what checks a
    profile itself.
    """
    url = sd.get("url") or sd.get("id") or "?"
    active: set[str] = _active()
    if url in active:
        raise SnapshotError(f"{url}: circular definition: generating its snapshot needs its own snapshot")
    active.add(url)
    try:
        elements = _Generator(sd, definitions, lenient).run()
    finally:
        active.discard(url)
    result: dict[str, Any] = {}
    for key, value in sd.items():
        if key == "snapshot":
            continue
        if key == "differential":
            result["snapshot"] = None
        result[key] = value
    result = _independent(result)  # shares nothing with the (possibly cached) input
    result["snapshot"] = {"element": elements}
    return result


def _active() -> set[str]:
    active = getattr(_in_progress, "urls", None)
    if active is None:
        active = _in_progress.urls = set()
    return active


def snapshot_tree(sd: dict[str, Any], definitions: "Definitions") -> Node:
    """The (memoised) tree of a definition's snapshot; shared, never to be mutated."""
    key = ("snapshot-tree", sd.get("url"), id(sd))

    def build() -> Node:
        try:
            return build_tree(sd["snapshot"]["element"], allow_implied=False)
        except (TreeError, KeyError, TypeError) as exc:
            raise SnapshotError(f"{sd.get('url')}: its snapshot cannot be read: {exc}") from exc

    memo = getattr(definitions, "memo", None)
    if memo is None or not sd.get("url"):
        return build()
    tree, owner = memo(key, lambda: (build(), sd))
    return tree if owner is sd else build()


class _Generator:
    """One snapshot generation: the profile, the registry, and the base it is generated against."""

    def __init__(self, sd: dict[str, Any], definitions: "Definitions", lenient: bool = False) -> None:
        self.sd = sd
        self.definitions = definitions
        self.lenient = lenient
        self.url: str = sd.get("url") or sd.get("id") or "?"

    # -- entry -------------------------------------------------------------------------------------------
    def run(self) -> list[Element]:
        if sd_kind := self.sd.get("derivation"):
            if sd_kind != "constraint":
                raise SnapshotError(f"{self.url}: only constraint profiles (derivation 'constraint') can be "
                                    f"generated; this one is a {sd_kind} without a snapshot")
        base_url = self.sd.get("baseDefinition")
        if not base_url:
            raise SnapshotError(f"{self.url}: no baseDefinition to generate the snapshot from")
        base_sd = self._structure_definition(base_url, f"the baseDefinition {base_url}")
        base_root = snapshot_tree(base_sd, self.definitions)
        differential = self.sd.get("differential") or {}
        if not isinstance(differential, dict):
            raise SnapshotError(f"{self.url}: differential is not an object")
        diff_elements = differential.get("element") or []
        if not diff_elements:
            return _independent(flatten(base_root))
        if not isinstance(diff_elements, list) or not all(isinstance(e, dict) for e in diff_elements):
            raise SnapshotError(f"{self.url}: differential.element is not a list of elements")
        try:
            diff_root = build_tree(diff_elements, allow_implied=True)
        except TreeError as exc:
            raise SnapshotError(f"{self.url}: differential: {exc}") from exc
        if diff_root.name != base_root.name:
            raise SnapshotError(f"{self.url}: differential element {diff_root.label()} does not match the base "
                                f"type {base_root.path} ({base_url})")
        return _independent(flatten(self.merge_node(base_root, diff_root)))

    def _structure_definition(self, url: str, what: str) -> dict[str, Any]:
        try:
            sd = self.definitions.structure_definition(url)
        except SnapshotError as exc:
            raise SnapshotError(f"{self.url}: {what} has no usable snapshot: {exc}") from exc
        if sd is None:
            raise SnapshotError(f"{self.url}: {what} is not a known StructureDefinition")
        if not (sd.get("snapshot") or {}).get("element"):
            raise SnapshotError(f"{self.url}: {what} has no snapshot")
        return sd

    # -- the merge ---------------------------------------------------------------------------------------
    def merge_node(self, base: Node, diff: Node | None, in_slice: bool = False) -> Node:
        """`base` constrained by `diff` (which may be None: the base, unchanged). `in_slice`: the node is
        (inside) a slice, where a renamed choice element is not made a type slice (as the publisher does)."""
        if diff is None:
            return base
        elem = base.elem if diff.synthetic else self.merge_elem(base.elem, diff.elem)
        if diff.children:
            base_children = base.children
            if not base_children:
                elem, base_children = self.unfold(elem, diff)
            children = self.merge_children(base_children, diff.children, in_slice)
        else:
            children = base.children
        slices = self.merge_slices(base, elem, diff, children) if diff.slices else base.slices
        if diff.slices and "slicing" not in elem:
            elem = {**elem, "slicing": self.implied_slicing(elem, diff)}
        return Node(elem, children, slices)

    def merge_elem(self, base: Element, diff: Element) -> Element:
        self.check_shape(diff)
        if "type" in diff:
            self.check_types(base, diff)
        try:
            self.check_cardinality(base, diff)
        except SnapshotError:
            if not self.lenient:
                raise
            diff = {k: v for k, v in diff.items() if k not in ("min", "max")}  # the base's cardinality stands
        self.check_binding(base, diff)
        merged = merge_element(base, diff, self.url)
        inherited = self._profile_constraints(diff)
        if inherited:
            keys = {c.get("key") for c in merged.get("constraint", [])}
            merged["constraint"] = [c for c in inherited if c.get("key") not in keys] + merged.get("constraint", [])
        return merged

    def _profile_constraints(self, diff: Element) -> list[dict[str, Any]]:
        """When the differential gives an element one profiled type (`Quantity` as SimpleQuantity), the
        profile's root element is its template: its invariants (sqty-1) hold on the element too. A profile
        that cannot be resolved adds nothing here (its use is reported when validating)."""
        types = diff.get("type") or []
        if len(types) != 1 or types[0].get("code") in ("Reference", "canonical"):
            return []
        profiles = types[0].get("profile") or []
        if len(profiles) != 1:
            return []
        try:
            sd = self.definitions.structure_definition(str(profiles[0]))
        except SnapshotError:
            return []
        elements = ((sd or {}).get("snapshot") or {}).get("element") or []
        return list(elements[0].get("constraint", [])) if elements else []

    def merge_children(self, base_children: list[Node], diff_children: list[Node], in_slice: bool) -> list[Node]:
        """Each differential child matched to the base child it constrains; the result in base order."""
        by_name = {child.name: child for child in base_children}
        matched: dict[int, list[Node]] = {}
        for d in diff_children:
            b = by_name.get(d.name) or self._choice_for(d, base_children)
            if b is None and self.lenient:
                continue  # left out: the strict generation reports it when the profile itself is checked
            if b is None:
                known = ", ".join(c.name for c in base_children) or "none"
                raise SnapshotError(f"{self.url}: differential element {d.label()} matches no element in the base "
                                    f"(the base has: {known})")
            matched.setdefault(id(b), []).append(d)
        return [self.merge_group(b, matched[id(b)], in_slice) if id(b) in matched else b for b in base_children]

    @staticmethod
    def _choice_for(d: Node, base_children: list[Node]) -> Node | None:
        for b in base_children:
            if b.name.endswith("[x]") and d.name.startswith(b.name[:-3]) and d.name[len(b.name) - 3:][:1].isupper():
                return b
        return None

    def merge_group(self, base: Node, diffs: list[Node], in_slice: bool) -> Node:
        """One base element and the differential entries that name it: itself, and renamed choice types.
        Inside a slice, a lone renamed choice (`valueQuantity`) just narrows the choice element's type."""
        exact = [d for d in diffs if d.name == base.name]
        renamed = [d for d in diffs if d.name != base.name]
        if len(exact) > 1:
            raise SnapshotError(f"{self.url}: differential element {exact[1].label()} appears more than once")
        head = exact[0] if exact else None
        if in_slice and head is None and len(renamed) == 1 and not renamed[0].slices:
            head = self.renamed_choice(base, renamed[0])
        elif renamed:
            head = self.type_slices(base, head, renamed)
        return self.merge_node(base, head, in_slice)

    def renamed_choice(self, base: Node, d: Node) -> Node:
        """`valueQuantity` taken as `value[x]` restricted to Quantity."""
        type_code = self._choice_type(base, d)
        elem = dict(d.elem)
        elem["path"] = base.path
        if "type" not in elem:
            elem["type"] = [t for t in base.elem.get("type", []) if t.get("code") == type_code][:1]
        return Node(elem, d.children, [])

    def type_slices(self, base: Node, head: Node | None, renamed: list[Node]) -> Node:
        """`Observation.valueQuantity` in a differential: a type slice `valueQuantity` of `Observation.value[x]`,
        under a closed type slicing whose types are the slices' (ProfileUtilities' R4 "short cut")."""
        slices = []
        for d in renamed:
            if d.slices:
                raise SnapshotError(f"{self.url}: {d.label()}: slices of a renamed choice element are not supported")
            type_code = self._choice_type(base, d)
            elem = dict(d.elem)
            elem["path"] = base.path
            elem["sliceName"] = d.name
            if "type" not in elem:
                elem["type"] = [t for t in base.elem.get("type", []) if t.get("code") == type_code][:1]
            slices.append(Node(elem, d.children, [], synthetic=False))
        if head is None:
            head_elem: Element = {"path": base.path, "slicing": dict(TYPE_SLICING)}
            head_elem["type"] = [t for s in slices for t in s.elem["type"]]
            head = Node(head_elem)
        else:
            head = Node(dict(head.elem), head.children, list(head.slices), head.synthetic)
            if head.synthetic:
                head.elem.setdefault("slicing", dict(TYPE_SLICING))
                head.synthetic = False
        taken = {s.slice_name for s in head.slices}
        for s in slices:
            if s.slice_name in taken:
                raise SnapshotError(f"{self.url}: {s.elem.get('id', s.slice_name)}: the type slice "
                                    f"{s.slice_name} is given twice")
            head.slices.append(s)
        return head

    def _choice_type(self, base: Node, d: Node) -> str:
        suffix = d.name[len(base.name) - 3:]
        for t in base.elem.get("type", []):
            code = str(t.get("code", ""))
            if code[:1].upper() + code[1:] == suffix:
                return code
        allowed = ", ".join(str(t.get("code")) for t in base.elem.get("type", []))
        raise SnapshotError(f"{self.url}: differential element {d.label()}: {suffix} is not a type of "
                            f"{base.path} (allowed: {allowed})")

    def merge_slices(self, base: Node, elem: Element, diff: Node, children: list[Node] | None = None) -> list[Node]:
        """The base's slices (constrained where the differential names them), then the new slices. A new
        slice starts from the base element, with the children as this profile constrains them on the sliced
        element (`parameter.extension` max 0 holds in every slice of `parameter` too, as in the Java
        generator)."""
        wanted: dict[str, Node] = {}
        for d in diff.slices:
            name = d.slice_name or ""
            if name in wanted:
                raise SnapshotError(f"{self.url}: slice {d.label()} appears more than once")
            wanted[name] = d
        result = []
        for b in base.slices:
            result.append(self.merge_node(b, wanted.pop(b.slice_name or "", None), True))
        template = {k: v for k, v in base.elem.items() if k not in ("slicing", "sliceName")}
        for name, d in wanted.items():
            if d.synthetic and not d.children and not d.slices:
                continue
            slice_elem = dict(template)
            slice_elem["sliceName"] = name
            if "/" in name:
                parent = name.rsplit("/", 1)[0]
                if base.slice_name != parent:
                    raise SnapshotError(f"{self.url}: re-slice {d.label()} is not under slice {parent}")
            type_code = self._slice_type(base, name)
            if type_code is not None and "type" not in d.elem:
                slice_elem["type"] = [t for t in base.elem.get("type", []) if t.get("code") == type_code]
            result.append(self.merge_node(Node(slice_elem, base.children if children is None else children), d,
                                          True))
        return result

    @staticmethod
    def _slice_type(base: Node, slice_name: str) -> str | None:
        """The type a type slice of a choice element names (`valueQuantity` -> Quantity), if it does."""
        if not base.name.endswith("[x]"):
            return None
        prefix = base.name[:-3]
        for t in base.elem.get("type", []):
            code = str(t.get("code", ""))
            if slice_name == prefix + code[:1].upper() + code[1:]:
                return code
        return None

    def implied_slicing(self, elem: Element, diff: Node) -> dict[str, Any]:
        """The slicing a differential may leave out: extensions are sliced by url, choices by type."""
        name = tail(str(elem.get("path", "")))
        if name in ("extension", "modifierExtension"):
            return dict(EXTENSION_SLICING)
        if name.endswith("[x]"):
            return dict(TYPE_SLICING)
        first = diff.slices[0]
        raise SnapshotError(f"{self.url}: differential element {first.label()} is a slice, but "
                            f"{elem.get('path')} is not sliced (no slicing in the differential or the base)")

    # -- unfolding ---------------------------------------------------------------------------------------
    def unfold(self, elem: Element, diff: Node) -> tuple[Element, list[Node]]:
        """The children of an element the base did not expand: from its contentReference, or from the
        snapshot of its one type (through its one profile when it has one; from the type itself when that
        profile is not available, as the Java generator does: the validator reports the unknown profile). An element unfolded from a
        contentReference takes the referenced element's type instead of the reference, so that a validator
        walks into the constrained children rather than to the unconstrained original."""
        where = diff.label()
        reference = elem.get("contentReference")
        if reference:
            target = self._referenced(str(reference), where)
            elem = {k: v for k, v in elem.items() if k != "contentReference"}
            elem["type"] = target.elem.get("type", [{"code": "BackboneElement"}])
            return elem, target.children
        types = elem.get("type") or []
        if len(types) > 1 and all(child.name in ("id", "extension") for child in diff.children):
            # the children every type shares (a choice's `effective[x].extension`): those of Element
            sd = self._structure_definition("Element", f"the type Element of {where}")
            return elem, snapshot_tree(sd, self.definitions).children
        if len(types) != 1:
            codes = ", ".join(str(t.get("code")) for t in types) or "no type"
            raise SnapshotError(f"{self.url}: differential element {where} constrains children of an element with "
                                f"{len(types)} types ({codes}); constrain it to one type first")
        type_ref = types[0]
        profiles = type_ref.get("profile") or []
        code = str(type_ref.get("code", ""))
        if len(profiles) == 1 and code not in ("Reference", "canonical") and (
                self.definitions.structure_definition(str(profiles[0])) is not None or "/" in code or ":" in code):
            target, what = str(profiles[0]), f"the profile {profiles[0]} of {where}"
        elif "/" in code or ":" in code:
            raise SnapshotError(f"{self.url}: differential element {where}: the primitive value of type {code} "
                                f"has no children")
        else:
            target, what = code, f"the type {code} of {where}"
        sd = self._structure_definition(target, what)
        return elem, snapshot_tree(sd, self.definitions).children

    def _referenced(self, reference: str, where: str) -> Node:
        fragment = reference.split("#", 1)[-1]
        type_name = fragment.split(".", 1)[0]
        sd = self._structure_definition(type_name, f"the contentReference {reference} of {where}")
        node = _find(snapshot_tree(sd, self.definitions), fragment)
        if node is None:
            raise SnapshotError(f"{self.url}: {where}: contentReference {reference} names no element")
        return node

    # -- checks ------------------------------------------------------------------------------------------
    def check_types(self, base: Element, diff: Element) -> None:
        """Type narrowing: each type of the differential must be one of the base's (or derive from one)."""
        base_codes = {str(t.get("code")) for t in base.get("type", [])}
        if not base_codes or base_codes & OPEN_TYPES or any("/" in c or ":" in c for c in base_codes):
            return
        for type_ref in diff.get("type") or []:
            code = str(type_ref.get("code"))
            if code in base_codes or self._derives_from(code, base_codes):
                self.check_target_profiles(base, diff, type_ref)
                continue
            raise SnapshotError(f"{self.url}: differential element {diff.get('id', diff.get('path'))}: type {code} "
                                f"is not allowed here (the base allows {', '.join(sorted(base_codes))})")

    def check_target_profiles(self, base: Element, diff: Element, type_ref: dict[str, Any]) -> None:
        """Reference(X) may only narrow the base's targets: each new target is one of them or derives from
        one (cart-patient from Patient). A target that cannot be resolved is left to the validator."""
        allowed = {_unversioned(p) for t in base.get("type", []) if t.get("code") == type_ref.get("code")
                   for p in t.get("targetProfile") or []}
        if not allowed or FHIR_BASE + "Resource" in allowed:
            return
        for target in type_ref.get("targetProfile") or []:
            if self._profile_derives(_unversioned(target), allowed) is False:
                names = ", ".join(sorted(tail(a.rsplit("/", 1)[-1]) for a in allowed))
                raise SnapshotError(f"{self.url}: differential element {diff.get('id', diff.get('path'))}: target "
                                    f"{target} is not one of the base's targets ({names})")

    def _profile_derives(self, url: str, allowed: set[str]) -> bool | None:
        """Whether the profile at `url` is, or derives from, one of `allowed` (None: cannot tell)."""
        current = url
        for _ in range(MAX_TYPE_DERIVATION_DEPTH):
            if current in allowed:
                return True
            resolved = self.definitions.resolve(current)
            if resolved is None:
                return None
            base_url = resolved.get("baseDefinition")
            if not base_url:
                return False
            current = _unversioned(str(base_url))
        return None

    def check_shape(self, diff: Element) -> None:
        """The JSON shapes the merge relies on (a malformed differential is an error, not a crash)."""
        where = diff.get("id", diff.get("path"))
        nulls = [key for key, value in diff.items() if value is None]
        if nulls:
            raise SnapshotError(f"{self.url}: differential element {where}: null is not a FHIR value ({nulls[0]})")
        for key, kind, what in SHAPES:
            value = diff.get(key)
            if value is None:
                continue
            item_kind = dict if key in LISTS_OF_OBJECTS else str if key in LISTS_OF_STRINGS else None
            if not isinstance(value, kind) or isinstance(value, bool) or (
                    item_kind is not None and not all(isinstance(v, item_kind) for v in value)):
                raise SnapshotError(f"{self.url}: differential element {where}: {key} must be {what}")
        for type_ref in diff.get("type") or []:
            if not isinstance(type_ref.get("code"), str):
                raise SnapshotError(f"{self.url}: differential element {where}: a type without a code")
            for key in ("profile", "targetProfile"):
                if key in type_ref and not (isinstance(type_ref[key], list)
                                            and all(isinstance(p, str) for p in type_ref[key])):
                    raise SnapshotError(f"{self.url}: differential element {where}: type.{key} must be a list "
                                        f"of canonical URLs")

    def check_binding(self, base: Element, diff: Element) -> None:
        """A required binding stays required: a profile may not weaken it."""
        base_strength = (base.get("binding") or {}).get("strength")
        new_strength = (diff.get("binding") or {}).get("strength")
        if base_strength == "required" and new_strength not in (None, "required"):
            raise SnapshotError(f"{self.url}: differential element {diff.get('id', diff.get('path'))}: the binding "
                                f"is required in the base and cannot become {new_strength}")

    def check_cardinality(self, base: Element, diff: Element) -> None:
        """A profile may only narrow cardinality: max within the base's max, min within [base min, max].
        (A new slice may lower the min below the sliced element's: its base is the sliced element.)"""
        where = diff.get("id", diff.get("path"))
        base_max, new_max = _max_value(base.get("max")), _max_value(diff.get("max", base.get("max")))
        new_min = diff.get("min", base.get("min", 0))
        if "max" in diff and new_max is None:
            raise SnapshotError(f"{self.url}: differential element {where}: max {diff['max']!r} is not a number or '*'")
        if "max" in diff and base_max is not None and (new_max is None or new_max > base_max):
            raise SnapshotError(f"{self.url}: differential element {where}: max {diff['max']} exceeds the base's "
                                f"max {base.get('max')}")
        if "min" in diff:
            if not isinstance(new_min, int) or new_min < 0:
                raise SnapshotError(f"{self.url}: differential element {where}: min {new_min!r} is not a "
                                    f"non-negative integer")
            if new_max is not None and new_min > new_max:
                raise SnapshotError(f"{self.url}: differential element {where}: min {new_min} is greater than "
                                    f"max {diff.get('max', base.get('max'))}")
            if not diff.get("sliceName") and new_min < int(base.get("min", 0) or 0) and not base.get("sliceName"):
                raise SnapshotError(f"{self.url}: differential element {where}: min {new_min} is below the base's "
                                    f"min {base.get('min')}")

    def _derives_from(self, code: str, ancestors: set[str]) -> bool:
        current: str | None = code
        for _ in range(MAX_TYPE_DERIVATION_DEPTH):
            if current is None:
                return False
            resolved = self.definitions.resolve(current if "/" in current else
                                                "http://hl7.org/fhir/StructureDefinition/" + current)
            base_url = (resolved or {}).get("baseDefinition")
            if not base_url:
                return False
            current = tail(str(base_url).rsplit("/", 1)[-1])
            if current in ancestors:
                return True
        return False


def _unversioned(url: str) -> str:
    return str(url).split("|", 1)[0]


def _max_value(value: Any) -> float | None:
    """`*` as infinity, "3" as 3; None for anything else (absent or malformed)."""
    if value == "*":
        return float("inf")
    if isinstance(value, str) and value.isdigit():
        return float(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return float(value)  # a number where a string belongs: lenient, as the Java parser is
    return None


def _find(node: Node, path: str) -> Node | None:
    """The unsliced element with this path in a snapshot tree."""
    if node.path == path:
        return node
    for child in node.children:
        if path == child.path or path.startswith(child.path + "."):
            return _find(child, path)
    return None


def _independent(value: Any) -> Any:
    """A deep copy (fast, through orjson) so the result shares nothing with cached definitions."""
    try:
        return orjson.loads(orjson.dumps(value))
    except (orjson.JSONEncodeError, TypeError):  # e.g. an integer beyond 64 bits: the slow, general way
        return copy.deepcopy(value)
