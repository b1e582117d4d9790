"""Stores for the bulk tests: real SQLite files in tmp, and PostgreSQL (unique table prefix) when reachable.

`loaded_export` loads the case bundles (bundles/*.json) through the server's loader into a source store once
per module and backend, and exports it; tests read it and import into fresh stores of their own.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from fhir_service.rest import FhirRest
from fhir_service.rest.loader import load_file
from fhir_service.store.repository import SearchQuery
from fhir_service.transform.bulk import Manifest, export_store
from tests.store.backends import BACKENDS, make_repository
from tests.transform.conftest import CASE_FILES

_counter = itertools.count()


def all_current(repo: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Every current resource of a store by (type, id), through keyset paging."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    cursor = None
    while True:
        page = repo.search(SearchQuery(resource_type=None, count=1000, cursor=cursor))
        out.update({(m.resource_type, m.id): m.resource for m in page.matches})
        cursor = page.next_cursor
        if not cursor:
            return out


def without_version_meta(resource: dict[str, Any]) -> dict[str, Any]:
    copy = dict(resource)
    meta = {k: v for k, v in (copy.pop("meta", None) or {}).items() if k not in ("versionId", "lastUpdated")}
    if meta:
        copy["meta"] = meta
    return copy


def load_cases(repo: Any) -> None:
    rest = FhirRest(repo)
    for path in CASE_FILES:
        result = load_file(rest, path)
        assert result.ok, result.outcome


@dataclass
class LoadedExport:
    repo: Any
    folder: Path
    manifest: Manifest


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


StoreFactory = Callable[[], Any]


@pytest.fixture
def new_store(backend: str, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of empty stores on the test's backend (each its own SQLite file or PostgreSQL prefix)."""
    made: list[Iterator[Any]] = []

    def make() -> Any:
        folder = tmp_path / f"store{next(_counter)}"
        folder.mkdir()
        generator = make_repository(backend, folder)
        made.append(generator)
        return next(generator)

    yield make
    for generator in made:
        next(generator, None)  # runs the clean-up after the generator's yield


@pytest.fixture(scope="module", params=BACKENDS)
def loaded_export(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedExport]:
    root = tmp_path_factory.mktemp("loaded")
    generator = make_repository(str(request.param), root)
    repo = next(generator)
    load_cases(repo)
    folder = root / "export"
    manifest = export_store(repo, folder)
    yield LoadedExport(repo, folder, manifest)
    next(generator, None)
