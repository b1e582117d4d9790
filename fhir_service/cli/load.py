"""`fhir-service load FILE... [--db URL]`: load Bundles and resources into a store, idempotently.

Exit 0 when every file loaded, 1 when one failed (its OperationOutcome is printed on stderr), 2 on usage.
Without --db the embedded database of `serve` is used (var/fhir.sqlite3 under the current directory).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


DEFAULT_DB_PATH = Path("var") / "fhir.sqlite3"


def default_db_url() -> str:
    DEFAULT_DB_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_DB_PATH.resolve()}"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="FHIR JSON (or XML) files: Bundles or single resources")
    parser.add_argument("--db", metavar="URL", help=f"SQLAlchemy URL (default: sqlite file {DEFAULT_DB_PATH})")


def run(args: argparse.Namespace) -> int:
    from fhir_service.rest import FhirRest
    from fhir_service.rest.loader import load_file
    from fhir_service.store import fhirjson
    from fhir_service.store.sql_repository import SqlRepository

    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        print(f"fhir-service load: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        repo = SqlRepository(args.db or default_db_url())
    except Exception as exc:  # bad URL, unreachable server
        print(f"fhir-service load: cannot open database: {exc}", file=sys.stderr)
        return 2
    rest = FhirRest(repo)
    failed = 0
    for path in args.files:
        result = load_file(rest, path)
        print(result.summary())
        for warning in result.warnings:
            print(f"{path}: warning: {warning}", file=sys.stderr)
        if not result.ok:
            failed += 1
            sys.stderr.write(fhirjson.dumps(result.outcome, pretty=True).decode() + "\n")
    try:  # fresh planner statistics for what was loaded (a bulk load leaves the planner guessing)
        repo.analyze()
    except Exception as exc:  # noqa: BLE001 - the data are loaded; statistics are an optimisation
        print(f"fhir-service load: ANALYZE failed: {exc}", file=sys.stderr)
    repo.close()
    return 1 if failed else 0
