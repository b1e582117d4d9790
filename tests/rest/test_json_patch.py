"""RFC 6902 operations, as the patch interaction applies them."""
from __future__ import annotations

import pytest

from fhir_service.rest.json_patch import PatchError, PatchFormatError, apply_patch

DOC = {"resourceType": "Patient", "name": [{"given": ["A", "B"]}], "a~b": 1, "c/d": 2}


@pytest.mark.parametrize("patch,expected", [
    ([{"op": "add", "path": "/name/0/given/1", "value": "X"}], ["A", "X", "B"]),
    ([{"op": "add", "path": "/name/0/given/-", "value": "X"}], ["A", "B", "X"]),
    ([{"op": "remove", "path": "/name/0/given/0"}], ["B"]),
    ([{"op": "replace", "path": "/name/0/given/1", "value": "Y"}], ["A", "Y"]),
    ([{"op": "copy", "from": "/name/0/given/0", "path": "/name/0/given/-"}], ["A", "B", "A"]),
    ([{"op": "move", "from": "/name/0/given/0", "path": "/name/0/given/-"}], ["B", "A"]),
])
def test_operations(patch: list, expected: list) -> None:
    assert apply_patch(DOC, patch)["name"][0]["given"] == expected
    assert DOC["name"][0]["given"] == ["A", "B"]  # the original is untouched


def test_pointer_escapes() -> None:
    result = apply_patch(DOC, [{"op": "remove", "path": "/a~0b"}, {"op": "remove", "path": "/c~1d"}])
    assert "a~b" not in result and "c/d" not in result


@pytest.mark.parametrize("patch", [
    [{"op": "remove", "path": "/missing"}],
    [{"op": "replace", "path": "/name/5", "value": 1}],
    [{"op": "test", "path": "/resourceType", "value": "Observation"}],
    [{"op": "add", "path": "/name/01", "value": 1}],
    [{"op": "move", "from": "/name", "path": "/name/0/x"}],
])
def test_inapplicable_patches(patch: list) -> None:
    with pytest.raises(PatchError):
        apply_patch(DOC, patch)


@pytest.mark.parametrize("patch", [{"op": "add"}, [{"op": "jump", "path": "/x"}], [{"op": "add", "path": "/x"}],
                                   [{"op": "add", "path": "x", "value": 1}], [{"op": "move", "path": "/x"}]])
def test_malformed_patches(patch: object) -> None:
    with pytest.raises(PatchFormatError):
        apply_patch(DOC, patch)
