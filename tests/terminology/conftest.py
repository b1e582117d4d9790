"""Fixtures: the shared Terminology over core + profiles, and a private one with the test's own resources."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from fhir_service.definitions import Definitions
from fhir_service.terminology import Terminology, terminology_for


@pytest.fixture(scope="session")
def terminology(definitions: Definitions) -> Terminology:
    return terminology_for(definitions)


@pytest.fixture
def local_terminology(definitions: Definitions) -> Callable[..., Terminology]:
    """A Terminology over a copy of the definitions with extra (loose) CodeSystems/ValueSets added."""
    def build(*resources: dict[str, Any]) -> Terminology:
        clone = definitions.copy()
        for resource in resources:
            clone.add(resource)
        return terminology_for(clone)
    return build
