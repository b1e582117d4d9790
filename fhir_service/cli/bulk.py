"""`fhir-service export` and `fhir-service import`: a store to and from NDJSON in the Bulk Data layout.

    fhir-service export [--db URL] --out DIR [--type T,...] [--since INSTANT] [--force]
    fhir-service import [--db URL] [--batch-size N] [--outcome FILE] DIR|FILE...

Without --db both use the embedded SQLite database of `fhir-service serve` (var/fhir.sqlite3 under the
current directory); export refuses to read one that does not exist rather than export an empty new one.
export prints the manifest (also written as DIR/manifest.json) on stdout. import prints one line per issue
on stderr (`FILE:LINE:COL: SEVERITY: EXPRESSION: MESSAGE`) and a summary on stdout; `--outcome FILE` also
writes the issues as an OperationOutcome.
Exit status: 0 done (warnings allowed); 1 some lines were rejected (the others are imported); 2 usage: bad
options, a missing or unreadable input, a database that cannot be opened, an import stopped by the store.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


def _command(parser: argparse.ArgumentParser) -> str:
    return parser.prog.rsplit(" ", 1)[-1]


def _db_help() -> str:
    from fhir_service.cli.load import DEFAULT_DB_PATH
    return f"SQLAlchemy URL of the store (default: the embedded SQLite file {DEFAULT_DB_PATH} of `serve`)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", help=_db_help())
    if _command(parser) == "export":
        parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                            help="folder for <ResourceType>.ndjson files and manifest.json")
        parser.add_argument("--type", action="append", metavar="T,...",
                            help="_type: only these resource types (comma-separated; may be repeated)")
        parser.add_argument("--since", metavar="INSTANT",
                            help="_since: only resources last updated at or after this FHIR instant")
        parser.add_argument("--force", action="store_true",
                            help="replace the ndjson files and manifest of an earlier export in DIR")
    else:
        parser.add_argument("inputs", nargs="+", metavar="DIR|FILE",
                            help="a Bulk Data folder (manifest.json or *.ndjson), a manifest, or .ndjson files")
        parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                            help="lines per database transaction (default 500)")
        parser.add_argument("--outcome", type=Path, metavar="FILE",
                            help="also write the issues as an OperationOutcome JSON file")


def _open_store(url: str | None, *, must_exist: bool) -> Any:
    """The repository at `url` (default: serve's embedded file), or None after printing why not."""
    from fhir_service.cli.load import DEFAULT_DB_PATH, default_db_url
    from fhir_service.store.sql_repository import SqlRepository

    if url is None:
        if must_exist and not DEFAULT_DB_PATH.is_file():
            print(f"fhir-service: no database at {DEFAULT_DB_PATH} (run `fhir-service serve` or `load` here first,"
                  " or give --db URL)", file=sys.stderr)
            return None
        url = default_db_url()
    try:
        return SqlRepository(url)
    except Exception as exc:  # noqa: BLE001 - bad URL, unreachable server, missing driver
        print(f"fhir-service: cannot open database {url}: {type(exc).__name__}: {str(exc).splitlines()[0]}",
              file=sys.stderr)
        return None


def _types(raw: list[str] | None) -> list[str] | None:
    if raw is None:
        return None
    return [t.strip() for item in raw for t in item.split(",") if t.strip()]


def run_export(args: argparse.Namespace) -> int:
    from fhir_service.cli.output import dumps
    from fhir_service.transform.bulk import ExportError, export_store

    repo = _open_store(args.db, must_exist=True)
    if repo is None:
        return EXIT_USAGE
    try:
        manifest = export_store(repo, args.out, types=_types(args.type), since=args.since, overwrite=args.force)
    except ExportError as exc:
        print(f"fhir-service export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"fhir-service export: cannot write to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the database failed while reading: no partial files are left
        print(f"fhir-service export: reading the store failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        repo.close()
    print(dumps(manifest.as_json()))
    print(f"exported {manifest.total} resources in {len(manifest.output)} file(s) to {args.out}", file=sys.stderr)
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    from fhir_service.cli.output import dumps, issue_line
    from fhir_service.transform.bulk import SourceError, import_ndjson
    from fhir_service.transform.bulk.importer import BATCH_SIZE

    if args.batch_size is not None and args.batch_size < 1:
        print("fhir-service import: --batch-size must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    repo = _open_store(args.db, must_exist=False)
    if repo is None:
        return EXIT_USAGE
    try:
        report = import_ndjson(repo, args.inputs, batch_size=args.batch_size or BATCH_SIZE)
    except SourceError as exc:
        print(f"fhir-service import: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        repo.close()
    for item in report.issues:
        print(issue_line(item.file, item.issue), file=sys.stderr)
    for file in report.files:
        print(f"{file.path}: {file.imported} imported, {file.rejected} rejected")
    print(report.summary())
    if args.outcome is not None:
        try:
            args.outcome.write_text(dumps(report.operation_outcome()) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"fhir-service import: cannot write {args.outcome}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    if report.stopped:
        return EXIT_USAGE
    return EXIT_OK if report.ok else EXIT_REJECTED


def run(args: argparse.Namespace) -> int:
    return run_export(args) if args.command == "export" else run_import(args)
