"""Fixtures for the tests of the `profiles/` package: the package, its resources, the VERIFIED codes."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from fhir_service.definitions import Definitions, FhirPackage
from fhir_service.definitions.registry import CORE_ZIP

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "profiles"
DATA = Path(__file__).resolve().parent / "data"
VERIFIED_COPY = DATA / "verified_codes.csv"
SHARED_CODES = Path("/work/shared/terminology/codes.csv")
CANONICAL = "https://fhir.cart-tox.org"
CART_TOX = CANONICAL + "/CodeSystem/cart-tox"
SD = CANONICAL + "/StructureDefinition/"


def read_verified(path: Path) -> set[tuple[str, str]]:
    with path.open(newline="") as handle:
        return {(r["system"], r["code"]) for r in csv.DictReader(handle) if r["status"] == "VERIFIED" and r["code"]}


@pytest.fixture(scope="session")
def package() -> FhirPackage:
    return FhirPackage(PROFILES)


@pytest.fixture(scope="session")
def profile_definitions(package: FhirPackage) -> Definitions:
    """Core + this package, built here (not the cached default) so the tests see profiles/ as on disk."""
    return Definitions([package, FhirPackage(CORE_ZIP)])


@pytest.fixture(scope="session")
def all_resources(package: FhirPackage) -> list[dict[str, Any]]:
    return [package.load(entry.filename) for entry in package.entries]


@pytest.fixture(scope="session")
def resources(all_resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The canonical resources (those with a url); R4 NamingSystems have none."""
    return [r for r in all_resources if "url" in r]


@pytest.fixture(scope="session")
def by_url(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in resources}


@pytest.fixture(scope="session")
def verified() -> set[tuple[str, str]]:
    return read_verified(VERIFIED_COPY)
