"""Export a store as NDJSON in the Bulk Data layout: one `<ResourceType>.ndjson` per type plus `manifest.json`.

Only current, non-deleted versions are written (what a Bulk Data `$export` returns). The store is read
through the Repository's search with keyset paging (the `next_cursor` of each page), one system-level search
over the requested types ordered by the store's stable key, so memory holds one page at a time however big
the store is, and no page costs more than the first (no OFFSET).

Consistency without a long read transaction: `transactionTime` is taken BEFORE the first page is read.
A resource changed while the export runs may or may not be in the files, but its lastUpdated is after
`transactionTime`, so the next incremental export (`_since` = this `transactionTime`; `_since` is inclusive)
delivers it: nothing is ever missed, at worst something is delivered twice.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable

from fhir_service.store import fhirjson
from fhir_service.store.dates import instant, now_us
from fhir_service.store.repository import SearchQuery
from fhir_service.transform.bulk.manifest import (MANIFEST_NAME, NDJSON_SUFFIX, Manifest, OutputFile, export_request,
                                                  file_name, is_instant, write_manifest)

PAGE_SIZE = 1000  # the store's largest page (MAX_COUNT): fewer round trips, still a bounded amount of memory


class ExportError(ValueError):
    """The export was asked for something it cannot do (unknown type, bad _since, a folder in the way)."""


@dataclass
class _TypeFile:
    handle: IO[bytes]
    name: str
    count: int = 0


def _check_types(types: Iterable[str] | None, known: frozenset[str]) -> list[str] | None:
    if types is None:
        return None
    wanted = sorted({t.strip() for t in types if t and t.strip()})
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise ExportError(f"_type: unknown resource type(s) {', '.join(unknown)}")
    if not wanted:
        raise ExportError("_type: no resource type given")
    return wanted


def _prepare_folder(out_dir: Path, overwrite: bool) -> None:
    """Create the folder; refuse one holding a previous export unless `overwrite` (then remove those files),
    so that a folder never mixes the files of two exports (an import reads every *.ndjson of a folder)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = [p for p in out_dir.iterdir() if p.name == MANIFEST_NAME or p.name.endswith(NDJSON_SUFFIX)]
    if previous and not overwrite:
        raise ExportError(f"{out_dir} already holds an export ({previous[0].name}, ...); choose an empty folder"
                          " or overwrite it (--force)")
    for path in previous:
        path.unlink()


def export_store(repository: Any, out_dir: str | Path, *, types: Iterable[str] | None = None,
                 since: str | None = None, base_url: str | None = None, overwrite: bool = False,
                 page_size: int = PAGE_SIZE) -> Manifest:
    """Write the store's current resources to `out_dir` and return the manifest (also written there).

    `types` is `_type` (resource types; default: every type in the store), `since` is `_since` (a FHIR
    instant; resources last updated at or after it). `base_url` only shapes the manifest's `request`.
    Raises ExportError for a request it cannot serve, before any file is written.
    """
    out_dir = Path(out_dir)
    wanted = _check_types(types, repository.resource_types)
    params: list[tuple[str, str]] = []
    if since is not None:
        if not is_instant(since):
            raise ExportError(f"_since: {since!r} is not a FHIR instant (e.g. 2024-01-31T12:00:00Z)")
        params.append(("_lastUpdated", f"ge{since}"))
    _prepare_folder(out_dir, overwrite)

    transaction_time = instant(now_us())
    files: dict[str, _TypeFile] = {}
    try:
        cursor: str | None = None
        while True:
            page = repository.search(SearchQuery(resource_type=None, params=params, count=page_size,
                                                 types=wanted or [], cursor=cursor, total="none"))
            for stored in page.matches:
                out = files.get(stored.resource_type)
                if out is None:
                    name = file_name(stored.resource_type)
                    out = files[stored.resource_type] = _TypeFile(open(out_dir / f".{name}.part", "wb"), name)
                out.handle.write(fhirjson.dumps(stored.resource) + b"\n")
                out.count += 1
            cursor = page.next_cursor
            if not cursor:
                break
    except BaseException:
        for out in files.values():
            out.handle.close()
            (out_dir / f".{out.name}.part").unlink(missing_ok=True)
        raise
    for out in files.values():
        out.handle.close()
        os.replace(out_dir / f".{out.name}.part", out_dir / out.name)  # whole files only, never a torn one

    manifest = Manifest(transaction_time=transaction_time, request=export_request(base_url, wanted, since),
                        output=[OutputFile(t, files[t].name, files[t].count) for t in sorted(files)])
    write_manifest(manifest, out_dir)
    return manifest
