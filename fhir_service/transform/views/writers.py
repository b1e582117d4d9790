"""Writing view rows: CSV and NDJSON (streamed, a row at a time) and Parquet (optional, via pyarrow).

Values are rendered the same way in every text format: null is empty (CSV) / null (NDJSON), booleans
`true`/`false`, numbers as numbers (decimals keep their digits in CSV; in NDJSON they are JSON numbers),
strings as they are, and collection or complex values (a Coding, a list of given names) as JSON text in CSV
and as JSON in NDJSON. Parquet gets a typed schema from the columns' declared FHIR types.
pyarrow is large (~170 MB installed), so it is an optional extra: without it, parquet output reports that.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import IO, Any

import orjson

from fhir_service.transform.views.model import Column

FORMATS = ("csv", "ndjson", "parquet")
PARQUET_BATCH = 10_000
_INTEGER_TYPES = frozenset({"integer", "positiveInt", "unsignedInt", "integer64"})


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    return str(value)  # an engine value without JSON form (none is expected after to_json)


def to_json_bytes(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default)


def csv_cell(value: Any) -> str:
    """The CSV text of one value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return to_json_bytes(value).decode("utf-8")


def write_csv(rows: Iterable[dict[str, Any]], names: Sequence[str], stream: IO[str]) -> int:
    """A header of `names`, then one line per row; returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(names)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(row.get(name)) for name in names])
        count += 1
    return count


def write_ndjson(rows: Iterable[dict[str, Any]], stream: IO[bytes]) -> int:
    """One JSON object per line, keys in column order; returns the number of rows."""
    count = 0
    for row in rows:
        stream.write(to_json_bytes(row))
        stream.write(b"\n")
        count += 1
    return count


class ParquetUnavailable(RuntimeError):
    """pyarrow is not installed (it is the optional `parquet` extra)."""


def _arrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise ParquetUnavailable("parquet output needs pyarrow (pip install 'fhir-service[parquet]')") from exc
    return pyarrow


def arrow_schema(columns: Sequence[Column]) -> Any:
    """Arrow types from the declared FHIR types: boolean, int64, float64 (decimal) or string; lists for
    collection columns. Undeclared and complex types are strings (complex values as JSON text)."""
    pa = _arrow()
    fields = []
    for column in columns:
        if column.type == "boolean":
            kind = pa.bool_()
        elif column.type in _INTEGER_TYPES:
            kind = pa.int64()
        elif column.type == "decimal":
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(column.name, pa.list_(kind) if column.collection else kind))
    return pa.schema(fields)


def _parquet_value(value: Any, arrow_type: Any, pa: Any) -> Any:
    if value is None:
        return None
    if pa.types.is_list(arrow_type):
        return [_parquet_value(item, arrow_type.value_type, pa) for item in value]
    if pa.types.is_string(arrow_type):
        return value if isinstance(value, str) else csv_cell(value)
    if pa.types.is_floating(arrow_type):
        return float(value)
    if pa.types.is_integer(arrow_type):
        return int(value)
    return value


def write_parquet(rows: Iterable[dict[str, Any]], columns: Sequence[Column], sink: Any) -> int:
    """Rows in batches of PARQUET_BATCH (memory stays bounded); `sink` is a path or a binary file."""
    pa = _arrow()
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    count = 0
    with pq.ParquetWriter(sink, schema) as writer:
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            arrays = [pa.array([_parquet_value(row.get(f.name), f.type, pa) for row in batch], type=f.type)
                      for f in schema]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            batch.clear()

        for row in rows:
            batch.append(row)
            count += 1
            if len(batch) >= PARQUET_BATCH:
                flush()
        if batch or count == 0:
            flush()
    return count
