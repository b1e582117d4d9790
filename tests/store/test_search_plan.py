"""Search plans that keep latency flat as the store grows must not change answers (rest/README, search
latency): pages driven from an index table (resources that match twice come once, cursors page through all),
other parameters probed per candidate, repeated ranges merged onto one index row only while no stored
resource has several values of that parameter, and planner statistics refreshed as the store grows."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from fhir_service.store.repository import SearchQuery
from fhir_service.store.sql_repository import ANALYZE_MIN_ROWS, SqlRepository, multi_key

LOINC = "http://loinc.org"


def obs(id: str, codes: list[str], when: Any, subject: str = "Patient/p1") -> dict[str, Any]:
    """An Observation; `when` is a dateTime, or a list of dateTimes (effectiveTiming events: several values)."""
    effective = ({"effectiveTiming": {"event": when}} if isinstance(when, list) else {"effectiveDateTime": when})
    return {"resourceType": "Observation", "id": id, "status": "final", "subject": {"reference": subject},
            "code": {"coding": [{"system": LOINC, "code": c} for c in codes]}, **effective}


def ids(repo: SqlRepository, params: list[tuple[str, str]], **options: Any) -> list[str]:
    result = repo.search(SearchQuery(resource_type="Observation", params=params, **options))
    return [m.id for m in result.matches]


def all_pages(repo: SqlRepository, params: list[tuple[str, str]], count: int) -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        result = repo.search(SearchQuery(resource_type="Observation", params=params, count=count, cursor=cursor))
        out.extend(m.id for m in result.matches)
        cursor = result.next_cursor
        if not cursor:
            return out


def test_date_range_on_a_single_valued_parameter(repo: SqlRepository) -> None:
    for i, when in enumerate(["2021-12-31", "2022-01-01", "2022-01-07T23:00:00Z", "2022-01-08", "2022-02-01"]):
        repo.update(obs(f"o{i}", ["a"], when))
    week = [("date", "ge2022-01-01"), ("date", "lt2022-01-08")]
    assert sorted(ids(repo, week)) == ["o1", "o2"]
    assert ids(repo, [("date", "ge2022-02-01"), ("date", "lt2022-01-01")]) == []  # no single value is both


def test_date_range_on_a_multi_valued_resource_keeps_spec_semantics(repo: SqlRepository) -> None:
    """Each `date=` value may be met by another value of the resource (FHIR R4 3.1.1.4: repeated
    parameters AND): two events, one after February and one before mid-January, match both conditions."""
    repo.update(obs("single", ["a"], "2022-03-01"))
    contradictory = [("date", "ge2022-02-01"), ("date", "lt2022-01-15")]
    assert ids(repo, contradictory) == []
    repo.update(obs("timing", ["a"], ["2022-01-01", "2022-03-01"]))
    assert ids(repo, contradictory) == ["timing"]
    assert ids(repo, contradictory, total="accurate") == ["timing"]
    assert repo.search(SearchQuery(resource_type="Observation", params=contradictory, total="accurate")).total == 1
    # the flag that turned merging off stays, also once that resource is gone
    repo.delete("Observation", "timing")
    assert ids(repo, contradictory) == []
    with repo.engine.connect() as conn:
        assert repo.single_valued(conn, "Observation", ["date"]) == set()
        assert repo.single_valued(conn, "Patient", ["birthdate"]) == {"birthdate"}


def test_multi_valued_flag_is_written_with_the_resource(repo: SqlRepository) -> None:
    m = repo.tables.meta
    key = multi_key("Observation", "date")
    repo.update(obs("one", ["a"], "2022-03-01"))
    with repo.engine.connect() as conn:
        assert conn.execute(select(m.c.key).where(m.c.key == key)).first() is None
    repo.update(obs("two", ["a"], ["2022-01-01", "2022-03-01"]))
    repo.update(obs("three", ["a"], ["2022-01-02", "2022-03-02"]))  # the flag exists already: no second row
    with repo.engine.connect() as conn:
        assert conn.execute(select(m.c.key).where(m.c.key == key)).all() == [(key,)]


def test_a_resource_matching_twice_comes_once_and_pages_are_complete(repo: SqlRepository) -> None:
    for i in range(7):  # every other one has both codes: two matching index rows for code=a,b
        repo.update(obs(f"o{i}", ["a", "b"] if i % 2 == 0 else ["a"], "2022-01-01"))
    repo.update(obs("other", ["c"], "2022-01-01"))
    expected = sorted(f"o{i}" for i in range(7))
    params = [("code", "a,b")]
    assert sorted(ids(repo, params)) == expected
    for count in (1, 2, 3, 50):
        pages = all_pages(repo, params, count)
        assert sorted(pages) == expected and len(pages) == len(set(pages)), count
    result = repo.search(SearchQuery(resource_type="Observation", params=params, count=2, total="accurate"))
    assert result.total == 7 and len(result.matches) == 2 and result.next_cursor


def test_several_parameters_one_drives_the_others_are_probed(repo: SqlRepository) -> None:
    repo.update(obs("p1-a", ["a"], "2022-01-01", "Patient/p1"))
    repo.update(obs("p1-b", ["b"], "2022-01-01", "Patient/p1"))
    repo.update(obs("p2-a", ["a"], "2022-01-05", "Patient/p2"))
    assert ids(repo, [("patient", "p1"), ("code", f"{LOINC}|a")]) == ["p1-a"]
    assert ids(repo, [("code", "a"), ("code", "b")]) == []  # two parameters on the same table
    assert ids(repo, [("code", "a"), ("date", "ge2022-01-03")]) == ["p2-a"]
    assert ids(repo, [("code", "a"), ("code:not", "b"), ("_id", "p1-a,p2-a,p1-b")]) == ["p1-a", "p2-a"]
    # sorting takes the resource-table plan: same answers, in the asked order
    sorted_ = repo.search(SearchQuery(resource_type="Observation", params=[("code", "a")], sort=["-date"]))
    assert [m.id for m in sorted_.matches] == ["p2-a", "p1-a"]


def test_analyze_runs_and_is_triggered_by_growth(repo: SqlRepository) -> None:
    repo.analyze()
    assert repo._analyzed_rows == 0
    repo.analyze_min_rows = 3
    try:
        repo.atomic(lambda s: [s.create(obs(f"n{i}", ["a"], "2022-01-01"), id=f"n{i}") for i in range(2)])
        assert repo._analyzed_rows == 0  # 2 < analyze_min_rows: not yet
        repo.atomic(lambda s: [s.create(obs(f"m{i}", ["a"], "2022-01-01"), id=f"m{i}") for i in range(2)])
        assert repo._analyzed_rows == 4 and repo._inserted_since_analyze == 0
    finally:
        repo.analyze_min_rows = ANALYZE_MIN_ROWS  # the PostgreSQL repository is shared by the run
    if repo.dialect == "sqlite":
        with repo.engine.connect() as conn:
            tables = {row[0] for row in conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1")}
        assert repo.tables.token.name in tables


def test_date_ranges_at_either_end_of_the_stored_dates(repo: SqlRepository) -> None:
    """A range near the first stored dates is scanned from the `low` index, one near the last from the
    `high` one (SQLite chooses by counting): the answers are the same either way."""
    days = [f"2022-01-{d:02d}" for d in range(1, 29)]
    repo.atomic(lambda s: [s.update(obs(f"d{i}", ["a"], day)) for i, day in enumerate(days)])
    assert sorted(ids(repo, [("date", "ge2022-01-02"), ("date", "lt2022-01-04")], count=50)) == ["d1", "d2"]
    assert sorted(ids(repo, [("date", "ge2022-01-26"), ("date", "le2022-01-27")], count=50)) == ["d25", "d26"]
    assert ids(repo, [("date", "eq2022-01-27")], count=50) == ["d26"]
    assert sorted(ids(repo, [("date", "sa2022-01-26")], count=50)) == ["d26", "d27"]
    assert sorted(ids(repo, [("date", "eb2022-01-03")], count=50)) == ["d0", "d1"]
    assert sorted(ids(repo, [("date", "gt2022-01-26"), ("date", "ne2022-01-28")], count=50)) == ["d26"]


def test_a_flag_committed_during_the_search_makes_it_re_plan(repo: SqlRepository, monkeypatch: Any) -> None:
    """PostgreSQL reads each statement from a new snapshot: a multi-valued resource committed between the
    flag check and the page must not be judged by the merged condition. Simulated: the first check answers
    from before that commit."""
    if repo.dialect != "postgresql":
        return  # a SQLite read transaction is one snapshot: the check before the page is enough there
    repo.update(obs("timing", ["a"], ["2022-01-01", "2022-03-01"]))
    real = repo.single_valued
    calls: list[int] = []

    def stale_then_real(conn: Any, resource_type: str, codes: Any) -> set[str]:
        calls.append(1)
        return set(codes) if len(calls) == 1 else real(conn, resource_type, codes)
    monkeypatch.setattr(repo, "single_valued", stale_then_real)
    assert ids(repo, [("date", "ge2022-02-01"), ("date", "lt2022-01-15")]) == ["timing"]
    assert len(calls) >= 2


def test_a_search_of_every_type_without_criteria(repo: SqlRepository) -> None:
    repo.update(obs("o1", ["a"], "2022-01-01"))
    repo.update({"resourceType": "Patient", "id": "p1"})
    everything = repo.search(SearchQuery(resource_type=None, params=[], total="accurate"))
    assert everything.total == 2 and sorted(m.id for m in everything.matches) == ["o1", "p1"]
