"""The database tables, built per table prefix so that test runs (and tenants) can share one database.

- `<p>resource`: one row per logical resource holding its CURRENT version (the "current-version table"):
  surrogate key `rid` (also the stable keyset-paging key), type, id, version, lastUpdated, deleted, JSON.
- `<p>resource_version`: every version ever written (history, vread), with a global sequence `vid` that
  orders system history.
- `<p>idx_*`: search-index rows of the current version, keyed by `rid`, rebuilt at every write.
- `<p>store_meta`: key/value facts about the store (the index version: a change rebuilds the index).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGSERIAL-like identity.
IdType = BigInteger().with_variant(Integer(), "sqlite")


@dataclass
class Tables:
    metadata: MetaData
    resource: Table
    version: Table
    string: Table
    token: Table
    date: Table
    reference: Table
    quantity: Table
    number: Table
    uri: Table
    meta: Table

    def index_tables(self) -> dict[str, Table]:
        return {"string": self.string, "token": self.token, "date": self.date, "reference": self.reference,
                "quantity": self.quantity, "number": self.number, "uri": self.uri}


# indexes of earlier schemas that newer ones replace (dropped at open when present): name suffixes
LEGACY_INDEXES = ("ix_token_lookup", "ix_reference_lookup", "ix_uri_lookup", "ix_string_lookup", "ix_date_lookup",
                  "ix_quantity_lookup", "ix_number_lookup")


def build_tables(prefix: str = "") -> Tables:
    md = MetaData()
    p = prefix
    resource = Table(
        f"{p}resource", md,
        Column("rid", IdType, primary_key=True, autoincrement=True),
        Column("res_type", String(64), nullable=False),
        Column("res_id", String(64), nullable=False),
        Column("version", Integer, nullable=False),
        Column("updated_us", BigInteger, nullable=False),
        Column("deleted", Boolean, nullable=False, default=False),
        Column("content", Text, nullable=True),
        UniqueConstraint("res_type", "res_id", name=f"{p}uq_resource_type_id"),
        Index(f"{p}ix_resource_type_rid", "res_type", "rid"),
        Index(f"{p}ix_resource_type_updated", "res_type", "updated_us"),
    )
    version = Table(
        f"{p}resource_version", md,
        Column("vid", IdType, primary_key=True, autoincrement=True),
        Column("rid", BigInteger, nullable=False),
        Column("res_type", String(64), nullable=False),
        Column("res_id", String(64), nullable=False),
        Column("version", Integer, nullable=False),
        Column("updated_us", BigInteger, nullable=False),
        Column("method", String(8), nullable=False),
        Column("deleted", Boolean, nullable=False, default=False),
        Column("content", Text, nullable=True),
        UniqueConstraint("rid", "version", name=f"{p}uq_version_rid_version"),
        Index(f"{p}ix_version_type_vid", "res_type", "vid"),
    )

    def index_table(name: str, *columns: Column, lookup: tuple[str, ...],
                    extra: tuple[tuple[str, ...], ...] = ()) -> Table:
        return Table(
            f"{p}idx_{name}", md,
            Column("rid", BigInteger, nullable=False),
            Column("res_type", String(64), nullable=False),
            Column("param", String(128), nullable=False),
            *columns,
            Column("grp", Integer, nullable=True),  # composite parameters: the root element the row belongs to
            Index(f"{p}ix_{name}_rid", "rid"),
            # named by its columns: an index whose columns change gets a new name, so that stores made
            # before are given it at open (see SqlRepository._create_schema, which drops LEGACY_INDEXES)
            Index(f"{p}ix_{name}_{'_'.join(lookup)}", "res_type", "param", *lookup),
            *[Index(f"{p}ix_{name}_{'_'.join(cols)}", "res_type", "param", *cols) for cols in extra],
        )

    meta = Table(  # facts about the store itself, e.g. which version of the indexing rules built the index
        f"{p}store_meta", md,
        Column("key", String(64), primary_key=True),
        Column("value", String(256), nullable=False),
    )
    return Tables(
        metadata=md, resource=resource, version=version, meta=meta,
        string=index_table("string", Column("value_norm", String(512)), Column("value", String(512)),
                           lookup=("value_norm",)),
        # equality lookups end with rid: the matches of `code=system|x` (or `subject=Patient/1`) come out of
        # the index in rid order, so that a search page reads only its own rows (see query.IndexMatch)
        token=index_table("token", Column("system", String(512)), Column("code", String(512)),
                          Column("text", String(512)), lookup=("code", "system", "rid")),
        # ranges are searched from either end (lt/le/sa on low, gt/ge/eb on high): an index for each
        date=index_table("date", Column("low", BigInteger), Column("high", BigInteger), lookup=("low", "high"),
                         extra=(("high",),)),
        reference=index_table("reference", Column("target_type", String(64)), Column("target_id", String(64)),
                              Column("url", String(512)), lookup=("target_id", "target_type", "rid")),
        quantity=index_table("quantity", Column("value", Float), Column("system", String(512)),
                             Column("code", String(512)), Column("unit", String(512)), lookup=("value",)),
        number=index_table("number", Column("value", Float), lookup=("value",)),
        uri=index_table("uri", Column("value", String(512)), lookup=("value", "rid")),
    )
