"""Search parameters the store can index and query, per resource type, compiled once.

Sources: the R4 core SearchParameters and the project's (profiles/) through `Definitions.search_parameters`,
plus SearchParameter resources stored in the repository itself (registered at write time). A parameter is
"supported" only when its expression compiles and its type has an index table: the CapabilityStatement is
generated from exactly this set, so it never promises what the store cannot answer.

Core expressions cover many types at once (`AllergyIntolerance.patient | CarePlan.subject.where(resolve() is
Patient) | ...`): only the union branches of the resource's own type are kept, and `.where(resolve() is X)`
(no resolver at index time) becomes a filter on the reference's target type.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

from fhir_service.store.expression_scan import top_level
from fhir_service.store.fast_path import compile_relative, compile_simple, presence_guard
from fhir_service.store.fhirpath_adapter import Evaluator, ExpressionError, compile_expression

INDEXED_TYPES = frozenset({"string", "token", "date", "reference", "quantity", "number", "uri"})
_RESOLVE_IS = re.compile(r"\.where\(\s*resolve\(\)\s+is\s+([A-Za-z]+)\s*\)$")


@dataclass(frozen=True)
class Branch:
    """One union branch of an expression: its evaluator and, for references, an allowed target type."""

    expression: str
    evaluate: Evaluator
    target_type: str | None = None


@dataclass(frozen=True)
class SearchParam:
    code: str
    type: str
    url: str | None
    branches: tuple[Branch, ...]
    targets: tuple[str, ...] = ()
    expression: str = ""
    description: str | None = None
    # composite only: (component type, evaluator relative to each root value)
    components: tuple[tuple[str, Evaluator], ...] = ()


def split_union(expression: str) -> list[str]:
    """Top-level `|` branches of an expression (ignoring those inside parentheses or string literals)."""
    parts, current = [], []
    for ch, at_top in top_level(expression):
        if at_top and ch == "|":
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _strip_parens(text: str) -> str:
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def branches_for(expression: str, resource_type: str) -> list[tuple[str, str | None]]:
    """(expression, target type filter) for the branches of `expression` that apply to `resource_type`."""
    out = []
    for part in split_union(expression):
        bare = _strip_parens(part)
        head = re.match(r"\(*([A-Za-z]+)", bare)
        if not head:
            continue
        first = head.group(1)
        if first in ("Resource", "DomainResource"):
            bare = bare.replace(first, resource_type, 1)
        elif first != resource_type:
            continue
        target = None
        found = _RESOLVE_IS.search(bare)
        if found:
            target = found.group(1)
            bare = bare[: found.start()]
        out.append((bare, target))
    return out


_AS_CALL = re.compile(r"\b([a-z][A-Za-z]*)\.as\(\s*([A-Za-z]+)\s*\)")


def relative_expression(expression: str) -> str:
    """A composite component's expression, evaluated on a bare element (no type model at hand): the choice
    `value.as(Quantity)` becomes the JSON name `valueQuantity`."""
    return _AS_CALL.sub(lambda m: m.group(1) + m.group(2)[0].upper() + m.group(2)[1:], expression)


def _components(definition: dict[str, Any], resolve: Any) -> tuple[tuple[str, Evaluator], ...] | None:
    out = []
    for component in definition.get("component") or []:
        target = resolve(component.get("definition") or "") if resolve else None
        kind = (target or {}).get("type")
        if kind not in INDEXED_TYPES or not component.get("expression"):
            return None
        try:
            relative = relative_expression(component["expression"])
            out.append((kind, compile_relative(relative) or compile_expression(relative)))
        except ExpressionError:
            return None
    return tuple(out) or None


def compile_branch(expression: str, definitions: Any, resource_type: str = "") -> Evaluator:
    """The native evaluator when the expression is a simple path, else the FHIRPath engine's (skipped
    when a presence guard proves the result empty)."""
    simple = compile_simple(expression, definitions)
    if simple is not None:
        return simple
    engine = compile_expression(expression)
    guard = presence_guard(expression, resource_type) if resource_type else None
    if guard is None:
        return engine
    return lambda resource: engine(resource) if guard(resource) else []


def compile_param(definition: dict[str, Any], resource_type: str, resolve: Any = None,
                  definitions: Any = None) -> SearchParam | None:
    """A SearchParam for one SearchParameter resource on one base type; None when it cannot be indexed.
    `resolve(url)` finds the component SearchParameters of a composite."""
    kind = definition.get("type")
    expression = definition.get("expression") or ""
    code = definition.get("code")
    components: tuple[tuple[str, Evaluator], ...] = ()
    if kind == "composite" and expression and code:
        components = _components(definition, resolve) or ()
        if not components:
            return None
    elif kind not in INDEXED_TYPES or not expression or not code:
        return None
    branches = []
    for text, target in branches_for(expression, resource_type):
        try:
            branches.append(Branch(text, compile_branch(text, definitions, resource_type), target))
        except ExpressionError:
            continue
    if not branches:
        return None
    return SearchParam(code=code, type=kind, url=definition.get("url"), branches=tuple(branches),
                       targets=tuple(definition.get("target") or ()), expression=expression,
                       description=definition.get("description"), components=components)


@dataclass
class SearchParamRegistry:
    """Compiled search parameters per resource type, built lazily from definitions + stored SearchParameters."""

    definitions: Any
    _by_type: dict[str, dict[str, SearchParam]] = field(default_factory=dict)
    _custom: dict[str, dict[str, Any]] = field(default_factory=dict)  # url -> SearchParameter resource
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def for_type(self, resource_type: str) -> dict[str, SearchParam]:
        params = self._by_type.get(resource_type)
        if params is None:
            with self._lock:
                params = self._build(resource_type)
                self._by_type[resource_type] = params
        return params

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        return self.for_type(resource_type).get(code)

    def _build(self, resource_type: str) -> dict[str, SearchParam]:
        params: dict[str, SearchParam] = {}
        sources: Iterable[dict[str, Any]] = list(self.definitions.search_parameters(resource_type))
        custom = [sp for sp in self._custom.values()
                  if {resource_type, "Resource", "DomainResource"}.intersection(sp.get("base") or [])]
        for definition in [*sources, *custom]:  # later sources (custom) win over core by code
            compiled = compile_param(definition, resource_type, self._resolve, self.definitions)
            if compiled is not None:
                params[compiled.code] = compiled
        return params

    def _resolve(self, url: str) -> dict[str, Any] | None:
        for sp in self._custom.values():
            if sp.get("url") == url:
                return sp
        return self.definitions.resolve(url)

    def register(self, search_parameter: dict[str, Any]) -> list[str]:
        """Make a stored SearchParameter searchable; returns the base types whose index must be rebuilt."""
        url = search_parameter.get("url") or f"urn:local:{search_parameter.get('id')}"
        if search_parameter.get("status") == "retired":
            return []
        with self._lock:
            self._custom[url] = search_parameter
            bases = list(search_parameter.get("base") or [])
            for base in bases:
                self._by_type.pop(base, None)
            if {"Resource", "DomainResource"}.intersection(bases):
                self._by_type.clear()
        return bases
