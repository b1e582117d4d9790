"""Shared inputs: the case bundles of bundles/ (read once) and small hand-made Bundles."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
CASE_FILES = sorted(BUNDLES.glob("*.json"))
_CACHE: dict[str, dict[str, Any]] = {}


def case_bundle(name: str) -> dict[str, Any]:
    """A fresh deep copy of bundles/<name>.json (tests may mutate what they get)."""
    if name not in _CACHE:
        _CACHE[name] = json.loads((BUNDLES / f"{name}.json").read_text(encoding="utf-8"))
    return copy.deepcopy(_CACHE[name])


CASE_NAMES = [path.stem for path in CASE_FILES]


# Cases with a timeline (an infusion on Day 0); the cohort case holds only aggregate statistics.
TIMELINE_NAMES = [name for name in CASE_NAMES if "cart-infusion" in (BUNDLES / f"{name}.json").read_text()]


@pytest.fixture(params=CASE_NAMES)
def any_case(request: pytest.FixtureRequest) -> dict[str, Any]:
    return case_bundle(request.param)


@pytest.fixture(params=TIMELINE_NAMES)
def timeline_case(request: pytest.FixtureRequest) -> dict[str, Any]:
    return case_bundle(request.param)


def resources_of(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", [])
            if e.get("resource", {}).get("resourceType") == resource_type]
