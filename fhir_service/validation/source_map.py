"""Where each JSON property and value sits in the input text: JSON location tuples -> (line, column).

Why not a full map built up front: a 50 MB Bundle holds millions of values, and a dict of millions of tuple keys
costs far more memory than the parsed resource itself. What people need are the positions of the few elements
that have issues. So a `SourceMap` keeps the text and answers a batch of locations with one linear, iterative
scan of the tokens (a regex tokenizer, no recursion, so 10,000-deep nesting is no problem) that follows only the
branches of a trie of the wanted locations. The first scan, at construction, finds what the parsed value cannot
show any more: duplicate keys in an object (orjson keeps the last one silently; FHIR JSON forbids them).
Small texts (up to FULL_MAP_LIMIT characters) are mapped completely on the first lookup instead, so that callers
that look issues up one at a time (the HTTP server) pay for one scan, not one per issue.

Positions are 1-based characters, like the HL7 Java validator: the column of a property's name (its opening
quote) for a key of an object, the column of the value for an array item and for the root. A location that does
not exist in the text (a missing required element, a slice that should be there) reports at its nearest
existing ancestor.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable

Location = tuple[str | int, ...]

# One JSON token: a string (unrolled loop, linear on long strings), a structural character, or a bare literal
# (number, true, false, null). Whitespace between tokens is skipped by finditer.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')

_OBJECT, _ARRAY = 0, 1


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    """A key that occurs twice in one object: `location` is the key's, `line`/`col` its second occurrence."""

    location: Location
    line: int
    col: int


def _key_text(token: str) -> str:
    inner = token[1:-1]
    return json.loads(token) if "\\" in inner else inner


class _Trie:
    """Wanted locations as nested dicts; the key `None` marks a wanted node."""

    __slots__ = ("root",)

    def __init__(self, locations: Iterable[Location]) -> None:
        self.root: dict = {}
        for location in locations:
            node = self.root
            for part in location:
                node = node.setdefault(part, {})
            node[None] = True


class _Everything(dict):
    """A trie node that wants every location below it (used to map a small text completely)."""

    def get(self, key, default=None):  # type: ignore[no-untyped-def, override]
        return self

    def __contains__(self, key: object) -> bool:
        return True


class _AllTrie:
    root = _Everything()


# Texts up to this many characters are mapped completely on the first lookup, so that looking issues up one at a
# time stays cheap; larger texts are scanned for the wanted locations only (memory stays proportional to them).
FULL_MAP_LIMIT = 2_000_000


class SourceMap:
    """Positions of properties and values in one JSON text (see the module docstring for why it is lazy)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._cache: dict[Location, tuple[int, int]] = {}
        self._full: dict[Location, tuple[int, int]] | None = None
        self.duplicates: list[DuplicateKey] = []
        self.max_depth = 0
        self._scan_duplicates()

    # -- the construction scan: duplicate keys, depth --------------------------------------------------------
    def _scan_duplicates(self) -> None:
        text = self.text
        kinds: list[int] = []  # open containers, innermost last
        seen: list[set[str] | None] = []  # keys seen in each open object
        path: list[str | int] = []  # keys and indexes down to the current value
        expect_key = False
        found: list[tuple[Location, int]] = []
        max_depth = 0
        for match in _TOKEN.finditer(text):
            start = match.start()
            char = text[start]
            if char == "{":
                kinds.append(_OBJECT)
                seen.append(set())
                if len(kinds) > max_depth:
                    max_depth = len(kinds)
                expect_key = True
                continue
            if char == "[":
                kinds.append(_ARRAY)
                seen.append(None)
                path.append(0)
                if len(kinds) > max_depth:
                    max_depth = len(kinds)
                expect_key = False
                continue
            if char == ",":
                if kinds:
                    if kinds[-1] == _OBJECT:
                        expect_key = True
                    else:
                        path[-1] += 1  # type: ignore[operator]
                continue
            if char == ":":
                continue
            if expect_key:
                key = _key_text(match.group())
                keys = seen[-1]
                if keys is not None:
                    if key in keys:
                        found.append(((*path, key), start))
                    keys.add(key)
                path.append(key)
                expect_key = False
                continue
            if char == "}" or char == "]":
                if not kinds:
                    continue
                kinds.pop()
                seen.pop()
                if char == "]":
                    path.pop()
            # a value just ended (scalar or container): leave the property it was the value of
            if kinds and kinds[-1] == _OBJECT:
                path.pop()
        self.max_depth = max_depth
        positions = self._offsets_to_positions(sorted(offset for _, offset in found))
        self.duplicates = [DuplicateKey(loc, *positions[offset]) for loc, offset in found]

    # -- lookups ---------------------------------------------------------------------------------------------
    def lookup(self, location: Location) -> tuple[int, int] | None:
        """(line, col) of `location`, or of its nearest ancestor that exists in the text."""
        location = tuple(location)
        if location not in self._cache:
            self.resolve([location])
        return self._cache.get(location)

    def resolve(self, locations: Iterable[Location]) -> dict[Location, tuple[int, int]]:
        """Positions of many locations with one scan of the text (each falls back to its nearest ancestor)."""
        wanted = [tuple(loc) for loc in locations]
        missing = [loc for loc in wanted if loc not in self._cache]
        if missing:
            if self._full is None and len(self.text) <= FULL_MAP_LIMIT:
                self._full = self._scan_for(_AllTrie())  # type: ignore[arg-type]
            if self._full is not None:
                exact = self._full
            else:
                exact = self._scan_for(_Trie({loc[:cut] for loc in missing for cut in range(len(loc) + 1)}))
            for loc in missing:
                for cut in range(len(loc), -1, -1):
                    hit = exact.get(loc[:cut])
                    if hit is not None:
                        self._cache[loc] = hit
                        break
        return {loc: self._cache[loc] for loc in wanted if loc in self._cache}

    def _scan_for(self, trie: _Trie) -> dict[Location, tuple[int, int]]:
        """One pass over the tokens, following only the trie's branches; returns exact positions found."""
        text = self.text
        hits: dict[Location, int] = {}
        kinds: list[int] = []
        nodes: list[dict | None] = []  # trie node of each open container (None: nothing wanted below it)
        path: list[str | int] = []
        expect_key = False
        value_node: dict | None = trie.root  # trie node of the value about to start
        at_value_start = True  # the next value is located at its own start (root, array item)
        for match in _TOKEN.finditer(text):
            start = match.start()
            char = text[start]
            if char == "{" or char == "[":
                node = value_node
                if at_value_start and node is not None and None in node:
                    hits[tuple(path)] = start
                nodes.append(node)
                if char == "{":
                    kinds.append(_OBJECT)
                    expect_key = True
                else:
                    kinds.append(_ARRAY)
                    path.append(0)
                    value_node = node.get(0) if node is not None else None
                    at_value_start = True
                continue
            if char == ",":
                if kinds:
                    if kinds[-1] == _OBJECT:
                        expect_key = True
                    else:
                        index = path[-1] + 1  # type: ignore[operator]
                        path[-1] = index
                        parent = nodes[-1]
                        value_node = parent.get(index) if parent is not None else None
                        at_value_start = True
                continue
            if char == ":":
                continue
            if expect_key:
                parent = nodes[-1]
                if parent is not None:
                    key = _key_text(match.group())
                    node = parent.get(key)
                    path.append(key)
                    if node is not None and None in node:
                        hits[tuple(path)] = start
                else:
                    node = None
                    path.append("")
                value_node = node
                at_value_start = False  # a property is located at its name
                expect_key = False
                continue
            if char == "}" or char == "]":
                if not kinds:
                    continue
                kinds.pop()
                nodes.pop()
                if char == "]":
                    path.pop()
            elif at_value_start and value_node is not None and None in value_node:
                hits[tuple(path)] = start  # a scalar array item (or root)
            if kinds and kinds[-1] == _OBJECT:
                path.pop()
        positions = self._offsets_to_positions(sorted(set(hits.values())))
        return {loc: positions[offset] for loc, offset in hits.items()}

    def _offsets_to_positions(self, offsets: list[int]) -> dict[int, tuple[int, int]]:
        """1-based (line, col) of sorted character offsets, counting newlines between them (C-speed)."""
        text = self.text
        result: dict[int, tuple[int, int]] = {}
        line, previous = 1, 0
        for offset in offsets:
            line += text.count("\n", previous, offset)
            previous = offset
            result[offset] = (line, offset - (text.rfind("\n", 0, offset) + 1) + 1)
        return result


def position_of_offset(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, col) of one character offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class PositionMap:
    """The same lookups over positions already known (the XML reader records every element's line/col)."""

    def __init__(self, positions: dict[Location, tuple[int, int]]) -> None:
        self.positions = positions
        self.duplicates: list[DuplicateKey] = []

    def lookup(self, location: Location) -> tuple[int, int] | None:
        location = tuple(location)
        for cut in range(len(location), -1, -1):
            hit = self.positions.get(location[:cut])
            if hit is not None:
                return hit
        return None

    def resolve(self, locations: Iterable[Location]) -> dict[Location, tuple[int, int]]:
        result = {}
        for location in locations:
            hit = self.lookup(location)
            if hit is not None:
                result[tuple(location)] = hit
        return result


def expression_of(location: Location, root: str) -> str:
    """A FHIRPath-style expression for a JSON location: ('name', 0, 'given') -> `Patient.name[0].given`."""
    parts = [root]
    for part in location:
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
        else:
            parts.append(part[1:] if part.startswith("_") and len(part) > 1 else part)
    return ".".join(parts)
