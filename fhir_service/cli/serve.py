"""`fhir-service serve [--host 127.0.0.1] [--port 8080] [--db URL] [--dev]`: the FHIR server, base /fhir.

Without --db: an embedded SQLite file, var/fhir.sqlite3 under the current directory, preloaded (idempotently:
a restart changes nothing) with the repository's bundles/*.json. With --db URL: that database as it is.
Production runs gunicorn (gthread workers); --dev runs Flask's development server.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fhir_service.cli.load import DEFAULT_DB_PATH, default_db_url
from fhir_service.paths import bundles_dir

BUNDLES_DIR = bundles_dir()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080); the FHIR base is /fhir")
    parser.add_argument("--db", metavar="URL",
                        help=f"SQLAlchemy URL served as it is (default: {DEFAULT_DB_PATH}, preloaded with bundles/)")
    parser.add_argument("--dev", action="store_true", help="Flask development server instead of gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--validate-on-write", choices=("off", "warn", "enforce"), default="off",
                        help="validate writes against their meta.profile (default off)")
    parser.add_argument("--max-body-mb", type=float, default=16.0,
                        help="largest request body accepted, in MiB (default 16; larger is a 413)")
    parser.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                        help="browser origin allowed to write (POST/PUT/PATCH/DELETE), repeatable; '*' for any. "
                             "Any origin may read. Default: FHIR_SERVICE_CORS_ORIGINS, else none")
    parser.add_argument("--bundles", type=Path, default=BUNDLES_DIR,
                        help="folder preloaded into the embedded database (default: the repository's bundles/)")


def preload(db_url: str, folder: Path) -> int:
    """Load folder/*.json into the database once per start; returns the number of files that failed."""
    from fhir_service.rest import FhirRest
    from fhir_service.rest.loader import load_file
    from fhir_service.store.sql_repository import SqlRepository

    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    repo = SqlRepository(db_url)
    rest = FhirRest(repo)
    failed = 0
    for path in files:
        result = load_file(rest, path)
        print(f"preload {result.summary()}", file=sys.stderr)
        failed += not result.ok
    try:  # fresh planner statistics before the workers plan their first searches
        repo.analyze()
    except Exception as exc:  # noqa: BLE001 - serving without them is slower, not wrong
        print(f"preload: ANALYZE failed: {exc}", file=sys.stderr)
    repo.close()
    return failed


def _open_once(db_url: str) -> bool:
    """Open the database in the master process: a bad URL or an unreachable server is reported here, once,
    and the tables exist before the workers start."""
    from fhir_service.store.sql_repository import SqlRepository

    try:
        SqlRepository(db_url).close()
        return True
    except Exception as exc:  # bad URL, refused connection, no permission ...
        print(f"fhir-service serve: cannot open database {db_url}: {exc}", file=sys.stderr)
        return False


def run(args: argparse.Namespace) -> int:
    from fhir_service.rest import RestConfig
    from fhir_service.web import create_app

    db_url = args.db
    if db_url is None:
        db_url = default_db_url()
        failed = preload(db_url, args.bundles)
        if failed:
            print(f"fhir-service serve: {failed} bundle file(s) failed to load (see above); serving anyway",
                  file=sys.stderr)
    if args.max_body_mb <= 0:
        print("fhir-service serve: --max-body-mb must be positive", file=sys.stderr)
        return 2
    config = RestConfig(validate_on_write=args.validate_on_write, max_body_bytes=int(args.max_body_mb * 1024 * 1024))
    if not _open_once(db_url):
        return 2

    def factory():  # type: ignore[no-untyped-def]
        return create_app(db_url=db_url, config=config, cors_origins=args.cors_origin)

    print(f"FHIR base: http://{args.host}:{args.port}/fhir  (database: {db_url})", file=sys.stderr)
    if args.dev:
        factory().run(host=args.host, port=args.port, debug=False, threaded=True)
        return 0
    from fhir_service.web.server import GunicornApplication

    GunicornApplication(factory, {"bind": f"{args.host}:{args.port}", "workers": args.workers,
                                  "threads": args.threads, "worker_class": "gthread",
                                  "accesslog": "-", "timeout": 60,
                                  "control_socket_disable": True}).run()
    return 0
