"""A transaction Bundle reads the current versions of all its PUT/DELETE targets with one query, and
never re-reads what it has just written."""
from __future__ import annotations

from typing import Any

from sqlalchemy import event

from tests.rest.conftest import Client


def resource_reads(client: Client, body: dict[str, Any]) -> tuple[int, list[str]]:
    statements: list[str] = []
    engine = client.rest.repo.engine

    def note(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)
    event.listen(engine, "before_cursor_execute", note)
    try:
        status = client("POST", "/", body).status
    finally:
        event.remove(engine, "before_cursor_execute", note)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "max(" not in s.lower()
             and "resource_version" not in s.lower()]
    return status, reads


def put(i: int, gender: str) -> dict[str, Any]:
    return {"resource": {"resourceType": "Patient", "id": f"t{i}", "gender": gender},
            "request": {"method": "PUT", "url": f"Patient/t{i}"}}


def test_puts_of_a_transaction_read_their_targets_once(client: Client) -> None:
    first = {"resourceType": "Bundle", "type": "transaction", "entry": [put(i, "male") for i in range(20)]}
    status, reads = resource_reads(client, first)
    assert status == 200 and len(reads) == 1, reads
    again = {"resourceType": "Bundle", "type": "transaction",
             "entry": [put(i, "female" if i % 2 else "male") for i in range(25)]}
    status, reads = resource_reads(client, again)
    assert status == 200 and len(reads) == 1, reads
    assert client("GET", "/Patient?gender=female&_summary=count").body["total"] == 12
    assert client("GET", "/Patient/t24").body["gender"] == "male"
