"""Targeted corrections to fhirpathpy's behaviour, each one named, documented and unit-tested.

Two kinds:
- replacement functions, `FIXED_FUNCTIONS`: entries of fhirpathpy's invocation-registry format that our
  evaluation context passes as its user-invocation table, which fhirpathpy consults before its own registry.
  They change nothing for other users of fhirpathpy in the process.
- `apply()`: the few fixes that cannot be expressed as a function (literal evaluation, parameter kinds, type
  names of values). Installed once, on import of the engine.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import fhirpathpy.engine as fp_engine
from fhirpathpy.engine import util
from fhirpathpy.engine.evaluators import evaluators
from fhirpathpy.engine.invocations import filtering as fp_filtering
from fhirpathpy.engine.invocations import types as fp_types
from fhirpathpy.engine.nodes import FP_DateTime, FP_Quantity, FP_Time, ResourceNode, TypeInfo

from fhir_service.fhirpath.errors import FhirPathError
from fhir_service.fhirpath.spec_functions import SortKey
from fhir_service.fhirpath.temporal import Temporal
from fhir_service.fhirpath.values import Qty, is_number, to_decimal, value_of

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


def has_extension_fn(ctx: dict[str, Any], inputs: list[Any], url: Any) -> list[Any]:
    """hasExtension(url): the pre-N1 FHIR shorthand for extension(url).exists(), still used by R4 content
    (e.g. the questionnaireresponse-item-subject search parameter)."""
    return [bool(extension_fn(ctx, inputs, url))]


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


# ---------------------------------------------------------------------------------------------- strings

def _text(inputs: list[Any], name: str) -> str | None:
    if not inputs:
        return None
    if len(inputs) > 1:
        raise FhirPathError(f"{name}() expects a single string, got {len(inputs)} items")
    data = inputs[0].data if isinstance(inputs[0], ResourceNode) else inputs[0]
    if not isinstance(data, str):
        raise FhirPathError(f"{name}() expects a string, got {data!r}")
    return data


def index_of_fn(ctx: dict[str, Any], inputs: list[Any], substring: Any) -> list[Any]:
    """indexOf(s): empty when s is empty (fhirpathpy crashed on `indexOf({})`)."""
    text = _text(inputs, "indexOf")
    return [] if text is None or not isinstance(substring, str) else [text.find(substring)]


def starts_with_fn(ctx: dict[str, Any], inputs: list[Any], prefix: Any) -> list[Any]:
    """startsWith(s): `''.startsWith('')` is true (fhirpathpy answered false for an empty input string)."""
    text = _text(inputs, "startsWith")
    return [] if text is None or not isinstance(prefix, str) else [text.startswith(prefix)]


def ends_with_fn(ctx: dict[str, Any], inputs: list[Any], suffix: Any) -> list[Any]:
    text = _text(inputs, "endsWith")
    return [] if text is None or not isinstance(suffix, str) else [text.endswith(suffix)]


def replace_fn(ctx: dict[str, Any], inputs: list[Any], pattern: Any, substitution: Any) -> list[Any]:
    """replace(pattern, substitution): empty when an argument is empty (fhirpathpy crashed)."""
    text = _text(inputs, "replace")
    if text is None or not isinstance(pattern, str) or not isinstance(substitution, str):
        return []
    if pattern == "":
        return [substitution + substitution.join(text) + substitution]
    return [text.replace(pattern, substitution)]


def replace_matches_fn(ctx: dict[str, Any], inputs: list[Any], regex: Any, substitution: Any) -> list[Any]:
    """replaceMatches(regex, substitution): an empty regex changes nothing; `$1` group references work."""
    text = _text(inputs, "replaceMatches")
    if text is None or not isinstance(regex, str) or not isinstance(substitution, str):
        return []
    if regex == "":
        return [text]
    try:
        return [re.sub(regex, re.sub(r"\$(\d+)", r"\\\1", substitution), text, flags=re.DOTALL)]
    except re.error as exc:
        raise FhirPathError(f"replaceMatches(): invalid regular expression {regex!r}: {exc}") from exc


# ---------------------------------------------------------------------------------------------- conversion

def to_string_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """toString(): booleans as `true`/`false` (not Python's `True`), quantities as `value 'unit'`,
    dates/times as their literal text."""
    if len(inputs) != 1:
        if len(inputs) > 1:
            raise FhirPathError(f"toString() expects a single item, got {len(inputs)}")
        return []
    value = value_of(inputs[0])
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, Temporal):
        return [value.render()]
    if isinstance(value, Qty):
        return [f"{value.value} {value.unit}" if value.calendar else f"{value.value} '{value.unit}'"]
    if isinstance(value, (str, int, Decimal)):
        return [str(value)]
    return []


def _boolean_of(inputs: list[Any]) -> bool | None:

    value = value_of(inputs[0])
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "t", "yes", "y", "1", "1.0"):
            return True
        if lowered in ("false", "f", "no", "n", "0", "0.0"):
            return False
    return None


def to_boolean_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """toBoolean(): also for decimals 1.0/0.0 (fhirpathpy only knew int and float)."""
    if len(inputs) != 1:
        return []
    result = _boolean_of(inputs)
    return [] if result is None else [result]


def converts_to_boolean_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    return [] if len(inputs) != 1 else [_boolean_of(inputs) is not None]


def round_fn(ctx: dict[str, Any], inputs: list[Any], precision: Any = None) -> list[Any]:
    """round([precision]): the precision is optional (fhirpathpy required it); half away from zero."""


    if not inputs:
        return []
    if len(inputs) > 1:
        raise FhirPathError("round() expects a single number")
    value = value_of(inputs[0])
    if not is_number(value):
        raise FhirPathError(f"round() expects a number, got {value!r}")
    digits = 0 if precision in (None, []) else int(precision)
    if digits < 0:
        raise FhirPathError("round() precision must be >= 0")
    return [to_decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)]


def abs_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """abs(): also for quantities."""


    if not inputs:
        return []
    if len(inputs) > 1:
        raise FhirPathError("abs() expects a single item")
    value = value_of(inputs[0])
    if isinstance(value, Qty):
        return [FP_Quantity(abs(value.value), value.to_fp().unit)]
    if is_number(value):
        return [abs(value) if isinstance(value, int) else to_decimal(value).copy_abs()]
    raise FhirPathError(f"abs() expects a number or quantity, got {value!r}")


# ---------------------------------------------------------------------------------------------- clock

def _clock(ctx: dict[str, Any]) -> Any:
    """One instant per evaluation (now(), today() and timeOfDay() agree within an expression)."""
    if "_clock" not in ctx:
        ctx["_clock"] = datetime.now().astimezone()
    return ctx["_clock"]


def now_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """now(): a DateTime to the millisecond with the local offset (fhirpathpy returned a plain string)."""
    moment = _clock(ctx)
    text = moment.isoformat(timespec="milliseconds")
    return [FP_DateTime(text)]


def today_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:
    """today(): a Date (fhirpathpy returned a plain string, compared as text)."""
    return [FP_DateTime(_clock(ctx).date().isoformat())]


def time_of_day_fn(ctx: dict[str, Any], inputs: list[Any]) -> list[Any]:

    return [FP_Time(_clock(ctx).time().isoformat(timespec="milliseconds"))]


# ---------------------------------------------------------------------------------------------- control

def iif_fn(ctx: dict[str, Any], inputs: list[Any], criterion: Any, when_true: Any, when_false: Any = None) -> Any:
    """iif(criterion, true-result [, otherwise]): the input must be at most one item and the criterion a
    boolean (empty counts as false); fhirpathpy accepted any criterion and any input."""
    if len(inputs) > 1:
        raise FhirPathError(f"iif() expects at most one input item, got {len(inputs)}")
    focus = inputs
    result = criterion(focus)
    if len(result) > 1:
        raise FhirPathError("iif() criterion must be a single boolean, got a collection")
    if result:
        value = result[0].data if isinstance(result[0], ResourceNode) else result[0]
        if not isinstance(value, bool):
            raise FhirPathError(f"iif() criterion must be a boolean, got {value!r}")
        if value:
            return when_true(focus)
    return when_false(focus) if when_false is not None else []


# ---------------------------------------------------------------------------------------------- types

def known_type_names(model: dict[str, Any]) -> frozenset[str]:
    names = set(model["type2Parent"]) | set(model["type2Parent"].values())
    names |= {t for t in model["path2Type"].values() if "." not in t}
    names |= {"Resource", "DomainResource", "Element", "BackboneElement", "Boolean", "String", "Integer",
              "Decimal", "Date", "DateTime", "Time", "Quantity", "boolean", "string", "integer", "decimal",
              "date", "dateTime", "time", "uri", "code", "id", "instant", "markdown", "base64Binary",
              "unsignedInt", "positiveInt", "oid", "uuid", "canonical", "url", "xhtml"}
    return frozenset(names)


_KNOWN_TYPES: frozenset[str] | None = None
PRIMITIVE_NAME = re.compile(r"^[a-z]")  # FHIR primitive type names start lowercase


def _checked_type(ctx: dict[str, Any], type_info: Any) -> Any:
    """An unknown type name in is/as/ofType is an error (`as(string1)`), not an empty result."""
    global _KNOWN_TYPES
    if _KNOWN_TYPES is None:
        _KNOWN_TYPES = known_type_names(ctx["model"])
    name = getattr(type_info, "name", None)
    namespace = getattr(type_info, "namespace", None)
    if name not in _KNOWN_TYPES and namespace not in ("System",) :
        raise FhirPathError(f"unknown type {name!r}")
    return type_info


def _type_check(original: Any) -> Any:
    def checked(ctx: dict[str, Any], coll: list[Any], type_info: Any) -> Any:
        return original(ctx, coll, _checked_type(ctx, type_info))

    return checked


def as_function(ctx: dict[str, Any], coll: list[Any], type_info: Any) -> Any:
    """`as` (function and operator) on a collection filters it like ofType(Type), as the HL7 Java engine does.

    R4 core definitions rely on it: the invariant dom-3 evaluates `%resource.descendants().as(canonical)` on
    every resource with contained resources, and search parameters such as component-value-quantity evaluate
    `Observation.component.value as Quantity` over all components. fhirpathpy raised "Expected singleton on
    left side of 'as'" for both. (FHIRPath N1 would call it an error; R4 content needs the filter.)
    """
    checked = _checked_type(ctx, type_info)
    fp_types.TypeInfo.model = ctx.get("model")
    return [item for item in coll if fp_types.TypeInfo.from_value(item).is_(checked) or _as_system(item, checked)]


def _as_system(item: Any, type_info: Any) -> bool:
    """`value as String` on a FHIR `string` (and likewise for the other primitives): the HL7 Java engine compares
    the type name of `as` without case, so the System spelling of a FHIR primitive's own type casts it. Profiles
    rely on it (e.g. `(...extension(url).value as String) = 'x'`). Only the primitive's own type: a `code` is
    not `as String`."""
    if getattr(type_info, "namespace", None) not in (None, "System"):
        return False
    own = fp_types.TypeInfo.from_value(item)
    name = getattr(type_info, "name", None)
    return (own is not None and own.namespace == "FHIR" and isinstance(name, str) and bool(PRIMITIVE_NAME.match(own.name))
            and own.name.lower() == name.lower())


def trace_logged(ctx: dict[str, Any], inputs: list[Any], name: Any = "", projection: Any = None) -> list[Any]:
    """trace(name [, projection]): logged at DEBUG on the `fhir_service.fhirpath` logger (fhirpathpy printed to
    stdout, which a server must not do); the input is returned unchanged."""
    logger = logging.getLogger("fhir_service.fhirpath")
    if logger.isEnabledFor(logging.DEBUG):
        shown = [value for item in inputs for value in projection(item)] if callable(projection) else inputs
        logger.debug("trace %s: %r", name, [getattr(item, "data", item) for item in shown])
    return inputs


FIXED_FUNCTIONS: dict[str, dict[str, Any]] = {
    "single": {"fn": single_fn},
    "indexOf": {"fn": index_of_fn, "arity": {1: ["String"]}},
    "startsWith": {"fn": starts_with_fn, "arity": {1: ["String"]}},
    "endsWith": {"fn": ends_with_fn, "arity": {1: ["String"]}},
    "replace": {"fn": replace_fn, "arity": {2: ["String", "String"]}},
    "replaceMatches": {"fn": replace_matches_fn, "arity": {2: ["String", "String"]}},
    "toString": {"fn": to_string_fn},
    "toBoolean": {"fn": to_boolean_fn},
    "convertsToBoolean": {"fn": converts_to_boolean_fn},
    "round": {"fn": round_fn, "arity": {0: [], 1: ["Integer"]}},
    "abs": {"fn": abs_fn},
    "now": {"fn": now_fn},
    "today": {"fn": today_fn},
    "timeOfDay": {"fn": time_of_day_fn},
    "iif": {"fn": iif_fn, "arity": {2: ["Expr", "Expr"], 3: ["Expr", "Expr", "Expr"]}},
    "is": {"fn": _type_check(fp_types.is_fn), "arity": {1: ["TypeSpecifier"]}},
    "as": {"fn": as_function, "arity": {1: ["TypeSpecifier"]}},
    "trace": {"fn": trace_logged, "arity": {0: [], 1: ["String"], 2: ["String", "Expr"]}},
    "isOp": {"fn": _type_check(fp_types.is_fn), "arity": {2: ["Any", "TypeSpecifier"]}},
    "asOp": {"fn": as_function, "arity": {2: ["Any", "TypeSpecifier"]}},
    "ofType": {"fn": _type_check(fp_filtering.of_type_fn), "arity": {1: ["TypeSpecifier"]}},
    "extension": {"fn": extension_fn, "arity": {1: ["String"]}},
    "hasExtension": {"fn": has_extension_fn, "arity": {1: ["String"]}},
}


def identifier(ctx: dict[str, Any], parent_data: Any, node: dict[str, Any]) -> list[Any]:
    """An identifier's name, computed once per syntax-tree node (fhirpathpy ran a regex on every evaluation)."""
    name = node.get("_name")
    if name is None:
        text = node["text"]
        name = node["_name"] = text[1:-1] if len(text) > 1 and text[0] == '"' and text[-1] == '"' else text
    return [name]


def polarity_expression(ctx: dict[str, Any], parent_data: Any, node: dict[str, Any]) -> list[Any]:
    """Unary +/-: also on quantities (`-5.5 'mg'`), which fhirpathpy rejected."""


    sign = node["terminalNodeText"][0]
    result = fp_engine.do_eval(ctx, parent_data, node["children"][0])
    if len(result) != 1:
        raise FhirPathError(f"unary {sign} expects a single number or quantity, got {len(result)} items")
    value = value_of(result[0])
    if isinstance(value, Qty):
        return [FP_Quantity(-value.value if sign == "-" else value.value, value.to_fp().unit)]
    if is_number(value):
        return [-value if sign == "-" else value]
    raise FhirPathError(f"unary {sign} expects a number or quantity, got {value!r}")


def _time_literal_without_offset(original: Any) -> Any:
    """`@T14:34:28Z` is not a valid Time: FHIRPath times have no timezone offset."""
    offset = re.compile(r"(Z|[+-]\d{2}(:\d{2})?)$")

    def time_literal(ctx: dict[str, Any], parent_data: Any, node: dict[str, Any]) -> Any:
        if offset.search(node["text"]):
            raise FhirPathError(f"time literal {node['text']} cannot have a timezone offset")
        return original(ctx, parent_data, node)

    return time_literal


def apply() -> None:
    """Install the fixes that patch fhirpathpy's tables (idempotent).

    These are process-wide: plain `fhirpathpy.evaluate` in the same process sees them too (literals, member
    navigation with primitive extensions, sort keys, $this scoping, unary minus, time literals, Date type).
    """
    global _applied
    if _applied:
        return
    _applied = True
    evaluators["NumberLiteral"] = number_literal
    from fhir_service.fhirpath.operators import boolean_expression

    for kind in ("AndExpression", "OrExpression", "ImpliesExpression"):
        evaluators[kind] = boolean_expression  # short-circuit evaluation of and / or / implies
    evaluators["Identifier"] = identifier
    evaluators["PolarityExpression"] = polarity_expression
    evaluators["TimeLiteral"] = _time_literal_without_offset(evaluators["TimeLiteral"])
    evaluators["MemberInvocation"] = _member_invocation_merging(evaluators["MemberInvocation"])
    fp_engine.make_param = _make_param_with_sort_keys(fp_engine.make_param)
    TypeInfo.create_by_value_in_namespace = _type_names_dates(TypeInfo.create_by_value_in_namespace)
