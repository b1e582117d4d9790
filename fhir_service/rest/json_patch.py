"""JSON Patch (RFC 6902) for the FHIR `patch` interaction with `application/json-patch+json`.

Operations add, remove, replace, move, copy and test on JSON Pointers (RFC 6901). A patch applies to a copy,
all or nothing; a bad pointer or a failed `test` raises PatchError (HTTP 422 per FHIR: the patch is well
formed but cannot be applied to this resource), a malformed patch document is a PatchFormatError (400).

A patch is request input, so its cost is bounded: at most MAX_OPERATIONS operations, and a running estimate
of the document's serialised size and depth is kept while it is patched. `copy` of a container into itself
doubles the document at each step (twenty 70-byte operations reach megabytes, thirty gigabytes), so the
estimate is checked *before* a value is copied and a PatchTooLarge (a PatchError: 422) ends the patch.
"""
from __future__ import annotations

import copy
from typing import Any

OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")
MAX_OPERATIONS = 1000
DEFAULT_MAX_BYTES = 16 * 1024 * 1024  # the server's default request body limit (RestConfig.max_body_bytes)
MAX_DEPTH = 128  # as store.fhirjson.MAX_DEPTH: what the server would accept in a request body


class PatchFormatError(ValueError):
    """Not a JSON Patch document."""


class PatchError(ValueError):
    """A JSON Patch that cannot be applied to this document."""


class PatchTooLarge(PatchError):
    """Applying the patch would build a document larger (or deeper) than the server accepts."""


def _measure(value: Any) -> tuple[int, int]:
    """(approximate JSON size in bytes, nesting depth) of `value`, without recursion and without
    serialising (so it never fails on content the writer would refuse, e.g. lone surrogates)."""
    size, depth = 0, 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            depth = max(depth, level)
            size += 2 + sum(len(key) + 4 for key in item)
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            depth = max(depth, level)
            size += 2 + len(item)
            stack.extend((child, level + 1) for child in item)
        elif isinstance(item, str):
            size += len(item) + 2
        else:
            size += len(str(item))
    return size, depth


def _tokens(pointer: Any) -> list[str]:
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise PatchFormatError(f"{pointer!r} is not a JSON Pointer")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _parent(document: Any, tokens: list[str]) -> tuple[Any, str]:
    node = document
    for token in tokens[:-1]:
        node = _child(node, token)
    return node, tokens[-1]


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise PatchError(f"no member {token!r}")
        return node[token]
    if isinstance(node, list):
        index = _index(node, token, allow_end=False)
        return node[index]
    raise PatchError(f"cannot descend into a {type(node).__name__} with {token!r}")


def _index(node: list[Any], token: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(node)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"{token!r} is not an array index")
    index = int(token)
    if index > len(node) or (index == len(node) and not allow_end):
        raise PatchError(f"index {index} is out of range")
    return index


def _get(document: Any, pointer: Any) -> Any:
    node = document
    for token in _tokens(pointer):
        node = _child(node, token)
    return node


def _add(document: Any, pointer: Any, value: Any) -> Any:
    tokens = _tokens(pointer)
    if not tokens:
        return value
    parent, last = _parent(document, tokens)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise PatchError(f"cannot add to a {type(parent).__name__}")
    return document


def _remove(document: Any, pointer: Any) -> tuple[Any, Any]:
    tokens = _tokens(pointer)
    if not tokens:
        raise PatchError("cannot remove the whole resource")
    parent, last = _parent(document, tokens)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"no member {last!r} to remove")
        return document, parent.pop(last)
    if isinstance(parent, list):
        return document, parent.pop(_index(parent, last, allow_end=False))
    raise PatchError(f"cannot remove from a {type(parent).__name__}")


def apply_patch(document: dict[str, Any], patch: Any, *, max_bytes: int = DEFAULT_MAX_BYTES,
                max_operations: int = MAX_OPERATIONS) -> dict[str, Any]:
    """The patched copy of `document`; PatchTooLarge once the patch has more than `max_operations`
    operations or the document would exceed about `max_bytes` of JSON or MAX_DEPTH levels."""
    if not isinstance(patch, list):
        raise PatchFormatError("a JSON Patch document is an array of operations")
    if len(patch) > max_operations:
        raise PatchTooLarge(f"a patch may have at most {max_operations} operations ({len(patch)} given)")
    size = _measure(document)[0]
    result: Any = copy.deepcopy(document)

    def grown(path: str, value: Any, new: bool = True) -> Any:
        """`value` (a copy when `new`) after checking that inserting it at `path` keeps the document within
        bounds. Removals are not subtracted: the bound is on everything the patch writes, which is linear."""
        nonlocal size
        added, depth = _measure(value)
        size += added if new else 0
        if size > max_bytes:
            raise PatchTooLarge(f"the patched resource would exceed {max_bytes} bytes")
        if len(_tokens(path)) + depth > MAX_DEPTH:
            raise PatchTooLarge(f"the patched resource would nest more than {MAX_DEPTH} levels deep")
        return copy.deepcopy(value) if new else value

    for number, operation in enumerate(patch):
        if not isinstance(operation, dict) or operation.get("op") not in OPERATIONS or "path" not in operation:
            raise PatchFormatError(f"operation {number} needs op ({', '.join(OPERATIONS)}) and path")
        op, path = operation["op"], operation["path"]
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchFormatError(f"operation {number} ({op}) needs a value")
        if op in ("move", "copy") and "from" not in operation:
            raise PatchFormatError(f"operation {number} ({op}) needs from")
        try:
            if op == "add":
                result = _add(result, path, grown(path, operation["value"]))
            elif op == "remove":
                result, _ = _remove(result, path)
            elif op == "replace":
                _get(result, path)  # must exist
                result, _ = _remove(result, path) if _tokens(path) else (result, None)
                result = _add(result, path, grown(path, operation["value"]))
            elif op == "move":
                if path.startswith(operation["from"] + "/"):
                    raise PatchError("cannot move a value into itself")
                result, value = _remove(result, operation["from"])
                result = _add(result, path, grown(path, value, new=False))
            elif op == "copy":
                result = _add(result, path, grown(path, _get(result, operation["from"])))
            elif op == "test":
                if _get(result, path) != operation["value"]:
                    raise PatchError(f"test failed at {path}")
        except PatchTooLarge as exc:
            raise PatchTooLarge(f"operation {number} ({op} {path}): {exc}") from None
        except PatchError as exc:
            raise PatchError(f"operation {number} ({op} {path}): {exc}") from None
    if not isinstance(result, dict):
        raise PatchError("the patch does not leave a resource")
    return result
