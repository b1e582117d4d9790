"""A CodeSystem resource compiled once into dicts: concepts by code, the subsumption graph, property values.

The hierarchy comes from three places FHIR allows: `concept` nesting, `parent`/`subsumedBy` properties on
the child, and `child` properties on the parent. Descendant sets are computed on first use and cached,
because value-set filters (`is-a`, `descendent-of`, `is-not-a`, `generalizes`) are evaluated once per
expansion and expansions are cached too.
"""
from __future__ import annotations

import threading
from typing import Any, Iterable

from fhir_service.terminology.model import Concept, Designation

PARENT_PROPERTIES = ("parent", "subsumedBy")
CHILD_PROPERTIES = ("child",)
VALUE_KEYS = ("valueCode", "valueString", "valueBoolean", "valueInteger", "valueDecimal", "valueDateTime",
              "valueCoding")


def property_value(prop: dict[str, Any]) -> Any:
    """The value of a `concept.property` (a Coding stays a dict: filters match its code or system#code)."""
    for key in VALUE_KEYS:
        if key in prop:
            return prop[key]
    return None


def as_texts(value: Any) -> list[str]:
    """The texts a filter value may equal: `true` for a boolean, `code` and `system#code` for a Coding."""
    if isinstance(value, dict):
        code = value.get("code")
        if not isinstance(code, str):
            return []
        return [code, f"{value['system']}#{code}"] if isinstance(value.get("system"), str) else [code]
    return [as_text(value)]


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array (a malformed CodeSystem must not crash the validator)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def as_text(value: Any) -> str:
    """Property values compared as FHIR renders them (`true`, not `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class CompiledCodeSystem:
    """The concepts of one CodeSystem (and its supplements) with O(1) lookups."""

    def __init__(self, resource: dict[str, Any], supplements: Iterable[dict[str, Any]] = ()) -> None:
        self.url: str = resource.get("url", "")
        self.version: str | None = resource.get("version")
        self.name: str | None = resource.get("title") or resource.get("name")
        self.content: str = resource.get("content", "complete")
        self.case_sensitive: bool = resource.get("caseSensitive", True) is not False
        self.concepts: dict[str, Concept] = {}
        self.parents: dict[str, set[str]] = {}
        self.children: dict[str, set[str]] = {}
        self.order: list[str] = []
        self._lower: dict[str, str] = {}
        self._descendants: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._raw_properties: dict[str, list[tuple[str, Any]]] = {}
        self._raw_designations: dict[str, list[Designation]] = {}
        self._collect(_dicts(resource.get("concept")), None)
        for supplement in supplements:
            self._supplement(supplement)
        for code in self.order:
            self._finish(code)
        del self._raw_properties, self._raw_designations

    # -- building ----------------------------------------------------------------------------------------
    def _collect(self, concepts: list[dict[str, Any]], parent: str | None) -> None:
        for item in concepts:
            code = item.get("code")
            if not isinstance(code, str):
                continue
            if code not in self._raw_properties:
                self.order.append(code)
                self._raw_properties[code] = []
                self._raw_designations[code] = []
                self.concepts[code] = Concept(self.url, code, item.get("display"), item.get("definition"),
                                              version=self.version)
            if parent is not None:
                self._link(parent, code)
            for prop in _dicts(item.get("property")):
                name, value = prop.get("code"), property_value(prop)
                if not name or value is None:
                    continue
                self._raw_properties[code].append((name, value))
                linked = as_texts(value)
                if name in PARENT_PROPERTIES and linked:
                    self._link(linked[0], code)
                elif name in CHILD_PROPERTIES and linked:
                    self._link(code, linked[0])
            self._raw_designations[code].extend(self._designations(item))
            self._collect(_dicts(item.get("concept")), code)

    @staticmethod
    def _designations(item: dict[str, Any]) -> list[Designation]:
        return [Designation(d["value"], d.get("language"),
                            d["use"].get("code") if isinstance(d.get("use"), dict) else None)
                for d in _dicts(item.get("designation")) if isinstance(d.get("value"), str)]

    def _supplement(self, supplement: dict[str, Any]) -> None:
        """A `content = supplement` CodeSystem adds designations and properties, never concepts."""
        def walk(items: list[dict[str, Any]]) -> None:
            for item in items:
                code = item.get("code")
                if code in self._raw_properties:
                    self._raw_designations[code].extend(self._designations(item))
                    for prop in _dicts(item.get("property")):
                        value = property_value(prop)
                        if prop.get("code") and value is not None:
                            self._raw_properties[code].append((prop["code"], value))
                walk(_dicts(item.get("concept")))
        walk(_dicts(supplement.get("concept")))

    def _link(self, parent: str, child: str) -> None:
        self.parents.setdefault(child, set()).add(parent)
        self.children.setdefault(parent, set()).add(child)

    def _finish(self, code: str) -> None:
        base = self.concepts[code]
        self.concepts[code] = Concept(base.system, code, base.display, base.definition,
                                      tuple(self._raw_designations[code]), tuple(self._raw_properties[code]),
                                      self.version)
        if not self.case_sensitive:
            self._lower.setdefault(code.lower(), code)

    # -- lookup ------------------------------------------------------------------------------------------
    @property
    def is_complete(self) -> bool:
        """Only a `complete` CodeSystem lets us say "this code does not exist"."""
        return self.content == "complete"

    def find(self, code: str) -> Concept | None:
        """The concept with `code` (case-insensitively when the CodeSystem says `caseSensitive: false`)."""
        concept = self.concepts.get(code)
        if concept is None and not self.case_sensitive:
            actual = self._lower.get(code.lower())
            concept = self.concepts.get(actual) if actual is not None else None
        return concept

    def __contains__(self, code: str) -> bool:
        return self.find(code) is not None

    def __len__(self) -> int:
        return len(self.concepts)

    def descendants(self, code: str) -> frozenset[str]:
        """Every concept below `code` in the hierarchy (not `code` itself); cycles are tolerated."""
        cached = self._descendants.get(code)
        if cached is not None:
            return cached
        seen: set[str] = set()
        stack = list(self.children.get(code, ()))
        while stack:
            current = stack.pop()
            if current in seen or current == code:
                continue
            seen.add(current)
            stack.extend(self.children.get(current, ()))
        result = frozenset(seen)
        with self._lock:
            self._descendants[code] = result
        return result

    def ancestors(self, code: str) -> frozenset[str]:
        """Every concept above `code` (not `code` itself)."""
        seen: set[str] = set()
        stack = list(self.parents.get(code, ()))
        while stack:
            current = stack.pop()
            if current in seen or current == code:
                continue
            seen.add(current)
            stack.extend(self.parents.get(current, ()))
        return frozenset(seen)

    def subsumes(self, ancestor: str, code: str) -> bool:
        return ancestor == code or code in self.descendants(ancestor)

    def __repr__(self) -> str:
        return f"CompiledCodeSystem({self.url}, {self.content}, {len(self.concepts)} concepts)"
