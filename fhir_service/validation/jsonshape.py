"""Reading JSON of unknown shape defensively: the validator reads content before knowing that it is well-formed."""
from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else an empty list (its wrong shape is reported by the structure checks)."""
    return value if isinstance(value, list) else []


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array (other items skipped)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
