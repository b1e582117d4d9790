"""Writes are buffered per unit of work (one statement per table at flush) and what was written is not
read again: these rules say what must still hold, whatever order reads and writes come in."""
from __future__ import annotations

from fhir_service.store.repository import CREATED, UNCHANGED, UPDATED, SearchQuery, UpdateResult
from fhir_service.store.sql_repository import SqlRepository

PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe"}], "gender": "female"}


def test_update_says_created_updated_or_unchanged(repo: SqlRepository) -> None:
    first = repo.update(dict(PATIENT))
    assert isinstance(first, UpdateResult) and first.outcome == CREATED and first.created
    same = repo.update(dict(PATIENT))
    assert same.outcome == UNCHANGED and same.stored.version_id == 1
    changed = repo.update({**PATIENT, "gender": "male"})
    assert changed.outcome == UPDATED and changed.stored.version_id == 2 and not changed.created
    stored, created = repo.update({**PATIENT, "gender": "male"})  # still the (stored, created) pair
    assert (stored.version_id, created) == (2, False)


def test_reordered_keys_and_new_meta_stamps_are_still_unchanged(repo: SqlRepository) -> None:
    repo.update(dict(PATIENT))
    reordered = {"gender": "female", "name": [{"family": "Doe"}], "id": "p1", "resourceType": "Patient",
                 "meta": {"versionId": "7", "lastUpdated": "2001-01-01T00:00:00Z"}}
    assert repo.update(reordered).outcome == UNCHANGED
    assert repo.update({**PATIENT, "meta": {"tag": [{"code": "t"}]}}).outcome == UPDATED


def test_a_deleted_resource_put_again_is_created(repo: SqlRepository) -> None:
    repo.update(dict(PATIENT))
    repo.delete("Patient", "p1")
    again = repo.update(dict(PATIENT))
    assert again.outcome == CREATED and again.stored.version_id == 3


def test_the_same_resource_written_several_times_in_one_unit_keeps_only_its_last_index(repo: SqlRepository) -> None:
    def work(session):  # type: ignore[no-untyped-def]
        session.update({**PATIENT, "name": [{"family": "First"}]})
        session.update({**PATIENT, "name": [{"family": "Second"}]})
        return session.update({**PATIENT, "name": [{"family": "Third"}]})
    result = repo.atomic(work)
    assert result.outcome == UPDATED and result.stored.version_id == 3
    for family, hits in (("First", 0), ("Second", 0), ("Third", 1)):
        found = repo.search(SearchQuery("Patient", params=[("family", family)]))
        assert len(found.matches) == hits, family
    assert [v.version_id for v in repo.history("Patient", "p1")[0]] == [3, 2, 1]


def test_an_existing_resource_updated_twice_in_one_unit_is_indexed_once(repo: SqlRepository) -> None:
    repo.update(dict(PATIENT))
    repo.atomic(lambda s: [s.update({**PATIENT, "gender": g}) for g in ("male", "other")])
    assert len(repo.search(SearchQuery("Patient", params=[("gender", "other")])).matches) == 1
    assert repo.search(SearchQuery("Patient", params=[("gender", "male")])).matches == []
    assert repo.search(SearchQuery("Patient", params=[("gender", "female")])).matches == []


def test_reads_inside_a_unit_see_its_buffered_writes(repo: SqlRepository) -> None:
    def work(session):  # type: ignore[no-untyped-def]
        session.update(dict(PATIENT))
        created = session.read("Patient", "p1")
        session.update({**PATIENT, "gender": "male"})
        updated = session.read("Patient", "p1")
        session.delete("Patient", "p1")
        return created.version_id, updated.resource["gender"], session.history("Patient", "p1")[0]
    first, gender, history = repo.atomic(work)
    assert (first, gender) == (1, "male")
    assert [(h.version_id, h.deleted) for h in history] == [(3, True), (2, False), (1, False)]


def test_prefetch_answers_many_updates_with_one_read(repo: SqlRepository) -> None:
    repo.atomic(lambda s: [s.update({**PATIENT, "id": f"p{i}"}) for i in range(5)])
    statements: list[str] = []
    from sqlalchemy import event

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)
    event.listen(repo.engine, "before_cursor_execute", count)
    try:
        def work(session):  # type: ignore[no-untyped-def]
            keys = [("Patient", f"p{i}") for i in range(8)]
            session.prefetch(keys)
            return [session.update({**PATIENT, "id": id, "gender": "male" if int(id[1]) % 2 else "female"}).outcome
                    for _, id in keys]
        outcomes = repo.atomic(work)
    finally:
        event.remove(repo.engine, "before_cursor_execute", count)
    assert outcomes == [UNCHANGED, UPDATED, UNCHANGED, UPDATED, UNCHANGED, CREATED, CREATED, CREATED]
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "resource." in s.lower()
             and "max(" not in s.lower()]
    assert len(reads) == 1, reads
    assert len(repo.search(SearchQuery("Patient", params=[("gender", "male")])).matches) == 4  # p1 p3 p5 p7


def test_many_rows_with_awkward_text_come_back_exactly(repo: SqlRepository) -> None:
    """Large batches take the bulk path (COPY on PostgreSQL): quotes, commas, new lines, backslashes and
    non-ASCII text are stored as written, and a missing value stays missing (not an empty string)."""
    names = ['O"Brien, Jr', "line\nbreak", "back\\slash", "Ünïcödé ☃", "comma,,", '""', "tab\there"]
    patients = [{"resourceType": "Patient", "id": f"a{i}", "name": [{"family": names[i % len(names)], "given": [f"g{i}"]}],
                 "gender": "female" if i % 2 else "male"} for i in range(70)]
    repo.atomic(lambda s: [s.update(p) for p in patients])
    for name in names:
        escaped = name.replace("\\", "\\\\").replace(",", "\\,").replace("$", "\\$").replace("|", "\\|")
        found = repo.search(SearchQuery("Patient", params=[("family:exact", escaped)], count=100))
        assert sorted(m.id for m in found.matches) == sorted(p["id"] for p in patients
                                                             if p["name"][0]["family"] == name), name
    assert len(repo.search(SearchQuery("Patient", params=[("birthdate:missing", "true")], count=100)).matches) == 70
    assert len(repo.search(SearchQuery("Patient", params=[("gender", "male")], count=100)).matches) == 35
