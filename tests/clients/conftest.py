"""A real server on loopback for third-party FHIR clients: the Flask app over a fresh SQLite file, preloaded
with bundles/*.json through the project's loader (the path `fhir-service load` and `serve` take)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import pytest

from fhir_service.rest import FhirRest
from fhir_service.rest.loader import load_file
from fhir_service.store.sql_repository import SqlRepository
from fhir_service.web import create_app
from fhir_service.web.server import LoopbackServer
from tests.clients import published


def serve_cases(folder: Path) -> Iterator[str]:
    """Yields the FHIR base URL of a loopback server holding the case bundles; stops it afterwards."""
    repo = SqlRepository(f"sqlite:///{folder / 'fhir.sqlite3'}")
    rest = FhirRest(repo)
    failures = [r.summary() for r in (load_file(rest, p) for p in published.bundle_files()) if not r.ok]
    assert not failures, f"the case bundles did not load: {failures}"
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request in test output
    try:
        with LoopbackServer(create_app(repo)) as server:
            yield server.base_url
    finally:
        repo.close()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One preloaded server per test module (read-only tests share it; write tests get their own module)."""
    yield from serve_cases(tmp_path_factory.mktemp("clients"))
