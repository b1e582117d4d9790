"""Native `where(...)` filters for search-parameter expressions, typed by the StructureDefinitions.

Covers what the project's and the core's parameters use: `Observation.where(code.coding.where(system = 'x'
and (code = 'a' or code = 'b')).exists()).value.ofType(integer)` and `Patient.telecom.where(system =
'email')`: member chains, nested where, `exists()`, `=` / `!=` against a string literal, `and` / `or` with
FHIRPath's three-valued logic (empty is unknown) and parentheses. Every member is resolved against the
definitions first, so a choice element or an unknown name makes the compiler give up (None) and the
FHIRPath engine stays in charge; tests/store/test_fast_path.py checks the results against the engine.
"""
from __future__ import annotations

import re
from typing import Any, Callable

Values = list[Any]
Predicate = Callable[[Any], Values]  # item -> [] | [True] | [False]
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op>!=|=|\(|\)|\.)|(?P<name>[A-Za-z_][A-Za-z0-9_]*))")
_STRING_TYPES = frozenset({"string", "code", "uri", "url", "canonical", "id", "markdown", "oid", "uuid"})


class _GiveUp(Exception):
    """The expression is outside the native subset: leave it to the engine."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise _GiveUp(text[position:])
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


class _Types:
    """Element types from the definitions: ('type', name) for a datatype or resource, ('path', p) for a
    backbone element, ('primitive', code) for a primitive."""

    def __init__(self, definitions: Any) -> None:
        from fhir_service.store.fast_path import _elements

        self.definitions = definitions
        self.elements = lambda name: _elements(definitions, name)

    def member(self, context: tuple[str, str], name: str) -> tuple[tuple[str, str], bool]:
        """(type of `name` in `context`, whether it repeats)."""
        kind, where = context
        if kind == "primitive":
            raise _GiveUp(name)
        root = where.split(".")[0]
        elements = self.elements(root)
        if elements is None:
            raise _GiveUp(root)
        element = elements.get(f"{where}.{name}")
        if element is None or f"{where}.{name}[x]" in elements:
            raise _GiveUp(name)
        if element.get("contentReference"):
            return ("path", element["contentReference"].lstrip("#")), element.get("max") != "1"
        codes = [t.get("code") for t in element.get("type", [])]
        if len(codes) != 1 or not codes[0]:
            raise _GiveUp(name)
        code = codes[0]
        many = element.get("max") != "1"
        if code in ("BackboneElement", "Element"):
            return ("path", f"{where}.{name}"), many
        if code[0].isupper():
            return ("type", code), many
        return ("primitive", code), many


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], types: _Types) -> None:
        self.tokens = tokens
        self.position = 0
        self.types = types

    def peek(self, value: str | None = None) -> bool:
        if self.position >= len(self.tokens):
            return False
        return value is None or self.tokens[self.position][1] == value

    def take(self, value: str | None = None) -> tuple[str, str]:
        if not self.peek(value):
            raise _GiveUp(value or "end")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def criteria(self, context: tuple[str, str]) -> Predicate:
        left = self.conjunction(context)
        while self.peek("or"):
            self.take("or")
            left = _or(left, self.conjunction(context))
        return left

    def conjunction(self, context: tuple[str, str]) -> Predicate:
        left = self.atom(context)
        while self.peek("and"):
            self.take("and")
            left = _and(left, self.atom(context))
        return left

    def atom(self, context: tuple[str, str]) -> Predicate:
        if self.peek("("):
            self.take("(")
            inner = self.criteria(context)
            self.take(")")
            return inner
        chain, result_type, exists = self.chain(context)
        if exists:
            return lambda item: [bool(chain(item))]
        if self.peek("=") or self.peek("!="):
            negate = self.take()[1] == "!="
            kind, literal = self.take()
            if kind != "str" or result_type[0] != "primitive" or result_type[1] not in _STRING_TYPES:
                raise _GiveUp("comparison")
            text = literal[1:-1]
            if "\\" in text:
                raise _GiveUp("escape")
            return _equals(chain, text, negate)
        raise _GiveUp("a criterion that is not boolean")

    def chain(self, context: tuple[str, str]) -> tuple[Callable[[Any], Values], tuple[str, str], bool]:
        """Members and where() steps from `context`; (evaluator, result type, ends in exists())."""
        steps: list[Callable[[Values], Values]] = []
        current = context
        while True:
            kind, name = self.take()
            if kind != "name" or name in ("and", "or"):
                raise _GiveUp(name)
            if name == "exists" and self.peek("(") and steps:
                self.take("(")
                self.take(")")
                return _run(steps), current, True
            if name == "where" and self.peek("(") and steps:
                self.take("(")
                predicate = self.criteria(current)
                self.take(")")
                steps.append(_filter(predicate))
            else:
                current, _ = self.types.member(current, name)
                steps.append(_member(name))
            if not self.peek("."):
                return _run(steps), current, False
            self.take(".")


def _member(name: str) -> Callable[[Values], Values]:
    def step(items: Values) -> Values:
        out: Values = []
        for item in items:
            if isinstance(item, dict):
                value = item.get(name)
                if isinstance(value, list):
                    out.extend(v for v in value if v is not None)
                elif value is not None:
                    out.append(value)
        return out
    return step


def _filter(predicate: Predicate) -> Callable[[Values], Values]:
    return lambda items: [item for item in items if predicate(item) == [True]]


def _run(steps: list[Callable[[Values], Values]]) -> Callable[[Any], Values]:
    def evaluate(item: Any) -> Values:
        current: Values = [item]
        for step in steps:
            current = step(current)
            if not current:
                return current
        return current
    return evaluate


def _equals(chain: Callable[[Any], Values], literal: str, negate: bool) -> Predicate:
    def predicate(item: Any) -> Values:
        values = chain(item)
        if not values:
            return []
        equal = len(values) == 1 and values[0] == literal
        return [equal != negate]
    return predicate


def _and(left: Predicate, right: Predicate) -> Predicate:
    def predicate(item: Any) -> Values:
        a, b = left(item), right(item)
        if a == [False] or b == [False]:
            return [False]
        if a == [True] and b == [True]:
            return [True]
        return []
    return predicate


def _or(left: Predicate, right: Predicate) -> Predicate:
    def predicate(item: Any) -> Values:
        a, b = left(item), right(item)
        if a == [True] or b == [True]:
            return [True]
        if a == [False] and b == [False]:
            return [False]
        return []
    return predicate


_HEAD = re.compile(r"^(?P<head>[A-Z][A-Za-z]*(?:\.[a-z][A-Za-z]*)*)\.where\(")
_TAIL = re.compile(r"^(?:\.[a-z][A-Za-z]*|\.ofType\(\s*[A-Za-z]+\s*\))*$")


def _closing(text: str, start: int) -> int | None:
    """Index of the parenthesis that closes the one opened just before `start`."""
    depth, quote = 1, False
    for index in range(start, len(text)):
        ch = text[index]
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
            if depth == 0:
                return index
    return None


def compile_where(expression: str, definitions: Any) -> Callable[[dict[str, Any]], Values] | None:
    """`Type.where(c).tail` (the resource filtered, then a simple path) or `Type.path.where(c)` (the
    path's items filtered); None outside the subset."""
    from fhir_service.store.fast_path import compile_simple

    expression = expression.strip()
    match = _HEAD.match(expression)
    if not match or definitions is None:
        return None
    end = _closing(expression, match.end())
    if end is None:
        return None
    head, criteria, tail = match.group("head"), expression[match.end():end], expression[end + 1:]
    if not _TAIL.match(tail):
        return None
    if not _balanced(criteria):
        return None
    types = _Types(definitions)
    resource_type = head.split(".")[0]
    try:
        context: tuple[str, str] = ("type", resource_type)
        for name in head.split(".")[1:]:
            context, _ = types.member(context, name)
        if context[0] == "primitive":
            return None
        parser = _Parser(_tokens(criteria), types)
        predicate = parser.criteria(context)
        if parser.peek():
            return None
    except _GiveUp:
        return None
    if "." not in head:
        rest = compile_simple(resource_type + tail, definitions) if tail else (lambda resource: [resource])
        if rest is None:
            return None

        def filtered_resource(resource: dict[str, Any]) -> Values:
            if resource.get("resourceType") != resource_type or predicate(resource) != [True]:
                return []
            return rest(resource)
        return filtered_resource
    if tail:
        return None
    items = compile_simple(head, definitions)
    if items is None:
        return None
    return lambda resource: [item for item in items(resource) if predicate(item) == [True]]


def _balanced(text: str) -> bool:
    depth, quote = 0, False
    for ch in text:
        if ch == "'":
            quote = not quote
        elif not quote:
            depth += (ch == "(") - (ch == ")")
            if depth < 0:
                return False
    return depth == 0 and not quote
