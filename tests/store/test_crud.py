"""Versioned create/read/update/delete on every backend."""
from __future__ import annotations

import pytest

from fhir_service.store.repository import Gone, InvalidResource, NotFound, PreconditionFailed
from fhir_service.store.sql_repository import SqlRepository

PATIENT = {"resourceType": "Patient", "name": [{"family": "Doe"}], "gender": "female"}


def test_create_assigns_id_version_and_last_updated(repo: SqlRepository) -> None:
    stored, created = repo.create(dict(PATIENT))
    assert created and stored.version_id == 1
    assert stored.resource["meta"]["versionId"] == "1"
    assert stored.resource["meta"]["lastUpdated"] == stored.last_updated
    assert repo.read("Patient", stored.id).resource == stored.resource


def test_create_ignores_a_client_id(repo: SqlRepository) -> None:
    stored, _ = repo.create({**PATIENT, "id": "mine"})
    assert stored.id != "mine"


def test_read_of_unknown_resource_is_not_found(repo: SqlRepository) -> None:
    with pytest.raises(NotFound):
        repo.read("Patient", "nope")


def test_update_makes_a_new_version_and_keeps_the_old(repo: SqlRepository) -> None:
    stored, _ = repo.create(dict(PATIENT))
    updated, created = repo.update({**PATIENT, "id": stored.id, "gender": "male"})
    assert not created and updated.version_id == 2
    assert repo.vread("Patient", stored.id, 1).resource["gender"] == "female"
    assert repo.read("Patient", stored.id).resource["gender"] == "male"
    with pytest.raises(NotFound):
        repo.vread("Patient", stored.id, 3)


def test_update_with_identical_content_writes_no_version(repo: SqlRepository) -> None:
    stored, _ = repo.create(dict(PATIENT))
    again, created = repo.update({**stored.resource})
    assert not created and again.version_id == 1


def test_update_as_create_at_client_id(repo: SqlRepository) -> None:
    stored, created = repo.update({**PATIENT, "id": "p1"})
    assert created and stored.id == "p1" and stored.version_id == 1


def test_if_match_mismatch_is_precondition_failed(repo: SqlRepository) -> None:
    repo.update({**PATIENT, "id": "p1"})
    with pytest.raises(PreconditionFailed):
        repo.update({**PATIENT, "id": "p1", "gender": "male"}, if_match=7)
    assert repo.update({**PATIENT, "id": "p1", "gender": "male"}, if_match=1)[0].version_id == 2


def test_delete_then_read_is_gone_and_recreate_continues_versions(repo: SqlRepository) -> None:
    repo.update({**PATIENT, "id": "p1"})
    deleted = repo.delete("Patient", "p1")
    assert deleted is not None and deleted.version_id == 2
    with pytest.raises(Gone):
        repo.read("Patient", "p1")
    assert repo.delete("Patient", "p1") is None  # deleting again changes nothing
    recreated, created = repo.update({**PATIENT, "id": "p1"})
    assert created and recreated.version_id == 3


def test_delete_of_unknown_resource_succeeds_unless_a_version_is_asserted(repo: SqlRepository) -> None:
    """R4 http.html#delete: "Upon successful deletion, or if the resource does not exist at all, the server
    should return ..." a success; with If-Match there is no version that could match."""
    assert repo.delete("Patient", "nope") is None
    with pytest.raises(NotFound):
        repo.delete("Patient", "nope", if_match=1)
    with pytest.raises(NotFound):
        repo.read("Patient", "nope")  # nothing was written by the delete


def test_history_is_newest_first_and_pages_with_a_cursor(repo: SqlRepository) -> None:
    repo.update({**PATIENT, "id": "p1"})
    repo.update({**PATIENT, "id": "p1", "gender": "male"})
    repo.delete("Patient", "p1")
    page, cursor = repo.history("Patient", "p1", count=2)
    assert [(h.version_id, h.method) for h in page] == [(3, "DELETE"), (2, "PUT")]
    rest, end = repo.history("Patient", "p1", count=2, cursor=cursor)
    assert [h.version_id for h in rest] == [1] and end is None
    type_history, _ = repo.history("Patient")
    assert len(type_history) == 3


@pytest.mark.parametrize("resource", [
    {"resourceType": "NotAType"}, {"name": []}, {"resourceType": "Patient", "id": "bad id!"},
])
def test_malformed_resources_are_rejected(repo: SqlRepository, resource: dict) -> None:
    with pytest.raises(InvalidResource):
        repo.update(resource)


def test_atomic_rolls_back_everything_on_failure(repo: SqlRepository) -> None:
    def work(session):  # type: ignore[no-untyped-def]
        session.update({**PATIENT, "id": "p1"})
        session.read("Patient", "missing")

    with pytest.raises(NotFound):
        repo.atomic(work)
    with pytest.raises(NotFound):
        repo.read("Patient", "p1")


def test_decimal_precision_is_kept(repo: SqlRepository) -> None:
    from decimal import Decimal

    from fhir_service.store import fhirjson

    resource = fhirjson.loads('{"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},'
                              ' "valueQuantity": {"value": 1.50}}')
    repo.update(resource)
    stored = repo.read("Observation", "o").resource
    assert b'"value":1.50' in fhirjson.dumps(stored)
    changed, _ = repo.update({**stored, "valueQuantity": {"value": Decimal("1.5")}})
    assert changed.version_id == 2  # 1.5 is not 1.50: a new version


def test_a_referenced_resource_cannot_be_deleted(repo: SqlRepository) -> None:
    from fhir_service.store.repository import Conflict

    repo.update({**PATIENT, "id": "p1"})
    repo.update({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "t"},
                 "subject": {"reference": "Patient/p1"}})
    with pytest.raises(Conflict, match="Observation/o1"):
        repo.delete("Patient", "p1")
    assert repo.read("Patient", "p1").version_id == 1  # nothing happened

    def both(session):  # type: ignore[no-untyped-def]
        session.delete("Patient", "p1")  # first the target, then what references it: fine at commit
        session.delete("Observation", "o1")

    repo.atomic(both)
    with pytest.raises(Gone):
        repo.read("Patient", "p1")


def test_referential_integrity_can_be_switched_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    repo = SqlRepository(f"sqlite:///{tmp_path / 'loose.sqlite3'}", referential_integrity=False)
    repo.update({**PATIENT, "id": "p1"})
    repo.update({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "t"},
                 "subject": {"reference": "Patient/p1"}})
    assert repo.delete("Patient", "p1") is not None
    repo.close()


def test_create_at_an_existing_preassigned_id_is_a_conflict(repo: SqlRepository) -> None:
    from fhir_service.store.repository import Conflict

    repo.create(dict(PATIENT), id="fixed")
    with pytest.raises(Conflict):
        repo.create(dict(PATIENT), id="fixed")
    assert repo.read("Patient", "fixed").version_id == 1


def test_many_creates_in_one_unit_of_work_are_all_searchable_inside_it(repo: SqlRepository) -> None:
    from fhir_service.store.repository import SearchQuery

    def work(session):  # type: ignore[no-untyped-def]
        for n in range(30):
            session.create({**PATIENT, "id": "ignored", "birthDate": f"19{n + 10}"})
        inside = session.search(SearchQuery("Patient", [("birthdate", "lt1925")], total="accurate"))
        session.update({**PATIENT, "id": "late"})
        return inside.total, session.read("Patient", "late").version_id

    assert repo.atomic(work) == (15, 1)
    assert repo.search(SearchQuery("Patient", count=100)).total == 31


def test_indexes_added_later_are_created_on_an_existing_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import inspect

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    SqlRepository(url).close()
    old = SqlRepository(url)
    with old.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_date_high")  # as a database made before that index existed
    old.close()
    reopened = SqlRepository(url)
    assert "ix_date_high" in {i["name"] for i in inspect(reopened.engine).get_indexes("idx_date")}
    reopened.close()


def test_integers_beyond_64_bits_are_stored_as_written(repo: SqlRepository) -> None:
    from fhir_service.store import fhirjson

    repo.update({"resourceType": "Observation", "id": "big", "status": "final", "code": {"text": "t"},
                 "valueQuantity": {"value": 10 ** 30}})
    assert b'"value":1000000000000000000000000000000' in fhirjson.dumps(repo.read("Observation", "big").resource)


def test_a_store_indexed_by_older_rules_is_reindexed_when_opened(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fhir_service.store.repository import SearchQuery

    url = f"sqlite:///{tmp_path / 'old-index.sqlite3'}"
    repo = SqlRepository(url)
    repo.update({**PATIENT, "id": "p1"})
    with repo.engine.begin() as conn:  # as if written by a version that indexed nothing, and said so
        conn.exec_driver_sql("DELETE FROM idx_string")
        conn.exec_driver_sql("UPDATE store_meta SET value = 'old' WHERE key = 'index_version'")
    assert repo.search(SearchQuery("Patient", [("family", "doe")])).matches == []
    repo.close()
    reopened = SqlRepository(url)
    assert [m.id for m in reopened.search(SearchQuery("Patient", [("family", "doe")])).matches] == ["p1"]
    reopened.close()
