"""Reading the top level of a FHIRPath expression without parsing it: which characters stand outside string
literals and parentheses. Shared by the union splitter and the fast-path chain reader of the store."""
from __future__ import annotations

from typing import Iterator

QUOTES = "'\"`"


def top_level(expression: str) -> Iterator[tuple[str, bool]]:
    """Each character with whether it stands at the top level (depth 0, outside a string or delimited
    identifier; a backslash escapes the next character inside one). A ")" without its "(" makes the rest
    not top level, so callers can tell an unbalanced expression by the final depth (`depth_after`)."""
    depth, quote, escaped = 0, None, False
    for ch in expression:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            yield ch, False
            continue
        if ch in QUOTES:
            quote = ch
            yield ch, False
        elif ch == "(":
            depth += 1
            yield ch, False
        elif ch == ")":
            depth -= 1
            yield ch, False
        else:
            yield ch, depth == 0


def depth_after(expression: str) -> int:
    """Parenthesis depth at the end of `expression` (0 when balanced), ignoring those inside strings."""
    depth, quote, escaped = 0, None, False
    for ch in expression:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in QUOTES:
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
    return depth
