from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from fhir_service.rest import FhirRest, Response
from fhir_service.store.sql_repository import SqlRepository
from tests.store.backends import BACKENDS, make_repository

BASE = "http://test/fhir"
JSON_HEADERS = {"Content-Type": "application/fhir+json"}


class Client:
    """Drives the REST core like an HTTP client would, without HTTP."""

    def __init__(self, rest: FhirRest) -> None:
        self.rest = rest

    def __call__(self, method: str, path: str, body: Any = None, query: str = "",
                 headers: dict[str, str] | None = None) -> Response:
        if "?" in path:
            path, query = path.split("?", 1)
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        all_headers = {**(JSON_HEADERS if body is not None else {}), **(headers or {})}
        return self.rest.handle(method, path, query, all_headers, data or b"", base=BASE)


@pytest.fixture(params=BACKENDS)
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlRepository]:
    yield from make_repository(request.param, tmp_path)


@pytest.fixture
def client(repo: SqlRepository) -> Client:
    return Client(FhirRest(repo))
