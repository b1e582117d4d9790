"""ElementDefinition lists as trees, and the merge of one differential element onto its base element.

A snapshot or differential is a flat list in which nesting is implied by `path` and slices by `sliceName`
(and, more reliably, by the element `id`: `Observation.component:systolic.code`). Snapshot generation is
much simpler on a tree: each `Node` holds one element, its child elements (in order) and, for a sliced
element, its slices (each a `Node` with its own children and re-slices). `flatten` writes the tree back
as a list, computing `path` and `id` per the FHIR rules from the position in the tree, so that elements
unfolded from a datatype (`Quantity.unit`) take the path of where they now sit (`Observation.value[x].unit`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

Element = dict[str, Any]
# One level of an element's position: (path segment, slice name or None).
Step = tuple[str, "str | None"]
Chain = tuple[Step, ...]

TEXT_FIELDS = ("short", "definition", "comment", "requirements")
VALUE_PREFIXES = ("fixed", "pattern", "defaultValue", "minValue", "maxValue")
# Keys of a differential element that never overwrite the base (they say where the element is, not what).
POSITION_KEYS = frozenset({"id", "path", "sliceName", "base"})


class TreeError(ValueError):
    """An element list that cannot be arranged as a tree (e.g. the same element twice)."""


@dataclass(eq=False)
class Node:
    """One element with its children and slices. `synthetic` marks a differential level that was implied
    (a path the differential goes through without constraining it)."""

    elem: Element
    children: list["Node"] = field(default_factory=list)
    slices: list["Node"] = field(default_factory=list)
    synthetic: bool = False

    @property
    def path(self) -> str:
        return str(self.elem.get("path", ""))

    @property
    def name(self) -> str:
        return tail(self.path)

    @property
    def slice_name(self) -> str | None:
        return self.elem.get("sliceName")

    def label(self) -> str:
        """How errors name the element: its id, and its path too when that says something else."""
        eid = self.elem.get("id")
        if not eid:
            return self.path + (f":{self.slice_name}" if self.slice_name else "")
        bare = ".".join(segment.split(":", 1)[0] for segment in str(eid).split("."))
        return str(eid) if bare == self.path else f"{eid} (path {self.path})"


def tail(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _chain_from_id(elem: Element, names: list[str]) -> Chain | None:
    """The element's chain read from its `id`, when the id agrees with its path (else None)."""
    eid = elem.get("id")
    if not isinstance(eid, str):
        return None
    segments = eid.split(".")
    if len(segments) != len(names):
        return None
    chain = []
    for segment, name in zip(segments, names):
        seg_name, _, slice_name = segment.partition(":")
        if seg_name != name:
            return None
        chain.append((name, slice_name or None))
    return tuple(chain)


def element_chains(elements: Iterable[Element]) -> Iterator[tuple[Element, Chain]]:
    """Each element with its chain. From the id when usable; otherwise from the path, taking the slices of
    the enclosing levels from the previous element (elements of a slice follow the slice)."""
    previous: Chain = ()
    for elem in elements:
        path = elem.get("path")
        if not isinstance(path, str) or not path:
            raise TreeError(f"element {elem.get('id', '?')} has no path")
        names = path.split(".")
        chain = _chain_from_id(elem, names)
        if chain is None:
            steps: list[Step] = []
            for i, name in enumerate(names[:-1]):
                if i < len(previous) and previous[i][0] == name and (i == 0 or steps[-1] == previous[i - 1]):
                    steps.append(previous[i])
                else:
                    steps.append((name, None))
            steps.append((names[-1], None))
            chain = tuple(steps)
        if elem.get("sliceName"):
            chain = chain[:-1] + ((chain[-1][0], str(elem["sliceName"])),)
        previous = chain
        yield elem, chain


def build_tree(elements: list[Element], *, allow_implied: bool) -> Node:
    """Arrange an element list as a tree. A differential may skip levels (`allow_implied`): the skipped
    levels become synthetic nodes; a snapshot may not."""
    nodes: dict[Chain, Node] = {}
    root: Node | None = None

    def ensure(chain: Chain) -> Node:
        nonlocal root
        node = nodes.get(chain)
        if node is not None:
            return node
        if not allow_implied and len(chain) > 1:
            raise TreeError(f"element {_chain_label(chain)} is missing from the list")
        node = Node({"path": ".".join(step[0] for step in chain)}, synthetic=True)
        if chain[-1][1]:
            node.elem["sliceName"] = chain[-1][1]
        attach(chain, node)
        return node

    def attach(chain: Chain, node: Node) -> None:
        nonlocal root
        nodes[chain] = node
        if len(chain) == 1:
            if root is not None and chain[-1][1] is None:
                raise TreeError(f"{_chain_label(chain)}: more than one root element")
            if root is None:
                root = node
            return
        name, slice_name = chain[-1]
        if slice_name is None:
            ensure(chain[:-1]).children.append(node)
        else:
            owner_slice = slice_name.rsplit("/", 1)[0] if "/" in slice_name else None
            ensure(chain[:-1] + ((name, owner_slice),)).slices.append(node)

    for elem, chain in element_chains(elements):
        existing = nodes.get(chain)
        if existing is not None:
            if not existing.synthetic:
                raise TreeError(f"element {_chain_label(chain)} appears more than once")
            existing.elem = elem
            existing.synthetic = False
            continue
        if chain[-1][1] and elem.get("sliceName") != chain[-1][1]:
            elem = {**elem, "sliceName": chain[-1][1]}  # a slice named only by its id
        if root is None and len(chain) > 1:
            if not allow_implied:
                raise TreeError("the first element is not the root")
            ensure(chain[:1])
        attach(chain, Node(elem))
    if root is None:
        raise TreeError("no elements")
    return root


def _chain_label(chain: Chain) -> str:
    return ".".join(name + (f":{s}" if s else "") for name, s in chain)


def flatten(node: Node, out: list[Element] | None = None, parent_path: str = "", parent_id: str = "") -> list[Element]:
    """The tree as an element list (node, its children, then its slices), with path and id recomputed."""
    if out is None:
        out = []
    name = node.name
    path = f"{parent_path}.{name}" if parent_path else node.path
    eid = f"{parent_id}.{name}" if parent_id else path
    if node.slice_name:
        eid += f":{node.slice_name}"
    elem = {"id": eid, "path": path}
    for key, value in node.elem.items():
        if key not in ("id", "path"):
            elem[key] = value
    out.append(elem)
    for child in node.children:
        flatten(child, out, path, eid)
    for slice_node in node.slices:
        flatten(slice_node, out, parent_path, parent_id)
    return out


# -- merging one element ---------------------------------------------------------------------------------
def merge_element(base: Element, diff: Element, source_url: str | None) -> Element:
    """The base element constrained by the differential element (as ProfileUtilities.updateFromDefinition):
    most properties replace the base's; constraints, conditions, aliases, mappings, examples and element
    extensions accumulate; texts starting with `...` are appended to the base text."""
    merged = dict(base)
    for key, value in diff.items():
        if key in POSITION_KEYS:
            continue
        if key in TEXT_FIELDS and isinstance(value, str) and value.startswith("...") and base.get(key):
            merged[key] = f"{base[key]}\r\n{value[3:].lstrip()}"
        elif key == "constraint":
            merged[key] = _merge_constraints(base.get(key, []), value, source_url)
        elif key in ("condition", "alias"):
            merged[key] = list(dict.fromkeys([*base.get(key, []), *value]))
        elif key in ("mapping", "example"):
            merged[key] = [*base.get(key, []), *(v for v in value if v not in base.get(key, []))]
        elif key == "extension":
            urls = {e.get("url") for e in value}
            merged[key] = [e for e in base.get(key, []) if e.get("url") not in urls] + list(value)
        elif key == "binding":
            merged[key] = merge_binding(base.get(key) or {}, value)
        elif key == "slicing":
            merged[key] = {**base.get(key, {}), **value}
        elif key.startswith(VALUE_PREFIXES) and key not in ("minValue", "maxValue"):
            prefix = next(p for p in VALUE_PREFIXES if key.startswith(p))
            for old in [k for k in merged if k.startswith(prefix) and k != key]:
                del merged[old]
            merged[key] = value
        else:
            merged[key] = value
    return merged


def merge_binding(base: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    """As ProfileUtilities: the base binding, with its description and extensions replaced by the
    differential's, and the differential's strength and value set where given."""
    merged = {k: v for k, v in base.items() if k not in ("description", "extension")}
    if diff.get("extension"):
        merged = {"extension": list(diff["extension"]), **merged}
    for key in ("strength", "description", "valueSet"):
        if key in diff:
            merged[key] = diff[key]
    for key, value in diff.items():
        if key not in merged and key != "extension":
            merged[key] = value
    return merged


def _merge_constraints(base: list[dict[str, Any]], added: list[dict[str, Any]], source_url: str | None) -> list:
    keys = {c.get("key") for c in base}
    result = list(base)
    for constraint in added:
        if constraint.get("key") in keys:
            result = [constraint if c.get("key") == constraint.get("key") else c for c in result]
            continue
        if source_url and "source" not in constraint:
            constraint = {**constraint, "source": source_url}
        result.append(constraint)
    return result
