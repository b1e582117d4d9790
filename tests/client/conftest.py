"""Fixtures for the client tests: a client that never really sleeps (the waits it asked for are recorded),
and a REAL server on loopback (the Flask app over a fresh, empty SQLite file in tmp_path, werkzeug on
127.0.0.1 port 0 in a thread) for the round trips."""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from fhir_service.client import FhirClient
from fhir_service.store import fhirjson

BASE = "https://ehr.example.org/fhir"
BUNDLES_DIR = Path(__file__).resolve().parents[2] / "bundles"
NOW = dt.datetime(2026, 1, 15, 12, 0, 0, tzinfo=dt.timezone.utc)


class Sleeper:
    """Stands in for time.sleep: records each wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeper() -> Sleeper:
    return Sleeper()


@pytest.fixture
def make_client(sleeper: Sleeper) -> Callable[..., FhirClient]:
    def make(**options: Any) -> FhirClient:
        options.setdefault("sleep", sleeper)
        options.setdefault("clock", lambda: NOW)
        return FhirClient(options.pop("base_url", BASE), **options)
    return make


def outcome(diagnostics: str, code: str = "processing", expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def bundle_files() -> list[Path]:
    return sorted(BUNDLES_DIR.glob("*.json"))


def load_bundle(path: Path) -> dict[str, Any]:
    return fhirjson.loads(path.read_bytes())


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """Base URL of a real, empty FHIR server on loopback; stopped and its database closed afterwards."""
    from fhir_service.store.sql_repository import SqlRepository
    from fhir_service.web import create_app
    from fhir_service.web.server import LoopbackServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    repo = SqlRepository(f"sqlite:///{tmp_path / 'fhir.sqlite3'}")
    try:
        with LoopbackServer(create_app(repo)) as server:
            yield server.base_url
    finally:
        repo.close()
