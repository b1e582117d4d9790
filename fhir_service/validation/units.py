"""UCUM quantities compared across units (minValueQuantity 0 kg against a value in g), through ucumvert's pint
registry. Loaded on first use only (it is slow to build), and shared under a lock."""
from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.Lock()
_registry: Any = None


@functools.lru_cache(maxsize=1024)
def _factor(code: str) -> tuple[float, str] | None:
    """(factor to base units, dimensionality) of a UCUM unit code, or None when it cannot be reduced."""
    global _registry
    try:
        with _lock:
            if _registry is None:
                from ucumvert import PintUcumRegistry

                _registry = PintUcumRegistry()
            base = _registry.from_ucum(code).to_base_units()
        return float(base.magnitude), str(base.dimensionality)
    except Exception:  # noqa: BLE001 - unknown units, annotations, a missing package: not comparable
        return None


def compare(value: float, code: str, limit: float, limit_code: str) -> int | None:
    """-1, 0 or 1 comparing value[code] with limit[limit_code]; None when the units are not comparable."""
    if code == limit_code:
        return (value > limit) - (value < limit)
    a, b = _factor(code), _factor(limit_code)
    if a is None or b is None or a[1] != b[1]:
        return None
    x, y = value * a[0], limit * b[0]
    return (x > y) - (x < y)
