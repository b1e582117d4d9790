"""The Repository on SQLAlchemy 2: SQLite (embedded file, default) or PostgreSQL (by URL).

Concurrency: every write runs in one transaction that is serialised where it matters. On SQLite a write
transaction starts with BEGIN IMMEDIATE (one writer at a time, readers unaffected under WAL), so
"search, then insert" in a conditional create cannot interleave. On PostgreSQL a conditional create takes a
transaction-scoped advisory lock on (type, normalised query), and updates lock the current row
(SELECT ... FOR UPDATE). A unique-key race that still slips through (two creates at one client id) is
retried as a whole, then reported as 409.
"""
from __future__ import annotations

import base64
import io
import hashlib
import logging
import re
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar
from urllib.parse import parse_qsl

import orjson
from sqlalchemy import (and_, bindparam, create_engine, delete, event, false, func, insert, or_, select, text, true,
                        tuple_, update)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from fhir_service.store import fhirjson
from fhir_service.store.dates import DateFormatError, date_range, instant, now_us
from fhir_service.store.indexer import INDEX_VERSION, index_resource
from fhir_service.store.query import CONTROL_PARAMS, DRIVER_RANK, IndexMatch, SearchBuilder
from fhir_service.store.repository import (CREATED, UNCHANGED, UPDATED, Conflict, Gone, InvalidResource,
                                          InvalidSearch, NotFound, UpdateResult,
                                          PreconditionFailed, Resource, SearchQuery, SearchResult, StoredResource)
from fhir_service.store.schema import LEGACY_INDEXES, Tables, build_tables
from fhir_service.store.search_params import SearchParamRegistry

T = TypeVar("T")
log = logging.getLogger(__name__)
ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
MAX_COUNT = 1000
MAX_EVERYTHING = 1000  # rows per query when `everything` gathers all pages
RETRIES = 5
# ANALYZE once the resource table has grown by this share since the last one (and by ANALYZE_MIN_ROWS)
ANALYZE_GROWTH = 0.25
ANALYZE_MIN_ROWS = 1000
SQLITE_RECYCLE_S = 60
SQLITE_ANALYSIS_LIMIT = 1000  # rows sampled per index by SQLite's ANALYZE: milliseconds, not seconds
MULTI_KINDS = ("date", "number", "quantity")  # range types whose same-row merging needs single values
COPY_MIN_ROWS = 50
NARROW_PROBE = 2000  # index entries counted at most per side to choose a date range's index (SQLite)  # below this, a plain executemany is as quick as COPY


def make_engine(url: str) -> Engine:
    """An engine with the per-dialect settings the repository relies on (see module docstring)."""
    if url.startswith("sqlite"):
        # SQLite reads planner statistics (sqlite_stat1) when a connection opens, and does not reload them
        # when another connection (another process: `load`, a gunicorn worker) runs ANALYZE: pooled
        # connections are renewed after SQLITE_RECYCLE_S so that a server follows its store's growth
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_recycle=SQLITE_RECYCLE_S)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            for _ in range(100):  # switching a new file to WAL needs a moment alone with it
                try:
                    cursor.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    time.sleep(0.05)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("fhir_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)


@dataclass(slots=True)
class CurrentRow:
    """A row of the current-version table as this unit of work knows it (read, or written and buffered)."""

    rid: int
    res_type: str
    res_id: str
    version: int
    updated_us: int
    deleted: bool
    content: str | None
    locked: bool = False

    @classmethod
    def of(cls, row: Any, locked: bool) -> "CurrentRow":
        return cls(row.rid, row.res_type, row.res_id, row.version, row.updated_us, bool(row.deleted),
                   row.content, locked)


def multi_key(resource_type: str, code: str) -> str:
    """The store_meta key flagging that some resource of this type had several rows for this parameter."""
    key = f"multi:{resource_type}:{code}"
    return key if len(key) <= 64 else "multi:" + hashlib.sha256(key.encode()).hexdigest()[:40]


def _csv_field(value: Any) -> str:
    """One field of COPY ... (FORMAT csv): NULL unquoted and empty, strings always quoted (so that the
    empty string stays one), booleans t/f, numbers as Python writes them."""
    if value is None:
        return ""
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    if isinstance(value, bool):
        return "t" if value else "f"
    return repr(value) if isinstance(value, float) else str(value)


def _stored(row: Any, method: str = "PUT") -> StoredResource:
    content = fhirjson.loads(row.content) if row.content else None
    return StoredResource(resource_type=row.res_type, id=row.res_id, version_id=row.version,
                          last_updated=instant(row.updated_us), resource=content, deleted=bool(row.deleted),
                          method=method, updated_us=row.updated_us)


def _same_content(a: Resource, b: Resource) -> bool:
    def strip(resource: Resource) -> Resource:
        copy = dict(resource)
        meta = {k: v for k, v in (copy.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
        if meta:
            copy["meta"] = meta
        else:
            copy.pop("meta", None)
        return copy
    return fhirjson.canonical(strip(a)) == fhirjson.canonical(strip(b))


def encode_cursor(values: Iterable[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: list[type]) -> list[Any]:
    """The key values of a cursor, checked against the kinds of the sort keys (a tampered cursor is a 400,
    never a database type error)."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidSearch("invalid paging cursor") from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise InvalidSearch("paging cursor does not fit this search (were _sort parameters changed?)")
    for value, kind in zip(values, kinds):
        fits = isinstance(value, kind) and not isinstance(value, bool) or (kind is float and type(value) is int)
        if not fits or (isinstance(value, int) and abs(value) >= 1 << 63):
            raise InvalidSearch("paging cursor does not fit this search")
    return values


class SqlRepository:
    """Repository over one database (URL) and one table prefix."""

    def __init__(self, url: str = "sqlite://", *, prefix: str = "", definitions: Any = None,
                 create_schema: bool = True, referential_integrity: bool = True) -> None:
        if definitions is None:
            from fhir_service.definitions import default_definitions
            definitions = default_definitions()
        self.url = url
        self.definitions = definitions
        # a resource that live resources still reference cannot be deleted (409), checked at commit so that
        # a transaction deleting a Patient and its Observations together succeeds in any entry order
        self.referential_integrity = referential_integrity
        self.engine = make_engine(url)
        self.prefix = prefix
        self.tables: Tables = build_tables(prefix)
        # planner statistics (see analyze): resource rows at the last ANALYZE, rows inserted since
        self.analyze_min_rows = ANALYZE_MIN_ROWS
        self._analyzed_rows: int | None = None
        self._inserted_since_analyze = 0
        self.registry = SearchParamRegistry(definitions)
        self.index_columns = {kind: [c.name for c in table.columns][3:]
                              for kind, table in self.tables.index_tables().items()}
        self.dialect = self.engine.dialect.name
        self.resource_types: frozenset[str] = frozenset(definitions.resource_types)
        self._lock = threading.Lock()
        if create_schema:
            self._create_schema()
        self._sp_mark: Any = None  # newest SearchParameter version the registry reflects
        with self.engine.connect() as conn:
            self.sync_search_parameters(conn)
        if create_schema:
            self._upgrade_index()

    def _upgrade_index(self) -> None:
        """Rebuild the whole search index when it was built by other indexing rules (INDEX_VERSION), once,
        under the same cross-process lock as the schema, so that an upgraded server finds what it indexes."""
        m = self.tables.meta
        with self.engine.connect() as conn:
            conn = conn.execution_options(fhir_write=True)
            with conn.begin():
                self._schema_lock(conn)
                built = conn.execute(select(m.c.value).where(m.c.key == "index_version")).scalar()
                if built == INDEX_VERSION:
                    return
                session = Session(self, conn)
                session.reindex_everything()
                conn.execute(delete(m).where(m.c.key == "index_version"))
                conn.execute(insert(m).values(key="index_version", value=INDEX_VERSION))

    def _schema_lock(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            key = int.from_bytes(hashlib.sha256(b"fhir-service schema").digest()[:8], "big", signed=True)
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def _create_schema(self) -> None:
        """Create missing tables, serialised across processes (gunicorn workers start together): under an
        advisory lock on PostgreSQL, in a BEGIN IMMEDIATE transaction on SQLite."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(fhir_write=True)
            with conn.begin():
                self._schema_lock(conn)
                self.tables.metadata.create_all(conn)
                for table in self.tables.metadata.sorted_tables:  # indexes added since the file was made
                    for index in table.indexes:
                        index.create(conn, checkfirst=True)
                for legacy in LEGACY_INDEXES:  # replaced by indexes of other columns: only cost writes
                    conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{self.prefix}{legacy}"')

    def sync_search_parameters(self, conn: Connection) -> None:
        """Keep the registry in step with the SearchParameters stored in the database, which another
        process (a gunicorn worker, `fhir-service load`) may have changed: one indexed MAX query per
        interaction, a rebuild only when something changed."""
        v, r = self.tables.version, self.tables.resource
        mark = conn.execute(select(func.max(v.c.vid)).where(v.c.res_type == "SearchParameter")).scalar()
        if mark == self._sp_mark:
            return
        rows = conn.execute(select(r.c.content).where(r.c.res_type == "SearchParameter",
                                                      r.c.deleted == false())).all()
        registry = SearchParamRegistry(self.definitions)
        for row in rows:
            registry.register(fhirjson.loads(row.content))
        with self._lock:
            self.registry, self._sp_mark = registry, mark

    def compartment_params(self, compartment: str) -> dict[str, list[str]]:
        """Resource type -> the parameters that put a resource in a compartment (CompartmentDefinition)."""
        def build() -> dict[str, dict[str, list[str]]]:
            out: dict[str, dict[str, list[str]]] = {}
            for package, entry in self.definitions.index_entries("CompartmentDefinition"):
                definition = package.load(entry.filename)
                if definition.get("code") and definition.get("code") not in out:
                    out[definition["code"]] = {r["code"]: [p for p in r.get("param") or [] if p != "{def}"]
                                               for r in definition.get("resource") or [] if r.get("param")}
            return out
        return self.definitions.memo(("store-compartments",), build).get(compartment, {})

    def expunge_all(self) -> None:
        """Delete every resource, version and index row (an administrative reset: tests, re-imports)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(fhir_write=True)
            with conn.begin():
                for table in reversed(self.tables.metadata.sorted_tables):
                    conn.execute(delete(table))
        self.registry = SearchParamRegistry(self.definitions)
        self._sp_mark = None
        self._analyzed_rows, self._inserted_since_analyze = None, 0

    def drop_schema(self) -> None:
        """Drop this prefix's tables (test clean-up)."""
        self.tables.metadata.drop_all(self.engine)
        self.engine.dispose()

    def close(self) -> None:
        self.engine.dispose()

    # -- planner statistics -------------------------------------------------------------------------------
    def analyze(self) -> None:
        """Refresh the query planner's statistics of this store's tables. Without them PostgreSQL estimates
        every condition of a freshly bulk-loaded store at one row and picks nested loops, and SQLite cannot
        tell a selective index from a poor one (see rest/README, search latency). SQLite samples at most
        SQLITE_ANALYSIS_LIMIT rows per index, so this stays cheap however large the store."""
        names = [table.name for table in self.tables.metadata.sorted_tables]
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(fhir_write=True)
                with conn.begin():
                    conn.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
                    for name in names:
                        conn.exec_driver_sql(f'ANALYZE "{name}"')
            else:
                with conn.begin():
                    for name in names:
                        conn.exec_driver_sql(f'ANALYZE "{name}"')
            with conn.begin():
                rows = conn.execute(select(func.count()).select_from(self.tables.resource)).scalar_one()
        self._analyzed_rows, self._inserted_since_analyze = rows, 0

    def _after_write(self, inserted: int) -> None:
        """ANALYZE when this process has inserted ANALYZE_GROWTH more resources than the store held at the
        last ANALYZE (and at least analyze_min_rows): a bulk load is analysed a few times as it grows
        (1k, 1.25k, 1.6k ... of 100k: about 20 times, each a sample), an interactive server almost never."""
        if not inserted:
            return
        self._inserted_since_analyze += inserted
        if self._inserted_since_analyze < self.analyze_min_rows:
            return
        try:  # the unit of work is committed: nothing here may fail it (or make atomic retry it)
            if self._analyzed_rows is None:  # first time: what the store held before these writes
                with self.engine.connect() as conn:
                    total = conn.execute(select(func.count()).select_from(self.tables.resource)).scalar_one()
                self._analyzed_rows = max(0, total - self._inserted_since_analyze)
            if self._inserted_since_analyze >= ANALYZE_GROWTH * self._analyzed_rows:
                self.analyze()
        except Exception:  # noqa: BLE001 - busy, or a dropped connection: the next unit of work tries again
            log.warning("ANALYZE after a write failed", exc_info=True)

    def single_valued(self, conn: Connection, resource_type: str, codes: Iterable[str]) -> set[str]:
        """Those of `codes` (range parameters of `resource_type`) that no stored resource has ever had more
        than one index row for: on them, several conditions may be required of the same index row (a
        `date=ge..&date=lt..` range becomes one range scan), which is exact only while each resource has at
        most one value. The flags are written in the transaction that stores such a resource and never
        removed, so reading them after the search rows (as the caller does) sees every resource it matched."""
        keys = {code: multi_key(resource_type, code) for code in codes}
        m = self.tables.meta
        flagged = {row.key for row in conn.execute(select(m.c.key).where(m.c.key.in_(list(keys.values()))))}
        return {code for code, key in keys.items() if key not in flagged}

    # -- transactions ----------------------------------------------------------------------------------
    def atomic(self, work: Callable[["Session"], T]) -> T:
        last: Exception | None = None
        for _ in range(RETRIES):
            try:
                with self.engine.connect() as conn:
                    conn = conn.execution_options(fhir_write=True)
                    with conn.begin():
                        self.sync_search_parameters(conn)
                        session = Session(self, conn)
                        result = work(session)
                        session.flush()
                        session.check_references()
                        inserted = session.inserted
                self._after_write(inserted)
                return result
            except IntegrityError as exc:
                last = exc
            except OperationalError as exc:  # SQLite "database is locked" after the busy timeout
                if "locked" not in str(exc).lower():
                    raise
                last = exc
            except DBAPIError as exc:  # PostgreSQL serialization failure / deadlock
                if getattr(getattr(exc, "orig", None), "pgcode", None) not in ("40001", "40P01"):
                    raise
                last = exc
        raise Conflict(f"concurrent modification: gave up after {RETRIES} attempts ({type(last).__name__})")

    def _read(self, work: Callable[["Session"], T]) -> T:
        with self.engine.connect() as conn:
            with conn.begin():
                self.sync_search_parameters(conn)
                return work(Session(self, conn))

    # -- the Repository interface -----------------------------------------------------------------------
    def create(self, resource: Resource, *, if_none_exist: str | None = None,
               id: str | None = None) -> tuple[StoredResource, bool]:
        return self.atomic(lambda s: s.create(resource, if_none_exist=if_none_exist, id=id))

    def update(self, resource: Resource, *, if_match: int | None = None) -> UpdateResult:
        return self.atomic(lambda s: s.update(resource, if_match=if_match))

    def delete(self, resource_type: str, id: str, *, if_match: int | None = None) -> StoredResource | None:
        return self.atomic(lambda s: s.delete(resource_type, id, if_match=if_match))

    def read(self, resource_type: str, id: str) -> StoredResource:
        return self._read(lambda s: s.read(resource_type, id))

    def vread(self, resource_type: str, id: str, version_id: int) -> StoredResource:
        return self._read(lambda s: s.vread(resource_type, id, version_id))

    def history(self, resource_type: str | None = None, id: str | None = None, *, count: int = 20,
                since: str | None = None, cursor: str | None = None) -> tuple[list[StoredResource], str | None]:
        return self._read(lambda s: s.history(resource_type, id, count=count, since=since, cursor=cursor))

    def search(self, query: SearchQuery) -> SearchResult:
        return self._read(lambda s: s.search(query))

    def find(self, resource_type: str, query_string: str) -> list[StoredResource]:
        return self._read(lambda s: s.find(resource_type, query_string))

    def everything(self, patient_id: str) -> list[StoredResource]:
        return self._read(lambda s: s.everything(patient_id))

    def everything_page(self, patient_id: str, *, count: int = 20,
                        cursor: str | None = None) -> tuple[list[StoredResource], str | None]:
        return self._read(lambda s: s.everything_page(patient_id, count=count, cursor=cursor))


class Session:
    """The repository operations bound to one open database transaction."""

    def __init__(self, repo: SqlRepository, conn: Connection) -> None:
        self.repo = repo
        self.conn = conn
        self.t = repo.tables
        self._pending: dict[str, list[dict[str, Any]]] = {}  # index rows not yet inserted, per table
        self._deleted: list[tuple[str, str]] = []  # (type, id) deleted in this unit of work
        # writes buffered until flush: new resource rows (their rid comes back from the INSERT, and is then
        # filled into the version and index rows waiting for it), updates of current rows by rid, version
        # rows in the order they were written, and the rids whose old index rows must go
        self._new: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self._new_keys: set[tuple[str, str]] = set()
        self._updates: dict[int, dict[str, Any]] = {}
        self._versions: list[dict[str, Any]] = []
        self._clear: set[int] = set()
        self._pending_rids: set[int] = set()  # rids with index rows in _pending
        # current rows read or written in this unit of work, so that nothing is read twice or re-read after
        # it was written; None: known not to exist; `locked`: read FOR UPDATE (PostgreSQL)
        self._known: dict[tuple[str, str], CurrentRow | None] = {}
        self.inserted = 0  # new resource rows written (planner statistics: SqlRepository._after_write)
        self._multi: set[str] = set()  # multi-valued flags (store_meta keys) to write at flush

    def check_references(self) -> None:
        """Before commit: no live resource may still reference one deleted in this unit of work."""
        if not self.repo.referential_integrity or not self._deleted:
            return
        ref, r = self.t.reference, self.t.resource
        for start in range(0, len(self._deleted), 200):
            chunk = self._deleted[start:start + 200]
            rows = self.conn.execute(
                select(r.c.res_type, r.c.res_id, ref.c.param, ref.c.target_type, ref.c.target_id)
                .join(ref, ref.c.rid == r.c.rid)
                .where(r.c.deleted == false(), tuple_(ref.c.target_type, ref.c.target_id).in_(chunk))
                .limit(5)).all()
            if rows:
                found = ", ".join(f"{row.res_type}/{row.res_id} ({row.param})" for row in rows)
                first = rows[0]
                raise Conflict(f"{first.target_type}/{first.target_id} is still referenced by {found}: delete "
                               "those first, or in the same transaction")

    def flush(self) -> None:
        """Write what this unit of work buffered, one statement per table instead of a round trip per row:
        new resources (one INSERT ... RETURNING), updated current rows, versions and index rows (executemany),
        old index rows (DELETE ... WHERE rid IN). Called before anything in this transaction reads those
        tables, and before commit."""
        r, v = self.t.resource, self.t.version
        if self._new:
            new, self._new = self._new, []
            result = self.conn.execute(insert(r).returning(r.c.rid, sort_by_parameter_order=True),
                                       [row for row, _ in new])
            self.inserted += len(new)
            for (row, waiting), rid in zip(new, [x.rid for x in result]):
                for dependent in waiting:
                    dependent["rid"] = rid
                key = (row["res_type"], row["res_id"])
                self._known[key] = CurrentRow(rid=rid, locked=True, **row)
            self._new_keys.clear()
        if self._updates:
            updates, self._updates = self._updates, {}
            self.conn.execute(update(r).where(r.c.rid == bindparam("b_rid"))
                              .values(version=bindparam("version"), updated_us=bindparam("updated_us"),
                                      deleted=bindparam("deleted"), content=bindparam("content")),
                              [{"b_rid": rid, **values} for rid, values in updates.items()])
        if self._versions:
            versions, self._versions = self._versions, []
            self._insert_many(v, versions)
        tables = self.t.index_tables()
        if self._clear:
            clear, self._clear = sorted(self._clear), set()
            for start in range(0, len(clear), 500):
                chunk = clear[start:start + 500]
                for table in tables.values():
                    self.conn.execute(delete(table).where(table.c.rid.in_(chunk)))
        if self._multi:
            self._write_multi_flags()
        if self._pending:
            pending, self._pending = self._pending, {}
            self._pending_rids.clear()
            for kind, rows in pending.items():
                if rows:
                    self._insert_many(tables[kind], rows)

    def _write_multi_flags(self) -> None:
        """Store the multi-valued flags (see SqlRepository.single_valued) not stored yet."""
        flags, self._multi = sorted(self._multi), set()
        m = self.t.meta
        stored = {row.key for row in self.conn.execute(select(m.c.key).where(m.c.key.in_(flags)))}
        missing = [key for key in flags if key not in stored]
        if missing:  # a parallel writer inserting the same key makes this unit of work retry (atomic)
            self.conn.execute(insert(m), [{"key": key, "value": "1"} for key in missing])

    def _insert_many(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """Many rows into one table: COPY on PostgreSQL (several times faster than multi-row INSERTs for
        the thousands of index rows of a transaction Bundle), executemany elsewhere."""
        if self.repo.dialect != "postgresql" or len(rows) < COPY_MIN_ROWS:
            self.conn.execute(insert(table), rows)
            return
        names = [c.name for c in table.columns if c.name in rows[0]]
        buffer = io.StringIO("\n".join(",".join([_csv_field(row.get(name)) for name in names]) for row in rows)
                             + "\n")
        cursor = self.conn.connection.driver_connection.cursor()
        try:
            quoted = ", ".join(f'"{name}"' for name in names)
            cursor.copy_expert(f'COPY "{table.name}" ({quoted}) FROM STDIN WITH (FORMAT csv)', buffer)
        finally:
            cursor.close()

    def prefetch(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read the current rows of many (type, id) at once (locked for update on PostgreSQL), so that the
        updates that follow need no query each: a hint for bulk upserts, never required."""
        r = self.t.resource
        wanted = sorted({key for key in keys if key not in self._known and key not in self._new_keys})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            stmt = select(r).where(tuple_(r.c.res_type, r.c.res_id).in_(chunk))
            if self.repo.dialect == "postgresql":
                stmt = stmt.with_for_update()
            found = {(row.res_type, row.res_id): row for row in self.conn.execute(stmt)}
            for key in chunk:
                row = found.get(key)
                self._known[key] = CurrentRow.of(row, locked=True) if row is not None else None

    def atomic(self, work: Callable[["Session"], T]) -> T:
        return work(self)  # already inside a transaction

    # -- helpers ----------------------------------------------------------------------------------------
    def _check_type(self, resource_type: Any) -> str:
        if not isinstance(resource_type, str) or resource_type not in self.repo.resource_types:
            raise InvalidResource(f"unknown resource type {resource_type!r}", "resourceType")
        return resource_type

    def _current(self, resource_type: str, id: str, lock: bool = False) -> CurrentRow | None:
        """The current row of (type, id): from what this unit of work already read or wrote, else one
        query. Buffered writes of OTHER resources need no flush for it: only this key's own can matter."""
        key = (resource_type, id)
        if key in self._new_keys:
            self.flush()
        lock = lock and self.repo.dialect == "postgresql"
        if key in self._known:
            known = self._known[key]
            if known is None or known.locked or not lock:
                return known
        r = self.t.resource
        stmt = select(r).where(r.c.res_type == resource_type, r.c.res_id == id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        current = CurrentRow.of(row, locked=lock) if row is not None else None
        if current is not None or lock or self.repo.dialect != "postgresql":
            self._known[key] = current  # an unlocked "absent" on PostgreSQL may change under us: not kept
        return current

    def lock_condition(self, resource_type: str, query_string: str) -> None:
        """Serialise conditional interactions on the same criteria until this transaction ends."""
        self._lock_key(resource_type, query_string)

    def _lock_key(self, resource_type: str, query_string: str) -> None:
        if self.repo.dialect != "postgresql":
            return  # SQLite: BEGIN IMMEDIATE already serialises writers
        normal = "&".join(sorted(f"{k}={v}" for k, v in parse_qsl(query_string, keep_blank_values=True)))
        digest = hashlib.sha256(f"{resource_type}?{normal}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    @staticmethod
    def _content(resource: Resource, resource_type: str, id: str, version: int, stamp: int) -> tuple[Resource, str]:
        """The resource as stored (resourceType, id, meta.versionId/lastUpdated first) and its JSON text."""
        body = dict(resource)
        body["id"] = id
        if not isinstance(body.get("meta") or {}, dict):
            raise InvalidResource("meta must be an object", f"{resource_type}.meta")
        meta = dict(body.get("meta") or {})
        meta.pop("versionId", None)
        meta.pop("lastUpdated", None)
        body = {"resourceType": resource_type, "id": id,
                "meta": {"versionId": str(version), "lastUpdated": instant(stamp), **meta},
                **{k: v for k, v in body.items() if k not in ("resourceType", "id", "meta")}}
        return body, fhirjson.dumps(body).decode()

    def _write(self, resource: Resource, resource_type: str, id: str, version: int, method: str,
               existing: CurrentRow | None) -> StoredResource:
        stamp = now_us()
        if existing is not None and stamp <= existing.updated_us:
            stamp = existing.updated_us + 1  # lastUpdated never goes backwards for one resource
        body, content = self._content(resource, resource_type, id, version, stamp)
        key = (resource_type, id)
        version_row = {"res_type": resource_type, "res_id": id, "version": version, "updated_us": stamp,
                       "method": method, "deleted": False, "content": content}
        if existing is None:  # inserted with the others of this unit of work (see flush)
            row = {"res_type": resource_type, "res_id": id, "version": version, "updated_us": stamp,
                   "deleted": False, "content": content}
            version_row["rid"] = None
            waiting = [version_row]
            for kind, rows in self._index_rows(None, resource_type, body).items():
                self._pending.setdefault(kind, []).extend(rows)
                waiting.extend(rows)
            self._new.append((row, waiting))
            self._new_keys.add(key)
            self._known.pop(key, None)
        else:
            rid = existing.rid
            self._updates[rid] = {"version": version, "updated_us": stamp, "deleted": False, "content": content}
            self._clear_index(rid)
            version_row["rid"] = rid
            self._index(rid, resource_type, body)
            self._known[key] = CurrentRow(rid, resource_type, id, version, stamp, False, content, True)
        self._versions.append(version_row)
        if resource_type == "SearchParameter":
            self._reindex(self.repo.registry.register(body))
            self.repo._sp_mark = object()  # rebuild from the database next time (this may roll back)
        return StoredResource(resource_type, id, version, instant(stamp), body, False, method, stamp)

    def _clear_index(self, rid: int) -> None:
        """Drop the index rows of `rid`: those already written at the next flush, buffered ones now."""
        self._clear.add(rid)
        if rid in self._pending_rids:  # written earlier in this unit of work: its buffered rows go too
            self._pending_rids.discard(rid)
            for kind, rows in self._pending.items():
                self._pending[kind] = [row for row in rows if row["rid"] != rid]

    def _index_rows(self, rid: int | None, resource_type: str, body: Resource) -> dict[str, list[dict[str, Any]]]:
        """The index rows of one resource, as insert parameters per table (rid None: filled in at flush)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for kind, kind_rows in index_resource(body, self.repo.registry.for_type(resource_type)).items():
            if not kind_rows:
                continue
            names = self.repo.index_columns[kind]  # value columns, then grp
            out[kind] = [{"rid": rid, "res_type": resource_type, "param": row[0],
                          **dict(zip(names, (*row[1:], *([None] * (len(names) - len(row) + 1)))))}
                         for row in kind_rows]
            if kind in MULTI_KINDS and len(kind_rows) > 1:
                seen: set[str] = set()
                for row in kind_rows:
                    if row[0] in seen and "$" not in row[0]:
                        self._multi.add(multi_key(resource_type, row[0]))
                    seen.add(row[0])
        return out

    def _index(self, rid: int, resource_type: str, body: Resource) -> None:
        for kind, rows in self._index_rows(rid, resource_type, body).items():
            self._pending.setdefault(kind, []).extend(rows)
        self._pending_rids.add(rid)

    def reindex_everything(self, batch: int = 500) -> int:
        """Drop every index row and index every current resource again; returns how many."""
        for table in self.t.index_tables().values():
            self.conn.execute(delete(table))
        r = self.t.resource
        count, last = 0, 0
        while True:
            rows = self.conn.execute(select(r.c.rid, r.c.res_type, r.c.content)
                                     .where(r.c.deleted == false(), r.c.rid > last)
                                     .order_by(r.c.rid).limit(batch)).all()
            if not rows:
                return count
            for row in rows:
                self._index(row.rid, row.res_type, fhirjson.loads(row.content))
            self.flush()
            count += len(rows)
            last = rows[-1].rid

    def _reindex(self, base_types: list[str]) -> None:
        """Rebuild the index of every current resource of `base_types` (after a SearchParameter changed)."""
        r = self.t.resource
        if not base_types:
            return
        self.flush()
        cond = r.c.res_type.in_(base_types) if not {"Resource", "DomainResource"} & set(base_types) else True
        for row in self.conn.execute(select(r.c.rid, r.c.res_type, r.c.content)
                                     .where(cond, r.c.deleted == false())).all():
            self._clear_index(row.rid)
            self._index(row.rid, row.res_type, fhirjson.loads(row.content))

    # -- writes -------------------------------------------------------------------------------------------
    def create(self, resource: Resource, *, if_none_exist: str | None = None,
               id: str | None = None) -> tuple[StoredResource, bool]:
        if not isinstance(resource, dict):
            raise InvalidResource("a resource must be a JSON object")
        resource_type = self._check_type(resource.get("resourceType"))
        if if_none_exist:
            self._lock_key(resource_type, if_none_exist)
            matches = self.find(resource_type, if_none_exist)
            if len(matches) > 1:
                raise PreconditionFailed(f"If-None-Exist {if_none_exist!r} matched {len(matches)} resources")
            if matches:
                return matches[0], False
        new_id = id or str(uuid.uuid4())
        if not ID_RE.match(new_id):
            raise InvalidResource(f"invalid id {new_id!r}", "id")
        # no existence probe (it would cost a round trip per resource): a pre-assigned id that exists
        # violates the unique key when the batch is written, and the unit of work ends in a 409
        return self._write(resource, resource_type, new_id, 1, "POST", None), True

    def update(self, resource: Resource, *, if_match: int | None = None) -> UpdateResult:
        if not isinstance(resource, dict):
            raise InvalidResource("a resource must be a JSON object")
        resource_type = self._check_type(resource.get("resourceType"))
        id = resource.get("id")
        if not isinstance(id, str) or not ID_RE.match(id):
            raise InvalidResource(f"update needs a valid id, not {id!r}", "id")
        row = self._current(resource_type, id, lock=True)
        if row is None:
            if if_match is not None:
                raise PreconditionFailed(f"If-Match: {resource_type}/{id} does not exist")
            return UpdateResult(self._write(resource, resource_type, id, 1, "PUT", None), CREATED)
        if if_match is not None and if_match != row.version:
            raise PreconditionFailed(f"If-Match version {if_match} does not match current version {row.version}"
                                     f" of {resource_type}/{id}")
        if row.deleted:
            return UpdateResult(self._write(resource, resource_type, id, row.version + 1, "PUT", row), CREATED)
        if self._unchanged(row, resource, resource_type, id):
            return UpdateResult(_stored(row), UNCHANGED)
        return UpdateResult(self._write(resource, resource_type, id, row.version + 1, "PUT", row), UPDATED)

    def _unchanged(self, row: CurrentRow, resource: Resource, resource_type: str, id: str) -> bool:
        """Content equal to the current version apart from meta.versionId/lastUpdated. Cheap first: the
        text this resource would be stored as with the current version's stamp, compared with the stored
        text (the usual re-import case); only when they differ, the key-order-independent comparison."""
        try:
            _, candidate = self._content(resource, resource_type, id, row.version, row.updated_us)
        except InvalidResource:
            return False
        if candidate == row.content:
            return True
        return _same_content(fhirjson.loads(row.content), {**resource, "resourceType": resource_type, "id": id})

    def delete(self, resource_type: str, id: str, *, if_match: int | None = None) -> StoredResource | None:
        self._check_type(resource_type)
        row = self._current(resource_type, id, lock=True)
        if row is None:
            if if_match is not None:  # a version was asserted: there is nothing it could match
                raise NotFound(f"{resource_type}/{id} is not known")
            return None  # R4 http.html#delete: deleting what does not exist at all succeeds, as for a deleted one
        if if_match is not None and if_match != row.version:
            raise PreconditionFailed(f"If-Match version {if_match} does not match current version {row.version}"
                                     f" of {resource_type}/{id}")
        if row.deleted:
            return None
        stamp = max(now_us(), row.updated_us + 1)
        version = row.version + 1
        self._updates[row.rid] = {"version": version, "updated_us": stamp, "deleted": True, "content": None}
        self._versions.append({"rid": row.rid, "res_type": resource_type, "res_id": id, "version": version,
                               "updated_us": stamp, "method": "DELETE", "deleted": True, "content": None})
        self._known[(resource_type, id)] = CurrentRow(row.rid, resource_type, id, version, stamp, True, None, True)
        self._clear_index(row.rid)
        self._deleted.append((resource_type, id))
        return StoredResource(resource_type, id, version, instant(stamp), None, True, "DELETE", stamp)

    # -- reads --------------------------------------------------------------------------------------------
    def read(self, resource_type: str, id: str) -> StoredResource:
        row = self._current(resource_type, id)
        if row is None:
            raise NotFound(f"{resource_type}/{id} is not known")
        if row.deleted:
            raise Gone(f"{resource_type}/{id} was deleted (version {row.version})")
        return _stored(row)

    def vread(self, resource_type: str, id: str, version_id: int) -> StoredResource:
        self.flush()
        v = self.t.version
        row = self.conn.execute(select(v).where(v.c.res_type == resource_type, v.c.res_id == id,
                                                v.c.version == version_id)).first()
        if row is None:
            if self._current(resource_type, id) is None:
                raise NotFound(f"{resource_type}/{id} is not known")
            raise NotFound(f"{resource_type}/{id} has no version {version_id}")
        if row.deleted:
            raise Gone(f"version {version_id} of {resource_type}/{id} is a deletion")
        return _stored(row, row.method)

    def history(self, resource_type: str | None = None, id: str | None = None, *, count: int = 20,
                since: str | None = None, cursor: str | None = None) -> tuple[list[StoredResource], str | None]:
        self.flush()
        v = self.t.version
        conds = []
        if resource_type:
            conds.append(v.c.res_type == resource_type)
        if id is not None:
            if self._current(resource_type or "", id) is None:
                raise NotFound(f"{resource_type}/{id} is not known")
            conds.append(v.c.res_id == id)
        if since:
            try:
                conds.append(v.c.updated_us >= date_range(since)[0])
            except DateFormatError as exc:
                raise InvalidSearch(f"_since: {exc}") from None
        if cursor:
            conds.append(v.c.vid < decode_cursor(cursor, [int])[0])
        count = max(0, min(count, MAX_COUNT))
        rows = self.conn.execute(select(v).where(*conds).order_by(v.c.vid.desc()).limit(count + 1)).all()
        more = len(rows) > count
        rows = rows[:count]
        next_cursor = encode_cursor([rows[-1].vid]) if more and rows else None
        return [_stored(row, row.method) for row in rows], next_cursor

    def find(self, resource_type: str, query_string: str) -> list[StoredResource]:
        if "?" in query_string:  # `Patient?identifier=x` as well as `identifier=x`
            query_string = query_string.split("?", 1)[1]
        pairs = parse_qsl(query_string, keep_blank_values=True)
        params = [(k, val) for k, val in pairs if k not in CONTROL_PARAMS]
        if not params:
            raise InvalidSearch(f"conditional query {query_string!r} has no search criteria")
        result = self.search(SearchQuery(resource_type=resource_type, params=params, count=2, strict=True))
        return result.matches

    # -- search ---------------------------------------------------------------------------------------------
    def search(self, query: SearchQuery) -> SearchResult:
        self.flush()
        r = self.t.resource
        builder = SearchBuilder(self.t, self.repo.registry, strict=query.strict)
        membership: dict[str, list[str]] = {}
        if query.compartment:
            membership = self.repo.compartment_params(query.compartment[0])
            if not membership:
                raise InvalidSearch(f"{query.compartment[0]} is not a compartment")
        if query.resource_type:
            types = [query.resource_type]
        else:
            types = query.types or (sorted(membership) if query.compartment else [])
            for name in types:
                self._check_type(name)
        merge_allowed = True
        while True:
            plans, where, merged = self._search_plans(builder, query, types, membership, merge_allowed)
            matches, next_cursor, keys = self._search_page(builder, query, types, plans, where)
            # merged ranges were exact when planned: still so if no resource with several values of them
            # was committed meanwhile (PostgreSQL reads each statement from a new snapshot; a SQLite read
            # transaction is one snapshot from its first read); else re-plan
            if not merged or self.repo.dialect == "sqlite" or all(
                    self.repo.single_valued(self.conn, rt, codes) == codes for rt, codes in merged.items()):
                break
            merge_allowed = False
            builder.ignored.clear()
        count = max(0, min(query.count, MAX_COUNT))
        total = None
        if query.total == "accurate" or count == 0:
            total = self.conn.execute(select(func.count()).select_from(r).where(where)).scalar_one()
        elif next_cursor is None and not query.cursor:
            total = len(matches)
        for spec in [*query.include, *query.revinclude]:
            self._include_spec(spec.removeprefix("iterate:"))  # a malformed one is a 400 even with no match
        included = self._includes(matches, query) if matches else []
        return SearchResult(matches=[_stored(row, "GET") for row in matches], included=included, total=total,
                            next_cursor=next_cursor, ignored=builder.ignored)

    def _search_plans(self, builder: SearchBuilder, query: SearchQuery, types: list[str],
                      membership: dict[str, list[str]], merge_allowed: bool
                      ) -> tuple[list[tuple[str | None, list[IndexMatch], list[Any]]], Any, dict[str, set[str]]]:
        """Per resource type: the parameters answered from an index table (IndexMatch, ranges on one
        single-valued parameter merged) and the other conditions; the WHERE clause of them all on the
        resource table; and which parameters were merged, per type."""
        r = self.t.resource
        plans: list[tuple[str | None, list[IndexMatch], list[Any]]] = []
        merged: dict[str, set[str]] = {}
        per_type = []
        for resource_type in (types or [None]):  # type: ignore[list-item]
            name = resource_type or "Resource"
            conds = [r.c.res_type == resource_type] if resource_type else []
            if query.compartment:
                owner = "/".join(query.compartment)
                members = [builder.condition(name, r, param, owner) for param in membership.get(name, [])]
                members = [m for m in members if m is not None]
                conds.append(or_(*members) if members else false())
            index_matches: list[IndexMatch] = []
            for key, raw in query.params:
                match = builder.index_match(name, key, raw)
                if match is not None:
                    index_matches.append(match)
                    continue
                cond = builder.condition(name, r, key, raw)
                if cond is not None:
                    conds.append(cond)
            if merge_allowed:
                index_matches, codes = self._merge_ranges(name, index_matches)
                if codes:
                    merged[name] = codes
            plans.append((resource_type, index_matches, conds))
            all_conds = [*conds, *[r.c.rid.in_(m.rids()) for m in index_matches]]
            per_type.append(and_(*all_conds) if all_conds else true())
        where = and_(r.c.deleted == false(), or_(*per_type) if len(per_type) > 1 else per_type[0])
        return plans, where, merged

    def _merge_ranges(self, resource_type: str, index_matches: list[IndexMatch]) -> tuple[list[IndexMatch], set[str]]:
        """Repeated range parameters (`date=ge2022-01-01&date=lt2022-01-08`) as one condition on one index
        row, for the parameters no stored resource of this type has several values of (IndexMatch.merged)."""
        groups: dict[str, list[IndexMatch]] = {}
        for match in index_matches:
            if match.mergeable:
                groups.setdefault(match.code, []).append(match)
        repeated = [code for code, group in groups.items() if len(group) > 1]
        if not repeated:
            return index_matches, set()
        single = self.repo.single_valued(self.conn, resource_type, repeated)
        out: list[IndexMatch] = []
        for match in index_matches:
            if not (match.mergeable and match.code in single):
                out.append(match)
            elif match is groups[match.code][0]:
                out.append(match.merged(groups[match.code][1:]))
        return out, single

    def _search_page(self, builder: SearchBuilder, query: SearchQuery, types: list[str],
                     plans: list[tuple[str | None, list[IndexMatch], list[Any]]], where: Any
                     ) -> tuple[list[Any], str | None, list[tuple[Any, bool]]]:
        """One page of matches and the cursor of the next. In the default order (rid) a search of one type
        with an indexed parameter is driven from that parameter's index rows (`_driven_page`); otherwise
        (sorting by parameters, several types, only special parameters) the resource table is filtered."""
        r = self.t.resource
        keys: list[tuple[Any, bool]] = []
        kinds: list[type] = []
        for item in query.sort:
            name = item.lstrip("-")
            descending = item.startswith("-")
            if len(types) != 1 and name not in ("_id", "_lastUpdated"):
                raise InvalidSearch(f"_sort={name} needs a single resource type")
            expression, kind = builder.sort_key(types[0] if types else "Resource", r, name, descending)
            keys.append((expression, descending))
            kinds.append(kind)
        keys.append((r.c.rid, False))
        kinds.append(int)
        count = max(0, min(query.count, MAX_COUNT))
        values = decode_cursor(query.cursor, kinds) if query.cursor else None
        if count == 0:
            return [], None, keys
        if len(keys) == 1 and len(plans) == 1 and plans[0][0] is not None and plans[0][1]:
            _, index_matches, conds = plans[0]
            return (*self._driven_page(index_matches, conds, count, values[0] if values else None), keys)
        page_where = and_(where, self._after(keys, values)) if values else where
        key_columns = [expr.label(f"k{i}") for i, (expr, _) in enumerate(keys)]
        order = [expr.desc() if desc else expr.asc() for expr, desc in keys]
        stmt = (select(r.c.rid, r.c.res_type, r.c.res_id, r.c.version, r.c.updated_us, r.c.deleted,
                       r.c.content, *key_columns).where(page_where).order_by(*order).limit(count + 1))
        rows = self.conn.execute(stmt).all()
        next_cursor = None
        if len(rows) > count:
            rows = rows[:count]
            next_cursor = encode_cursor([getattr(rows[-1], f"k{i}") for i in range(len(keys))])
        return rows, next_cursor, keys

    def _driven_page(self, index_matches: list[IndexMatch], conds: list[Any], count: int,
                     after: int | None) -> tuple[list[Any], str | None]:
        """A page in rid order read from the index rows of the most selective-looking parameter (DRIVER_RANK)
        joined to the resource table, the other parameters probed per candidate (EXISTS): the index yields
        its rows in rid order (its columns end with rid), so the page costs the same however many resources
        match. A resource with several matching rows comes once (the rows are adjacent in rid order)."""
        r = self.t.resource
        driver = min(index_matches, key=lambda m: DRIVER_RANK.get(m.kind, 9))
        probes = [m.exists(r) for m in index_matches if m is not driver]
        side = self._narrowest_side(driver)
        if side:
            driver = driver.narrowed(side)
        t = driver.table
        base = (select(r.c.rid, r.c.res_type, r.c.res_id, r.c.version, r.c.updated_us, r.c.deleted, r.c.content)
                .select_from(t.join(r, r.c.rid == t.c.rid))
                .where(*driver.conditions(), r.c.deleted == false(), *conds, *probes))
        rows: list[Any] = []
        last = after
        while True:
            wanted = count + 1 - len(rows)
            stmt = base.where(t.c.rid > last) if last is not None else base
            batch = self.conn.execute(stmt.order_by(t.c.rid).limit(wanted)).all()
            for row in batch:
                if not rows or rows[-1].rid != row.rid:
                    rows.append(row)
            if len(batch) < wanted or len(rows) > count:
                break
            last = batch[-1].rid
        next_cursor = None
        if len(rows) > count:
            rows = rows[:count]
            next_cursor = encode_cursor([rows[-1].rid])
        return rows, next_cursor

    def _narrowest_side(self, match: IndexMatch) -> str | None:
        """SQLite: which index a date range should be scanned with, `low` or `high`. A range `high > a AND
        low < b` can be read from either index, and which is narrow depends on where [a, b) lies in the data
        (a week at the start of the stored dates: few rows have low < b, nearly all have high > a); SQLite
        keeps no histograms (no STAT4), so two bounded counts (at most NARROW_PROBE index entries each) tell.
        PostgreSQL's planner has histograms once analysed: None there, and when only one side is bounded."""
        if self.repo.dialect != "sqlite" or match.kind != "date" or match.rebuild is None:
            return None
        if match.low_lt is None or match.high_gt is None:
            return "low" if match.low_lt is not None else ("high" if match.high_gt is not None else None)
        t = match.table
        base = [t.c.res_type == match.resource_type, t.c.param == match.code]

        def rows(bound: Any) -> int:
            sample = select(t.c.rid).where(*base, bound).limit(NARROW_PROBE).subquery()
            return int(self.conn.execute(select(func.count()).select_from(sample)).scalar_one())
        return "low" if rows(t.c.low < match.low_lt) <= rows(t.c.high > match.high_gt) else "high"

    @staticmethod
    def _after(keys: list[tuple[Any, bool]], values: list[Any]) -> Any:
        """Keyset condition: rows strictly after `values` in the (mixed-direction) sort order."""
        clauses = []
        for i, (expr, descending) in enumerate(keys):
            equal_before = [keys[j][0] == values[j] for j in range(i)]
            step = expr < values[i] if descending else expr > values[i]
            clauses.append(and_(*equal_before, step))
        return or_(*clauses)

    def _includes(self, rows: list[Any], query: SearchQuery) -> list[StoredResource]:
        seen = {row.rid for row in rows}
        included: list[Any] = []
        frontier = list(rows)
        specs = [(s, False) for s in query.include] + [(s, True) for s in query.revinclude]
        for depth in range(3):
            found = []
            for spec, reverse in specs:
                iterate = spec.startswith("iterate:")
                if depth > 0 and not iterate:
                    continue
                for row in self._include_rows(frontier, spec.removeprefix("iterate:"), reverse):
                    if row.rid not in seen:
                        seen.add(row.rid)
                        found.append(row)
            if not found:
                break
            included.extend(found)
            frontier = found
        return [_stored(row, "GET") for row in included]

    def _include_spec(self, spec: str) -> tuple[str | None, str, str | None]:
        """(source type, parameter or *, target type) of an _include/_revinclude value."""
        if spec == "*":
            return None, "*", None
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidSearch(f"include {spec!r} is not Type:parameter[:targetType]")
        source, name, target = parts[0], parts[1], (parts[2] if len(parts) == 3 else None)
        if source not in self.repo.resource_types or (target and target not in self.repo.resource_types):
            raise InvalidSearch(f"include {spec!r} names an unknown resource type")
        if name != "*":
            param = self.repo.registry.get(source, name)
            if param is None or param.type != "reference":
                raise InvalidSearch(f"{source}:{name} is not a reference search parameter")
        return source, name, target

    def _include_rows(self, rows: list[Any], spec: str, reverse: bool) -> list[Any]:
        source, name, target = self._include_spec(spec)
        ref, r = self.t.reference, self.t.resource
        other = r.alias()
        base = r.alias()
        rids = [row.rid for row in rows if source is None or reverse or row.res_type == source]
        if not rids:
            return []
        conds = [other.c.deleted == false()]
        if name != "*":
            conds.append(ref.c.param == name)
        if not reverse:  # the page's resources reference the included ones
            stmt = (select(other).join(ref, and_(other.c.res_type == ref.c.target_type,
                                                 other.c.res_id == ref.c.target_id))
                    .where(ref.c.rid.in_(rids), *conds))
            if target:
                stmt = stmt.where(other.c.res_type == target)
        else:  # the included resources reference the page's ones
            stmt = (select(other).join(ref, other.c.rid == ref.c.rid)
                    .join(base, and_(base.c.res_type == ref.c.target_type, base.c.res_id == ref.c.target_id))
                    .where(base.c.rid.in_(rids), *conds))
            if source:
                stmt = stmt.where(ref.c.res_type == source)
            if target:
                stmt = stmt.where(base.c.res_type == target)
        return list(self.conn.execute(stmt.order_by(other.c.rid)).all())

    def everything(self, patient_id: str) -> list[StoredResource]:
        """The Patient, every resource that references it, and what the Patient and those reference (one
        level: practitioners, organisations, medications, ...), each once."""
        items, cursor = self.everything_page(patient_id, count=MAX_EVERYTHING)
        while cursor:
            more, cursor = self.everything_page(patient_id, count=MAX_EVERYTHING, cursor=cursor)
            items.extend(more)
        return items

    def everything_page(self, patient_id: str, *, count: int = 20,
                        cursor: str | None = None) -> tuple[list[StoredResource], str | None]:
        """One page of `everything`: the Patient first (on the first page), then the other members in
        `rid` order from a keyset cursor, so that a page costs the same however deep it is."""
        self.flush()
        patient = self.read("Patient", patient_id)
        row = self._current("Patient", patient_id)
        ref, r = self.t.reference, self.t.resource
        referring = (select(ref.c.rid).join(r, r.c.rid == ref.c.rid)
                     .where(ref.c.target_type == "Patient", ref.c.target_id == patient_id, r.c.deleted == false()))
        sources = select(ref.c.rid).where(or_(ref.c.rid == row.rid, ref.c.rid.in_(referring))).subquery()
        referenced = (select(r.c.rid).join(ref, and_(r.c.res_type == ref.c.target_type,
                                                     r.c.res_id == ref.c.target_id))
                      .where(ref.c.rid.in_(select(sources.c.rid)), r.c.deleted == false()))
        members = referring.union(referenced).subquery()
        conds = [r.c.rid.in_(select(members.c.rid)), r.c.rid != row.rid]
        if cursor:
            conds.append(r.c.rid > decode_cursor(cursor, [int])[0])
        count = max(1, min(count, MAX_COUNT))
        limit = count - (0 if cursor else 1)  # the first page holds the Patient too
        rows = self.conn.execute(select(r).where(*conds).order_by(r.c.rid).limit(limit + 1)).all()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor([rows[-1].rid if rows else 0])  # 0: from the first member
        page = [_stored(x, "GET") for x in rows]
        return ([] if cursor else [patient]) + page, next_cursor
