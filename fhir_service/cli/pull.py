"""`fhir-service pull --server URL [--token T] QUERY... [--out FILE.ndjson|DIR] [--bundle]`.

QUERY is relative to the server base: a search (`Patient?_id=x&_revinclude=Observation:subject`), an operation
returning a searchset (`Patient/x/$everything`) or a read (`Patient/x`). Every page is followed; a resource
reached twice is written once. Output: NDJSON (one resource per line, FHIR bulk-data style) on stdout, in
FILE, or in DIR as one `<Type>.ndjson` per resource type; `--bundle` writes one collection Bundle instead
(stdout or FILE). Files are written whole or not at all (a temporary file renamed at the end).
Exit status: 0 every query answered; 1 a query failed (what the others pulled is still written);
2 a usage error or no usable connection (unreachable server, timeout, 401/403).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from fhir_service.client.cli_common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_connection_options, make_client
from fhir_service.client.errors import FhirClientError
from fhir_service.client.progress import Progress
from fhir_service.client.pull import PullResult, check_query, pull
from fhir_service.store import fhirjson

PROG = "fhir-service pull"
FATAL_STATUSES = (401, 403)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("exit status: 0 every query answered, 1 a query failed (the rest is written), 2 a usage "
                     "error or no usable connection (unreachable, timeout, 401/403).")
    parser.add_argument("queries", nargs="+", metavar="QUERY",
                        help="relative to the base: 'Patient?_id=x&_revinclude=Observation:subject', "
                             "'Patient/x/$everything', 'Patient/x'")
    add_connection_options(parser)
    parser.add_argument("--out", metavar="FILE.ndjson|DIR", default=None,
                        help="write here instead of stdout; an existing directory (or a path ending in '/') gets "
                             "one <Type>.ndjson per resource type")
    parser.add_argument("--bundle", action="store_true", help="write one collection Bundle instead of NDJSON")


def _atomic_write(path: Path, chunks: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def ndjson(resources: list[dict[str, Any]]) -> list[bytes]:
    return [fhirjson.dumps(r) + b"\n" for r in resources]


def write_output(result: PullResult, out: str | None, as_bundle: bool, stdout: TextIO) -> list[Path]:
    """Writes the pulled resources; returns the files written (none for stdout)."""
    resources = list(result.resources.values())
    if out is None:
        data = [fhirjson.dumps(result.collection(), pretty=True) + b"\n"] if as_bundle else ndjson(resources)
        for chunk in data:
            stdout.write(chunk.decode("utf-8"))
        stdout.flush()
        return []
    target = Path(out)
    if as_bundle:
        _atomic_write(target, [fhirjson.dumps(result.collection(), pretty=True) + b"\n"])
        return [target]
    if target.is_dir() or out.endswith(("/", os.sep)):
        by_type: dict[str, list[dict[str, Any]]] = {}
        for resource in resources:
            by_type.setdefault(str(resource.get("resourceType")), []).append(resource)
        written = []
        for resource_type, items in sorted(by_type.items()):
            path = target / f"{resource_type}.ndjson"
            _atomic_write(path, ndjson(items))
            written.append(path)
        return written
    _atomic_write(target, ndjson(resources))
    return [target]


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    if args.bundle and args.out and Path(args.out).is_dir():
        print(f"{PROG}: --bundle writes one file; {args.out} is a directory", file=err)
        return EXIT_USAGE
    try:
        client = make_client(args)
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_USAGE
    with client:
        problems = [p for p in (check_query(client, q) for q in args.queries) if p]
        if problems:
            for problem in problems:
                print(f"{PROG}: {problem}", file=err)
            return EXIT_USAGE
        with Progress("pull", unit="resources", stream=err, enabled=False if args.quiet else None) as progress:
            try:
                result = pull(client, args.queries, on_resource=progress.update)
            except FhirClientError as failure:
                progress.close()
                print(f"{PROG}: {failure}", file=err)
                return EXIT_USAGE
    fatal = [e for e in result.errors if e.status in FATAL_STATUSES]
    for error in result.errors:
        print(f"{PROG}: {error}", file=err)
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=err)
    if fatal:
        return EXIT_USAGE
    try:
        written = write_output(result, args.out, args.bundle, out)
    except OSError as exc:
        print(f"{PROG}: cannot write {args.out}: {exc.strerror or exc}", file=err)
        return EXIT_USAGE
    if not args.quiet:
        counts = Counter(str(r.get("resourceType")) for r in result.resources.values())
        detail = ", ".join(f"{t} {n}" for t, n in sorted(counts.items()))
        where = f" -> {', '.join(str(p) for p in written)}" if written else ""
        print(f"{PROG}: {len(result.resources)} resources ({detail or 'none'}) from {len(args.queries)} "
              f"queries{where}", file=err)
    return EXIT_FAILED if result.errors else EXIT_OK
