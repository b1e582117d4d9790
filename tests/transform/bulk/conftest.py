"""Stores for the bulk tests: real SQLite files in tmp, and PostgreSQL (unique table prefix) when reachable
(else those tests skip, naming the reason). PG_URL and the reachability check are the store tests' own.

`loaded_export` loads the case bundles (bundles/*.json) through the server's loader into a source store once
per module and backend, and exports it; tests read it and import into fresh stores of their own.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from fhir_service.rest import FhirRest
from fhir_service.rest.loader import load_file
from fhir_service.store.repository import SearchQuery
from fhir_service.transform.bulk import Manifest, export_store
from fhir_service.store.sql_repository import SqlRepository
from tests.store.backends import BACKENDS, PG_URL, postgres_unreachable

CASE_FILES = sorted((Path(__file__).resolve().parents[3] / "bundles").glob("*.json"))


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
    """The case bundles through the server's loader (collections entry by entry, PUT at their ids)."""
    assert CASE_FILES, "bundles/*.json: no case bundles to load"
    rest = FhirRest(repo)
    for path in CASE_FILES:
        result = load_file(rest, path)
        assert result.ok, result.outcome


@dataclass
class LoadedExport:
    repo: Any
    folder: Path
    manifest: Manifest


def _new_pg_repository() -> SqlRepository:
    return SqlRepository(PG_URL, prefix=f"bulk{uuid.uuid4().hex[:10]}_")


_PG_POOL: list[SqlRepository] = []  # PostgreSQL stores reused across tests (creating tables costs ~0.1 s each)


def _pg_store(index: int) -> SqlRepository:
    """The index-th pooled PostgreSQL store of this run, emptied."""
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    while len(_PG_POOL) <= index:
        _PG_POOL.append(_new_pg_repository())
    repo = _PG_POOL[index]
    if hasattr(repo, "expunge_all"):
        repo.expunge_all()
    else:  # an older store without an administrative reset: fresh tables instead
        repo.drop_schema()
        repo = _PG_POOL[index] = _new_pg_repository()
    return repo


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_pool() -> Iterator[None]:
    yield
    while _PG_POOL:
        _PG_POOL.pop().drop_schema()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


StoreFactory = Callable[[], Any]


@pytest.fixture
def new_store(backend: str, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of empty stores on the test's backend: SQLite files in tmp, or PostgreSQL tables under
    their own prefix (unique per run, so other engineers' data in the shared database is left alone)."""
    made: list[SqlRepository] = []

    def make() -> SqlRepository:
        if backend == "postgresql":
            repo = _pg_store(len(made))
        else:
            repo = SqlRepository(f"sqlite:///{tmp_path / f'store{len(made)}.sqlite3'}")
        made.append(repo)
        return repo

    yield make
    if backend == "sqlite":
        for repo in made:
            repo.close()


@pytest.fixture(scope="module", params=BACKENDS)
def loaded_export(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedExport]:
    """The case bundles loaded into a store of its own (kept for the module), and exported."""
    yield from _loaded_export(str(request.param), tmp_path_factory)


@pytest.fixture(scope="module")
def case_export(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedExport]:
    """The case bundles exported from a SQLite store: the input of import tests (which import it into a
    store of each backend; exporting from each backend is what `loaded_export` tests)."""
    yield from _loaded_export("sqlite", tmp_path_factory)


def _loaded_export(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedExport]:
    root = tmp_path_factory.mktemp("loaded")
    if backend == "postgresql":
        reason = postgres_unreachable()
        if reason:
            pytest.skip(reason)
        repo = _new_pg_repository()
    else:
        repo = SqlRepository(f"sqlite:///{root / 'source.sqlite3'}")
    try:
        load_cases(repo)
        folder = root / "export"
        yield LoadedExport(repo, folder, export_store(repo, folder))
    finally:
        if backend == "postgresql":
            repo.drop_schema()
        else:
            repo.close()
