"""The project's own ViewDefinitions (definitions/*.json) and loading a view given by name or by file.

A view is named on the command line by its file (`my-view.json`), by the stem of one of the project's files
(`lab-values`) or by its `name` (`lab_values`). The project's views read the case timelines: lab values,
drug administrations, toxicity grades, conditions, and the patients they all join to.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from fhir_service.transform.views.sources import read_json_file
from fhir_service.validation.outcome import Issue

DEFINITIONS = Path(__file__).resolve().parent / "definitions"


@lru_cache(maxsize=1)
def project_views() -> dict[str, dict[str, Any]]:
    """stem -> ViewDefinition of every file in definitions/ (read once)."""
    return {path.stem: orjson.loads(path.read_bytes()) for path in sorted(DEFINITIONS.glob("*.json"))}


def find_project_view(name: str) -> dict[str, Any] | None:
    """The project view whose file stem or `name` is `name` (case-insensitive; `-` and `_` alike)."""
    wanted = name.lower().replace("-", "_")
    for stem, view in project_views().items():
        if wanted in (stem.replace("-", "_"), str(view.get("name", "")).lower()):
            return view
    return None


def load_view(spec: str) -> tuple[dict[str, Any] | None, list[Issue]]:
    """The ViewDefinition `spec` names: a JSON file if one exists there, else a project view."""
    path = Path(spec)
    if path.is_file():
        return read_json_file(path)
    view = find_project_view(spec)
    if view is not None:
        return view, []
    known = ", ".join(project_views())
    return None, [Issue("fatal", "not-found", f"no such ViewDefinition file, nor a project view (known: {known})")]
