"""The package's SearchParameters work in the project's store: resources are found by day relative to
infusion, by grade and by grading system (in-memory SQLite)."""
from __future__ import annotations

from typing import Any

import pytest

from fhir_service.definitions import Definitions
from fhir_service.store.sql_repository import SqlRepository
from tests.profiles import samples as s


@pytest.fixture(scope="module")
def repo(profile_definitions: Definitions) -> Any:
    repository = SqlRepository("sqlite://", definitions=profile_definitions)
    grade4 = s.grade_observation(4)
    grade4.update(id="g2", extension=[s.day(6), s.grading("lee-2014")], effectiveDateTime="2023-01-07")
    for resource in (s.grade_observation(2), grade4, s.lab(), s.crs(), s.icans(), s.treatment(), s.infusion(),
                     s.patient()):
        repository.update(resource)
    yield repository
    repository.close()


def ids(repo: Any, resource_type: str, query: str) -> list[str]:
    return sorted(found.resource["id"] for found in repo.find(resource_type, query))


def test_grade_is_searchable_as_a_number(repo: Any) -> None:
    assert ids(repo, "Observation", "grade=ge3") == ["g2"]
    assert ids(repo, "Observation", "grade=2") == ["g1"]
    assert ids(repo, "Observation", "grade=gt4") == []


def test_relative_day_is_searchable_on_every_dated_type(repo: Any) -> None:
    assert ids(repo, "Observation", "relative-day=le3") == ["ferritin", "g1"]
    assert ids(repo, "Observation", "relative-day=ge4&relative-day=le7") == ["g2"]
    assert ids(repo, "Condition", "relative-day=2") == ["crs1"]
    assert ids(repo, "MedicationAdministration", "relative-day=0") == ["inf"]


def test_relative_day_end_finds_the_day_on_the_abatement(repo: Any) -> None:
    assert ids(repo, "Condition", "relative-day-end=4") == ["crs1"]
    assert ids(repo, "Condition", "relative-day-end=lt4") == []


def test_grading_system_and_source_publication(repo: Any) -> None:
    cart_tox = s.CART_TOX
    assert ids(repo, "Observation", f"grading-system={cart_tox}|lee-2014") == ["g2"]
    assert ids(repo, "Condition", f"grading-system={cart_tox}|astct-2019") == ["crs1", "icans1"]
    assert ids(repo, "Patient", f"source-publication={s.DOI}") == ["p1"]
