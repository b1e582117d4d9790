"""Static checks of a FHIRPath expression against the R4 model: FHIRPath's "strict" semantic mode.

At run time FHIRPath navigates any name and yields empty for names that do not exist, so a typo in an invariant
(`code.codng`) silently makes it always true or always false. Checking the expression against the type of its
context catches that when definitions are loaded, as the HL7 Java validator does for StructureDefinition
constraints. The checker follows the types through member navigation, choice types, `as`/`ofType`, and the
functions that keep their input's type; where it cannot know a type (resolve(), children(), arithmetic...), it
stops checking rather than guessing.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from fhir_service.fhirpath.engine import R4_MODEL, compile, type_path
from fhir_service.fhirpath.errors import FhirPathError

Types = frozenset[str] | None  # possible type paths of a collection; None = unknown (not checked)

#: functions whose result has the type of their input
_SAME_TYPE = frozenset({"where", "first", "last", "tail", "skip", "take", "single", "distinct", "trace",
                        "exclude", "intersect", "union", "combine", "repeat", "sort"})
#: functions whose arguments are evaluated against the expression's focus, not the input items
_ARGUMENTS_AT_ROOT = frozenset({"union", "combine", "exclude", "intersect", "subsetOf", "supersetOf"})
_CHOICE_SUFFIXES = frozenset(t[:1].upper() + t[1:] for ts in R4_MODEL["choiceTypePaths"].values() for t in ts)


@lru_cache(maxsize=4096)
def _children(type_name: str) -> frozenset[str] | None:
    """Names of the elements of a type or backbone path (choice elements by their base name); None if unknown."""
    prefix = type_name + "."
    names = {key[len(prefix):] for key in R4_MODEL["path2Type"] if key.startswith(prefix)}
    names = {name.split(".", 1)[0] for name in names}
    names |= {key[len(prefix):] for key in R4_MODEL["pathsDefinedElsewhere"]
              if key.startswith(prefix) and "." not in key[len(prefix):]}  # contentReference elements
    bases = {key[len(prefix):] for key in R4_MODEL["choiceTypePaths"] if key.startswith(prefix)
             and "." not in key[len(prefix):]}
    expanded = {name for name in names for base in bases
                if name.startswith(base) and name[len(base):] in _CHOICE_SUFFIXES}
    names = (names - expanded) | bases
    return frozenset(names) if names else None


def _choice_types(path: str) -> frozenset[str]:
    types = set()
    for suffix in R4_MODEL["choiceTypePaths"][path]:
        expanded = path + suffix
        types.add(R4_MODEL["path2Type"].get(expanded, suffix[:1].lower() + suffix[1:]))
    return frozenset(types)


class _Checker:
    def __init__(self, context_type: str | None) -> None:
        self.context = frozenset({type_path(context_type)}) if context_type else None
        self.problems: list[str] = []
        self.wrong_context: list[str] = []  # reported only if no type name in the expression fits the context
        self.context_matched = False

    # ------------------------------------------------------------------------------------ navigation

    def member(self, types: Types, key: str) -> Types:
        if types is None:
            return None
        result: set[str] = set()
        for type_name in types:
            children = _children(type_name)
            if children is None:
                return None  # a primitive or a type we do not model: stop checking
            path = R4_MODEL["pathsDefinedElsewhere"].get(f"{type_name}.{key}", f"{type_name}.{key}")
            if key not in children:
                base = next((c for c in children if key.startswith(c) and key[len(c):] in _CHOICE_SUFFIXES
                             and f"{type_name}.{c}" in R4_MODEL["choiceTypePaths"]), None)
                if base is not None:
                    self.problems.append(f"'{key}' names a choice type: use '{base}' (with ofType() or as)")
                    return None
                if len(types) == 1:
                    self.problems.append(f"'{key}' is not an element of {type_name}")
                    return None
                continue
            if path in R4_MODEL["choiceTypePaths"]:
                result |= _choice_types(path)
            elif path in R4_MODEL["path2Type"]:
                if R4_MODEL["path2Type"][path] == "Resource":
                    return None  # contained, Bundle.entry.resource...: any resource type
                result.add(R4_MODEL["path2Type"][path])
            else:
                result.add(path)  # a backbone element
        if not result:
            self.problems.append(f"'{key}' is not an element of {' or '.join(sorted(types))}")
            return None
        return frozenset(result)

    def type_filter(self, types: Types, node: dict[str, Any]) -> Types:
        name = node.get("text", "").replace("`", "").split(".")[-1]
        if types is None or not name:
            return frozenset({name}) if name else None
        if name in ("Resource", "DomainResource"):
            return types
        return frozenset({name})

    # ------------------------------------------------------------------------------------ expressions

    def visit(self, node: dict[str, Any], focus: Types, root: bool) -> Types:
        kind = node["type"]
        children = node.get("children", [])
        if kind == "InvocationExpression":
            left = self.visit(children[0], focus, root)
            return self.invoke(children[1], left, focus)
        if kind in ("TermExpression", "InvocationTerm", "ParenthesizedTerm"):
            return self.visit(children[0], focus, root) if children else None
        if kind == "MemberInvocation":
            key = children[0]["text"].strip("`")
            if root and key[:1].isupper() and focus is not None:
                from fhir_service.fhirpath.fixes import is_subtype

                if any(is_subtype(t, key, R4_MODEL) for t in focus):
                    self.context_matched = True
                    return frozenset({key}) if key not in ("Resource", "DomainResource") else focus
                if key in R4_MODEL["type2Parent"]:
                    # `Condition.code | Observation.code` on an Observation is fine: one branch applies
                    self.wrong_context.append(f"the context is {' or '.join(sorted(focus))}, not {key}")
                    return None
            return self.member(focus, key)
        if kind == "ThisInvocation":
            return focus
        if kind == "FunctionInvocation":
            return self.invoke(node, focus, focus)
        if kind == "TypeExpression":
            self.visit(children[0], focus, root)
            if node.get("terminalNodeText") == ["as"]:
                return self.type_filter(focus, children[1])
            return None
        for child in children:  # operators, literals, %variables: check inside, type unknown
            if isinstance(child, dict) and child.get("type") not in ("TypeSpecifier",):
                self.visit(child, focus, True)
        return None

    def invoke(self, node: dict[str, Any], types: Types, outer: Types) -> Types:
        if node["type"] == "MemberInvocation":
            return self.member(types, node["children"][0]["text"].strip("`"))
        if node["type"] != "FunctionInvocation":
            return self.visit(node, types, False)
        function = node["children"][0]
        name = function["children"][0]["text"]
        params = function["children"][1]["children"] if len(function["children"]) > 1 else []
        if name in ("ofType", "as") and params:
            return self.type_filter(types, params[0])
        if name == "is":
            return None
        argument_focus = outer if name in _ARGUMENTS_AT_ROOT else types
        for param in params:  # most arguments are evaluated with $this = each input item
            self.visit(param, argument_focus, True)
        if name in _SAME_TYPE:
            return types
        if name == "select" and params:
            return self.visit(params[0], types, True)
        if name == "extension":
            return frozenset({"Extension"})
        return None


_UNORDERED = frozenset({"children", "descendants"})
_ORDER_DEPENDENT = frozenset({"first", "last", "tail", "skip", "take"})


def _function_name(node: dict[str, Any]) -> str | None:
    if node.get("type") in ("TermExpression", "InvocationTerm") and node.get("children"):
        return _function_name(node["children"][0])
    if node.get("type") == "FunctionInvocation":
        return node["children"][0]["children"][0].get("text")
    if node.get("type") == "InvocationExpression":
        return _function_name(node["children"][1])
    return None


def _order_problems(node: dict[str, Any]) -> list[str]:
    """first()/skip()/[n]... applied directly to children()/descendants(), whose order is not defined."""
    problems = []
    kind = node.get("type")
    children = node.get("children") or []
    if kind in ("InvocationExpression", "IndexerExpression") and len(children) == 2:
        applied = "[]" if kind == "IndexerExpression" else _function_name(children[1])
        source = _function_name(children[0])
        if source in _UNORDERED and (applied in _ORDER_DEPENDENT or applied == "[]"):
            problems.append(f"{applied}() depends on order, but {source}() returns an unordered collection")
    for child in children:
        if isinstance(child, dict):
            problems += _order_problems(child)
    return problems


def check(expression: str, context_type: str | None, *, ordered_functions: bool = False) -> list[str]:
    """Problems of `expression` evaluated with a focus of FHIR type path `context_type` (e.g. "Patient",
    "Observation.component"): unknown elements, choice elements named with their type, a wrong resource type;
    with `ordered_functions`, also order-dependent functions on unordered collections.
    An empty list means none found. Raises FhirPathError on a syntax error."""
    compiled = compile(expression)
    checker = _Checker(context_type)
    checker.visit(compiled._ast, checker.context, True)
    if ordered_functions:
        checker.problems += _order_problems(compiled._ast)
    if not checker.context_matched:
        return checker.wrong_context + checker.problems
    return checker.problems


def check_all(expressions: Iterable[tuple[str, str | None]]) -> dict[str, list[str]]:
    """check() for many (expression, context_type) pairs; only those with problems are returned."""
    found = {}
    for expression, context_type in expressions:
        problems = check(expression, context_type)
        if problems:
            found[expression] = problems
    return found


def require_valid(expression: str, context_type: str | None, *, ordered_functions: bool = False) -> None:
    """Raise FhirPathError listing the problems check() finds."""
    problems = check(expression, context_type, ordered_functions=ordered_functions)
    if problems:
        raise FhirPathError(f"{expression!r} on {context_type}: " + "; ".join(problems), expression=expression)
