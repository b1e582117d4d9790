"""Shared fixtures: the loaded definitions (core + profiles/) and paths of the test data."""
from __future__ import annotations

from pathlib import Path

import pytest

from fhir_service.definitions import Definitions, default_definitions

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE_DATA = REPO / "tests" / "conformance" / "data"


@pytest.fixture(scope="session")
def definitions() -> Definitions:
    return default_definitions()
