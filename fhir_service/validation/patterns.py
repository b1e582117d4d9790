"""fixed[x] and pattern[x] semantics over JSON values.

fixed: the instance must equal the value exactly (every element present and equal, nothing extra; extensions and
ids of the instance aside). pattern: every element the pattern has must be present in the instance with the same
value; the instance may have more; a repeating element matches when each pattern item matches some instance item.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

IGNORED_IN_FIXED = ("id", "extension")


def equal(a: Any, b: Any) -> bool:
    """Primitive equality with JSON numbers compared by value (1 == 1.0, Decimal == float)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


def fixed_matches(value: Any, fixed: Any) -> bool:
    if isinstance(fixed, dict):
        if not isinstance(value, dict):
            return False
        keys = {k for k in value if k not in IGNORED_IN_FIXED and not k.startswith("_")}
        fixed_keys = {k for k in fixed if not k.startswith("_")}
        if keys != fixed_keys - set(IGNORED_IN_FIXED) and keys != fixed_keys:
            return False
        return all(fixed_matches(value.get(k), fixed[k]) for k in fixed_keys if k not in IGNORED_IN_FIXED)
    if isinstance(fixed, list):
        if not isinstance(value, list) or len(value) != len(fixed):
            return False
        return all(fixed_matches(v, f) for v, f in zip(value, fixed))
    return equal(value, fixed)


def pattern_matches(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(pattern_matches(value.get(k), v) for k, v in pattern.items() if not k.startswith("_"))
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else ([value] if value is not None else [])
        return all(any(pattern_matches(item, p) for item in items) for p in pattern)
    if isinstance(value, list):
        return any(equal(item, pattern) for item in value)
    return equal(value, pattern)


def show(value: Any) -> str:
    text = json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= 200 else text[:197] + "..."
