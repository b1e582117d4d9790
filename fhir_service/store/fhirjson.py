"""JSON in and out with FHIR decimal precision kept: `1.50` stays `1.50` (FHIR R4 datatypes: decimal).

Parsing turns JSON numbers with a fraction or exponent into `Decimal` (ints stay ints); writing emits a
Decimal's own text as the JSON number (orjson Fragment), so a stored, searched and served resource keeps
the precision its author wrote. Everything the store keeps and the server returns goes through here.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

JSONDecodeError = json.JSONDecodeError


MAX_DEPTH = 128  # deeper than any sensible resource; keeps every recursive walk far from Python's limit


def loads(data: bytes | str) -> Any:
    """Parse JSON text (a UTF-8 BOM is tolerated); raises ValueError (JSONDecodeError, bad UTF-8, NaN,
    nesting deeper than MAX_DEPTH) on bad input."""
    if isinstance(data, bytes):
        data = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    try:
        value = json.loads(data, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_object)
    except RecursionError:
        raise ValueError(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    check_depth(value)
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; a property named twice is an error (FHIR JSON forbids it, and `fhir-service validate`
    rejects it: the server must not store what its own validator refuses)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise ValueError(f"the property {duplicate!r} appears twice in one JSON object")
    return obj


def check_depth(value: Any) -> None:
    """ValueError when `value` nests deeper than MAX_DEPTH, or holds a string no store can keep: U+0000
    (PostgreSQL text refuses it; FHIR strings forbid it) or a lone UTF-16 surrogate (not encodable as UTF-8).
    Checked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"JSON nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, child in item.items():
                if _UNSTORABLE.search(key):
                    raise ValueError(f"the property name {key!r} holds {_describe(key)}")
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
                elif isinstance(child, str) and _UNSTORABLE.search(child):
                    raise ValueError(f"the value of {key!r} holds {_describe(child)}")
        elif isinstance(item, list):
            for child in item:
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
                elif isinstance(child, str) and _UNSTORABLE.search(child):
                    raise ValueError(f"a string in an array holds {_describe(child)}")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _describe(text: str) -> str:
    found = _UNSTORABLE.search(text)
    char = found.group() if found else ""
    return "U+0000 (NUL), which FHIR strings do not allow" if char == "\x00" else \
        f"a lone UTF-16 surrogate (U+{ord(char):04X}), which is not Unicode text"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"{value} is not a JSON number")
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any, pretty: bool = False) -> bytes:
    option = orjson.OPT_INDENT_2 if pretty else 0
    try:
        return orjson.dumps(value, default=_default, option=option)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits (a valid JSON number): write its digits
        return orjson.dumps(_big_ints(value), default=_default, option=option)


def _big_ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _big_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_big_ints(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1 << 63:
        return orjson.Fragment(str(value))
    return value


def canonical(value: Any) -> bytes:
    """Key-order-independent text that still tells `1.5` from `1.50`: for 'is this content unchanged?'."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_SORT_KEYS)
