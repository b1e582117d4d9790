"""Targeted corrections to fhirpathpy's behaviour, each one named, documented and unit-tested.

Two kinds:
- replacement functions, `FIXED_FUNCTIONS`: entries of fhirpathpy's invocation-registry format that our
  evaluation context passes as its user-invocation table, which fhirpathpy consults before its own registry.
  They change nothing for other users of fhirpathpy in the process.
- `apply()`: the few fixes that cannot be expressed as a function (literal evaluation, parameter kinds, type
  names of values). Installed once, on import of the engine.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import fhirpathpy.engine as fp_engine
from fhirpathpy.engine import util
from fhirpathpy.engine.evaluators import evaluators
from fhirpathpy.engine.nodes import FP_DateTime, ResourceNode, TypeInfo

from fhir_service.fhirpath.errors import FhirPathError
from fhir_service.fhirpath.spec_functions import SortKey

_applied = False


def single_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """single(): more than one item is an error (fhirpathpy returns an {"$status": "error"} dict instead)."""
    if len(inputs) > 1:
        raise FhirPathError(f"single() expects at most one item, got {len(inputs)}")
    return inputs




def number_literal(ctx: dict[str, Any], parent_data: Any, node: dict[str, Any]) -> list[Any]:
    """`1.0` is a Decimal with one decimal place, not the Integer 1 (fhirpathpy folds integral decimals to int,
    so `1.0.is(Decimal)` was false and `1.0.toString()` gave '1')."""
    text = node["text"]
    return [Decimal(text)] if "." in text else [int(text)]


def _restoring_this(ctx: dict[str, Any], evaluate: Any) -> Any:
    """An expression argument (of where/select/all/exists...) sets $this for its evaluation only.

    fhirpathpy leaves the last item in ctx["$this"], so a later `$this` at the outer level, as in
    `x.where(...).subsetOf($this.y)`, saw an item of the earlier where() instead of the focus.
    """

    def evaluate_restoring(data: Any) -> Any:
        had, previous = "$this" in ctx, ctx.get("$this")
        try:
            return evaluate(data)
        finally:
            if had:
                ctx["$this"] = previous
            else:
                ctx.pop("$this", None)

    return evaluate_restoring


def _make_param_with_sort_keys(original: Any) -> Any:
    """Adds the parameter kind "SortKey" (used by sort()): the argument's expression plus its direction.

    A leading unary minus on a sort key means descending, whatever the key's type (`sort(-family)` on strings),
    so it must be read from the syntax tree rather than evaluated.
    """

    def make_param(ctx: dict[str, Any], parent_data: Any, node_type: Any, param: dict[str, Any]) -> Any:
        if node_type == "Expr":
            return _restoring_this(ctx, original(ctx, parent_data, node_type, param))
        if node_type != "SortKey":
            return original(ctx, parent_data, node_type, param)
        descending = False
        expression = param
        if param.get("type") == "PolarityExpression" and param.get("terminalNodeText") == ["-"]:
            descending = True
            expression = param["children"][0]

        def evaluate(data: Any) -> list[Any]:
            ctx["$this"] = util.arraify(data)
            return fp_engine.do_eval(ctx, ctx["$this"], expression)

        return SortKey(evaluate, descending)

    make_param.__wrapped__ = original  # type: ignore[attr-defined]
    return make_param


def _type_names_dates(original: Any) -> Any:
    """A date literal/result (no time part) is of type System.Date, not DateTime (`@2015.is(Date)`)."""

    def create_by_value_in_namespace(namespace: str, value: Any) -> TypeInfo:
        info = original(namespace, value)
        if isinstance(value, FP_DateTime) and "T" not in (value.asStr or ""):
            info.name = "Date" if namespace == TypeInfo.System else "date"
        return info

    return staticmethod(create_by_value_in_namespace)


_ELEMENT_ONLY_KEYS = frozenset({"extension", "id"})


def _is_primitive_path(path: Any) -> bool:
    return isinstance(path, str) and (path[:1].islower() or path.startswith("System."))


def merge_primitive_extensions(nodes: list[Any]) -> list[Any]:
    """Pair each primitive value with its `_name` sibling (id/extensions) into one node.

    fhirpathpy returns `birthDate` and `_birthDate` as two items, so `birthDate.count()` is 2 and
    `birthDate = @1974-12-25` compares a collection of two. FHIR JSON splits one element in two properties;
    FHIRPath must see one element: the value with its extensions kept in the node's `_data`. A `_name` entry
    without a value (a null in the value array) stays as an element that has extensions but no value.
    """
    merged: list[Any] = []
    by_name: dict[Any, int] = {}
    for node in nodes:
        data = getattr(node, "data", None)
        name = getattr(node, "propName", None)
        is_extension_part = (isinstance(data, dict) and data and set(data) <= _ELEMENT_ONLY_KEYS
                             and _is_primitive_path(getattr(node, "path", None)))
        if is_extension_part and name in by_name:
            partner = merged[by_name[name]]
            if partner.data is None:
                merged[by_name[name]] = node
            else:
                partner._data = data
            continue
        if data is None and isinstance(node, ResourceNode):
            by_name[name] = len(merged)
            merged.append(node)
            continue
        if name is not None:
            by_name[name] = len(merged)
        merged.append(node)
    return [node for node in merged if not (isinstance(node, ResourceNode) and node.data is None)]


def _primitive_element(item: Any) -> Any:
    """For navigation into a primitive's `id`/`extension`: the `_name` part as an element node."""
    if isinstance(item, ResourceNode) and isinstance(item._data, dict) and not isinstance(item.data, dict):
        return ResourceNode.create_node(item._data, "Element", propName=item.propName)
    return item


def _resource_type_of(item: Any) -> str | None:
    data = item.data if isinstance(item, ResourceNode) else item
    if isinstance(data, dict) and isinstance(data.get("resourceType"), str):
        return data["resourceType"]
    return None


def is_subtype(type_name: str, ancestor: str, model: dict[str, Any]) -> bool:
    """Whether FHIR type `type_name` is `ancestor` or derives from it (Patient -> DomainResource -> Resource)."""
    seen = 0
    current: str | None = type_name
    while current and seen < 20:
        if current == ancestor:
            return True
        current = model["type2Parent"].get(current)
        seen += 1
    return False


def _select_resources(ctx: dict[str, Any], parent_data: list[Any], key: str) -> list[Any]:
    """A type name at the start of a path (`Patient.name`, `Resource.id`, `Quantity.value` on a typed focus)
    selects the focus items of that type *or a subtype*. fhirpathpy matched only the exact resourceType
    (`Resource.id` was empty) and raised KeyError on a focus without resourceType."""
    model = ctx["model"]
    selected = []
    for item in parent_data:
        type_name = _resource_type_of(item)
        if type_name is None and isinstance(item, ResourceNode) and isinstance(item.path, str):
            type_name = model["path2Type"].get(item.path, item.path)
        if type_name is not None and is_subtype(type_name, key, model):
            data = item.data if isinstance(item, ResourceNode) else item
            selected.append(item if isinstance(item, ResourceNode) else ResourceNode.create_node(data, type_name))
    return selected


def _member_invocation_merging(original: Any) -> Any:
    def member_invocation(ctx: dict[str, Any], parent_data: Any, node: dict[str, Any]) -> Any:
        key = node["children"][0].get("text", "").strip("`")
        if key[:1].isupper() and isinstance(parent_data, list):
            return _select_resources(ctx, parent_data, key)
        if key in _ELEMENT_ONLY_KEYS and isinstance(parent_data, list):
            parent_data = [_primitive_element(item) for item in parent_data]
        result = original(ctx, parent_data, node)
        if len(result) > 1 or (result and getattr(result[0], "data", 0) is None):
            return merge_primitive_extensions(result)
        return result

    return member_invocation


def extension_fn(ctx: dict[str, Any], inputs: list[Any], url: Any) -> list[Any]:
    """extension(url), also on primitives (whose extensions live in the `_name` part)."""
    found = []
    for item in inputs:
        element = _primitive_element(item)
        data = element.data if isinstance(element, ResourceNode) else element
        if isinstance(data, dict):
            for extension in data.get("extension") or ():
                if isinstance(extension, dict) and extension.get("url") == url:
                    found.append(ResourceNode.create_node(extension, "Extension"))
    return found


FIXED_FUNCTIONS: dict[str, dict[str, Any]] = {
    "single": {"fn": single_fn},
    "extension": {"fn": extension_fn, "arity": {1: ["String"]}},
}


def apply() -> None:
    """Install the fixes that patch fhirpathpy's tables (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    evaluators["NumberLiteral"] = number_literal
    evaluators["MemberInvocation"] = _member_invocation_merging(evaluators["MemberInvocation"])
    fp_engine.make_param = _make_param_with_sort_keys(fp_engine.make_param)
    TypeInfo.create_by_value_in_namespace = _type_names_dates(TypeInfo.create_by_value_in_namespace)
