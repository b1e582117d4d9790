"""Repositories to run the same tests against: SQLite (a file in tmp) and PostgreSQL when reachable.

PostgreSQL tests use a unique table prefix per repository and drop their tables afterwards, so parallel
runs and other engineers' data in the shared `test` database are left alone.
"""
from __future__ import annotations

import atexit
import functools
import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from fhir_service.store.sql_repository import SqlRepository

PG_URL = os.environ.get("FHIR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


@functools.lru_cache(maxsize=1)
def postgres_unreachable() -> str | None:
    """None when PostgreSQL answers `select 1`, else the reason (shown in the skip message)."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # driver missing, refused, auth ...
        return f"PostgreSQL at {PG_URL} not reachable: {type(exc).__name__}: {str(exc).splitlines()[0]}"


_shared_pg: list[SqlRepository] = []


def _postgres_repository() -> SqlRepository:
    """One PostgreSQL repository (own table prefix) per test run, emptied before each test: creating
    tables per test costs more than the tests. Its tables are dropped when the run ends."""
    if not _shared_pg:
        repo = SqlRepository(PG_URL, prefix=f"t{uuid.uuid4().hex[:10]}_")
        atexit.register(repo.drop_schema)
        _shared_pg.append(repo)
    repo = _shared_pg[0]
    repo.expunge_all()
    return repo


def make_repository(backend: str, tmp_path: Path) -> Iterator[SqlRepository]:
    if backend == "sqlite":
        repo = SqlRepository(f"sqlite:///{tmp_path / 'fhir.sqlite3'}")
        yield repo
        repo.close()
        return
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    yield _postgres_repository()
