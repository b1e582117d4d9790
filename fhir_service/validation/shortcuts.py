"""Deciding an invariant from a cheap part of it (see guards.py, "short-circuits"), before running all of it.

`plan(expression)` splits an invariant at its top-level implies / or / and into a small tree whose leaves are
compiled once. `decide(plan, focus, context_type)` returns True/False when the short-circuit settles the result,
or None when the whole expression must be evaluated. Leaves only ever run when they read nothing but the focus
(pure), so their results can be memoised by the JSON of the properties they read.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import orjson

from fhir_service.validation.fhirpath_adapter import CompiledExpression, compile_expression
from fhir_service.validation.guards import any_present, is_pure, read_names, reads_key, root_names, split_top

MEMO_LIMIT = 50_000  # entries
MEMO_BYTES = 32 * 1024 * 1024  # total size of the JSON in the keys: the memo is cleared beyond it
MEMO_KEY_BYTES = 16 * 1024  # larger projections (a whole Bundle's entries) are evaluated, never kept: they do
# not repeat, and one such key could hold megabytes for the life of the process
_memo: dict[tuple, list[Any]] = {}
_memo_bytes = 0
_memo_lock = threading.Lock()


@dataclass(eq=False)
class Plan:
    kind: str  # implies | or | and | leaf
    parts: list["Plan"] = field(default_factory=list)
    compiled: CompiledExpression | None = None
    roots: frozenset[str] | None = None
    when_absent: dict[str, bool | None] = field(default_factory=dict)


def plan(expression: str, depth: int = 0) -> Plan | None:
    """A short-circuit plan, or None when the expression has no useful split (then it is simply evaluated)."""
    split = split_top(expression) if depth < 4 else None
    if split is None:
        if depth == 0:
            return None
        roots = root_names(expression)
        if roots is None or not is_pure(expression):
            return Plan("opaque")
        try:
            return Plan("leaf", compiled=compile_expression(expression), roots=roots)
        except Exception:  # noqa: BLE001 - not parseable alone: treat as unknown
            return Plan("opaque")
    op, texts = split
    parts = [plan(text, depth + 1) or Plan("opaque") for text in texts]
    if op == "implies":
        parts = parts[:1]  # only the antecedent can settle `A implies B`
    if all(p.kind == "opaque" for p in parts):
        return None if depth == 0 else Plan("opaque")
    return Plan(op, parts)


def _truth(result: list[Any]) -> bool | None:
    if len(result) == 1 and isinstance(result[0], bool):
        return result[0]
    return None


def _normalised(result: list[Any]) -> list[Any]:
    """Keep what matters for truth (empty, one boolean, or "something"), not references into the input."""
    if not result or (len(result) == 1 and isinstance(result[0], bool)):
        return list(result)
    return [None, None]  # several / non-boolean items: satisfied, but not a boolean for and/or/implies


def _references(value: Any) -> list[str]:
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str):
                found.append(ref)
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)
    return found


_NAMES: dict[str, frozenset[str] | None] = {}


def _names(expression: str) -> frozenset[str] | None:
    if expression not in _NAMES:
        _NAMES[expression] = read_names(expression)
    return _NAMES[expression]


def _pruned(value: Any, names: frozenset[str], mark_references: bool) -> Any:
    """`value` with only the properties named in `names` (see guards.read_names), at every depth, and every
    Reference's `reference` (resolve() reads it unnamed). With `mark_references`, an unnamed `reference` becomes a
    marker: its target is in the key instead (so two foci referring to equal targets share a result), and its
    position still counts."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k[:1] == "_" and reads_key(k, names):
                out[k] = v  # a primitive's id and extensions: kept whole (they decide whether it exists)
            elif k == "resourceType" or reads_key(k, names):
                out[k] = _pruned(v, names, mark_references)
            elif k == "reference" and isinstance(v, str):
                out[k] = "#target" if mark_references else v
        return out
    if isinstance(value, list):
        return [_pruned(v, names, mark_references) for v in value]
    return value


def memoised(compiled: CompiledExpression, roots: frozenset[str], focus: dict[str, Any],
             context_type: str | None, resolver: Any = None) -> list[Any] | None:
    """The result of a pure expression on `focus`, memoised by (expression text, focus type, JSON of the properties
    it reads); None when the focus cannot be serialised (then the caller evaluates it directly).

    With a `resolver`, the expression may also use resolve(): the JSON of every target the read properties
    reference is then part of the key, so the result is still a function of the key."""
    projection = {k: v for k, v in focus.items() if reads_key(k, roots)}
    if "resourceType" in focus:
        projection["resourceType"] = focus["resourceType"]
    targets: list[Any] = []
    if resolver is not None:
        references = _references(projection)
        if any(ref.startswith("#") for ref in references):
            return None  # contained targets depend on the enclosing resource: evaluate directly
        for ref in references:
            try:
                targets.append(resolver(ref))
            except Exception:  # noqa: BLE001 - an unresolvable reference is part of the key as None
                targets.append(None)
    names = _names(compiled.expression)
    if names is not None:  # only what the expression can observe goes into the key
        projection = _pruned(projection, names, resolver is not None)
        targets = [_pruned(t, names, False) for t in targets]
    try:
        key = (compiled.expression, context_type or "", orjson.dumps(projection, option=orjson.OPT_SORT_KEYS),
               orjson.dumps(targets, option=orjson.OPT_SORT_KEYS) if resolver is not None else b"")
    except TypeError:
        return None
    size = len(key[2]) + len(key[3])
    if size <= MEMO_KEY_BYTES:
        cached = _memo.get(key)
        if cached is not None:
            return cached  # type: ignore[return-value]
    result = _normalised(compiled.evaluate(focus, resource=focus, root_resource=focus, context_type=context_type,
                                           resolver=resolver))
    if size <= MEMO_KEY_BYTES:
        _remember(key, result, size)
    return result


def _remember(key: tuple, result: list[Any], size: int) -> None:
    """Store one result, clearing the memo first when it is full (by entries or by bytes of key JSON)."""
    global _memo_bytes
    with _memo_lock:
        if len(_memo) >= MEMO_LIMIT or _memo_bytes + size > MEMO_BYTES:
            _memo.clear()
            _memo_bytes = 0
        if key not in _memo:
            _memo_bytes += size
        _memo[key] = result


def memo_size() -> tuple[int, int]:
    """(entries, bytes of key JSON) held by the memo: for tests and diagnostics."""
    return len(_memo), _memo_bytes


def _leaf(p: Plan, focus: dict[str, Any], context_type: str | None) -> bool | None:
    assert p.compiled is not None and p.roots is not None
    key_type = context_type or ""
    if not any_present(focus, p.roots):
        if key_type not in p.when_absent:
            empty: dict[str, Any] = {"resourceType": focus["resourceType"]} if "resourceType" in focus else {}
            p.when_absent[key_type] = _truth(p.compiled.evaluate(empty, resource=empty, root_resource=empty,
                                                                 context_type=context_type))
        return p.when_absent[key_type]
    result = memoised(p.compiled, p.roots, focus, context_type)
    return _truth(result) if result is not None else None


def decide(p: Plan, focus: Any, context_type: str | None) -> bool | None:
    """True/False when settled by the plan's cheap parts; None when the whole invariant must run."""
    if not isinstance(focus, dict):
        return None
    return _decide(p, focus, context_type)


def _decide(p: Plan, focus: dict[str, Any], context_type: str | None) -> bool | None:
    kind = p.kind
    if kind == "leaf":
        return _leaf(p, focus, context_type)
    if kind == "opaque":
        return None
    if kind == "implies":
        return True if _decide(p.parts[0], focus, context_type) is False else None
    if kind == "or":
        for part in p.parts:
            if _decide(part, focus, context_type) is True:
                return True
        return None
    for part in p.parts:  # and
        if _decide(part, focus, context_type) is False:
            return False
    return None
