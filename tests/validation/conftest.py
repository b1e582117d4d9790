"""Fixtures for the validation specification tests."""
from __future__ import annotations

import pytest

from fhir_service.definitions import default_definitions
from fhir_service.validation import Validator


@pytest.fixture(scope="session")
def validator() -> Validator:
    return Validator(default_definitions())
