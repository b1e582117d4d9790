from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from fhir_service.store.sql_repository import SqlRepository
from tests.store.backends import BACKENDS, make_repository


@pytest.fixture(params=BACKENDS)
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlRepository]:
    yield from make_repository(request.param, tmp_path)
