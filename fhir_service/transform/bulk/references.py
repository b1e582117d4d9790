"""Literal references a resource makes to other resources of the same server (`Type/id[/_history/n]`).

The import writes every line first and checks these afterwards, so the order of files and lines does not
matter: an Observation may come before the Patient it points to. Contained (`#x`), absolute (`http...`)
and `urn:` references are not targets in this store and are not checked.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

_RELATIVE_RE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


def local_references(value: Any, known_types: frozenset[str]) -> Iterator[tuple[str, str]]:
    """(type, id) of every relative literal reference anywhere in `value` (contained resources included)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            reference = item.get("reference")
            if isinstance(reference, str):
                match = _RELATIVE_RE.match(reference)
                if match and match.group(1) in known_types:
                    yield match.group(1), match.group(2)
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))
