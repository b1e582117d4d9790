"""Concurrency: parallel conditional creates make exactly one resource; parallel If-Match updates lose nothing."""
from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from fhir_service.store.repository import SearchQuery
from fhir_service.store.sql_repository import SqlRepository
from tests.store.backends import BACKENDS, PG_URL, postgres_unreachable

THREADS = 8


def test_parallel_conditional_creates_make_exactly_one_resource(repo: SqlRepository) -> None:
    resource = {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "X-1"}]}
    barrier = threading.Barrier(THREADS)
    outcomes: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            stored, created = repo.create(dict(resource), if_none_exist="identifier=urn:mrn|X-1")
            outcomes.append((stored.id, created))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sum(created for _, created in outcomes) == 1
    assert len({id for id, _ in outcomes}) == 1
    found = repo.search(SearchQuery("Patient", [("identifier", "urn:mrn|X-1")], total="accurate"))
    assert found.total == 1


def test_parallel_updates_of_one_resource_make_consecutive_versions(repo: SqlRepository) -> None:
    repo.update({"resourceType": "Patient", "id": "p1"})
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        barrier.wait()
        repo.update({"resourceType": "Patient", "id": "p1", "birthDate": f"200{n}"})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    history, _ = repo.history("Patient", "p1")
    assert sorted(h.version_id for h in history) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_starting_together_create_the_schema_once(backend: str, tmp_path: Path) -> None:
    """gunicorn workers open the same empty database at the same moment: no CREATE TABLE race."""
    if backend == "postgresql":
        if postgres_unreachable():
            pytest.skip(str(postgres_unreachable()))
        url, prefix = PG_URL, f"t{uuid.uuid4().hex[:10]}_"
    else:
        url, prefix = f"sqlite:///{tmp_path / 'fresh.sqlite3'}", ""
    barrier = threading.Barrier(4)
    opened: list[SqlRepository] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            opened.append(SqlRepository(url, prefix=prefix))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert not errors, errors
        assert len(opened) == 4
    finally:
        if opened and prefix:
            opened[0].drop_schema()
        for repo in opened:
            repo.close()


def test_parallel_if_match_updates_lose_nothing(repo: SqlRepository) -> None:
    """Optimistic locking: of writers that all read version 1, exactly one wins with If-Match 1 and the others
    get 412; writers that re-read and retry on 412 all get their change in (no lost update)."""
    from fhir_service.store.repository import PreconditionFailed

    repo.update({"resourceType": "Patient", "id": "p1"})
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def same_version(n: int) -> None:
        barrier.wait()
        try:
            repo.update({"resourceType": "Patient", "id": "p1", "birthDate": f"200{n}"}, if_match=1)
            outcomes.append("ok")
        except PreconditionFailed:
            outcomes.append("412")

    threads = [threading.Thread(target=same_version, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["412", "412", "412", "ok"]

    def append_name(n: int) -> None:
        barrier.wait()
        for _ in range(50):
            current = repo.read("Patient", "p1")
            names = list((current.resource or {}).get("name", []))
            try:
                repo.update({**current.resource, "name": names + [{"family": f"writer{n}"}]},
                            if_match=current.version_id)
                return
            except PreconditionFailed:
                continue
        raise AssertionError(f"writer {n} never got its update in")

    threads = [threading.Thread(target=append_name, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    families = sorted(name["family"] for name in repo.read("Patient", "p1").resource["name"])
    assert families == ["writer0", "writer1", "writer2", "writer3"]
