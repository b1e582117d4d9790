"""`fhir-service transform view VIEW BUNDLE... [--format csv|ndjson|parquet] [--out FILE]`: a table from FHIR
data with a SQL-on-FHIR v2 ViewDefinition.

VIEW is a ViewDefinition JSON file or the name of a project view (lab-values, drug-administrations,
toxicity-grades, conditions, patients). Inputs are Bundles, single resources, or `.ndjson` files (one
resource per line, streamed). Rows stream from input to output; with --out the file appears only when the
whole table was written. Problems are printed on stderr as `FILE:LINE:COL: severity: where: message`.

Exit status: 0 table written; 1 the view is invalid or failed on the data; 2 usage error, unreadable input,
unknown view, or parquet without pyarrow.

Plugging in: the module has the subcommand contract of fhir_service.cli (`configure(parser)`,
`run(args) -> int`), so the `transform` command can add it as its `view` sub-subcommand.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from fhir_service.cli.output import text_report
from fhir_service.transform.views.catalog import load_view, project_views
from fhir_service.transform.views.compiler import ViewDefinitionError, compile_view
from fhir_service.transform.views.model import CompiledView, output_columns
from fhir_service.transform.views.runner import run_view
from fhir_service.transform.views.sources import Batch, NdjsonError, read_batch
from fhir_service.transform.views.writers import FORMATS, ParquetUnavailable, write_csv, write_ndjson, write_parquet
from fhir_service.validation.outcome import Issue

HELP = "a table (CSV, NDJSON, Parquet) from Bundles with a SQL-on-FHIR v2 ViewDefinition"
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (HELP + ". VIEW is a ViewDefinition JSON file or a project view; inputs are Bundles, "
                          "single resources, or .ndjson files (streamed).")
    parser.epilog = ("project views: " + ", ".join(project_views()) + ". Exit status: 0 table written; "
                     "1 invalid view or view failed on the data; 2 usage error, unreadable input, unknown view, "
                     "parquet without pyarrow.")
    parser.add_argument("view", metavar="VIEW", help="ViewDefinition JSON file, or a project view name")
    parser.add_argument("inputs", metavar="BUNDLE", nargs="+", help="Bundle / resource JSON or .ndjson files")
    parser.add_argument("--format", choices=FORMATS, default="csv", help="output format (default: csv)")
    parser.add_argument("--out", metavar="FILE", help="write the table to FILE (default: standard output)")


def _report(stderr: IO[str], name: str, issues: list[Issue]) -> None:
    for line in text_report(name, issues)[:-1]:  # the issue lines; the summary line adds nothing here
        print(line, file=stderr)


def _rows(view: CompiledView, batches: list[Batch]) -> Iterator[dict[str, Any]]:
    for batch in batches:
        yield from run_view(view, batch.resources, reference_map=batch.reference_map)


def _write(view: CompiledView, batches: list[Batch], fmt: str, sink: Any) -> int:
    rows = _rows(view, batches)
    if fmt == "csv":
        return write_csv(rows, view.columns, sink)
    if fmt == "ndjson":
        return write_ndjson(rows, sink)
    return write_parquet(rows, output_columns(view.root), sink)


def run(args: argparse.Namespace, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if args.format == "parquet" and not args.out:
        print("fhir-service transform view: --format parquet needs --out FILE", file=stderr)
        return EXIT_USAGE
    raw, issues = load_view(args.view)
    if raw is None:
        _report(stderr, args.view, issues)
        return EXIT_USAGE
    try:
        view = compile_view(raw)
    except ViewDefinitionError as exc:
        _report(stderr, args.view, exc.issues)
        return EXIT_INVALID
    batches = []
    status = EXIT_OK
    for name in args.inputs:
        batch, problems = read_batch(name)
        if batch is None:
            _report(stderr, name, problems)
            status = EXIT_USAGE
        else:
            batches.append(batch)
    if status != EXIT_OK:
        return status
    try:
        if args.out:
            count = _write_file(view, batches, args.format, Path(args.out))
        elif args.format == "csv":
            count = _write(view, batches, "csv", stdout)
        else:
            binary = getattr(stdout, "buffer", None)
            if binary is None:  # a text stream without bytes underneath (tests): encode through a buffer
                buffer = io.BytesIO()
                count = _write(view, batches, args.format, buffer)
                stdout.write(buffer.getvalue().decode("utf-8"))
            else:
                stdout.flush()
                count = _write(view, batches, args.format, binary)
                binary.flush()
    except ViewDefinitionError as exc:
        _report(stderr, args.view, exc.issues)
        return EXIT_INVALID
    except NdjsonError as exc:
        _report(stderr, exc.name, [exc.issue])
        return EXIT_USAGE
    except ParquetUnavailable as exc:
        print(f"fhir-service transform view: {exc}", file=stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        raise  # the reader went away (`| head`): the dispatcher exits 0
    except OSError as exc:
        if not args.out:
            raise
        print(f"fhir-service transform view: cannot write {args.out}: {exc.strerror or exc}", file=stderr)
        return EXIT_USAGE
    if args.out:
        print(f"{args.out}: {count} rows", file=stderr)
    return EXIT_OK


def _write_file(view: CompiledView, batches: list[Batch], fmt: str, out: Path) -> int:
    """Write to a temporary file beside `out`, renamed over it only when the whole table is written."""
    directory = out.resolve().parent
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=directory)
    try:
        if fmt == "csv":
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as text:
                count = _write(view, batches, fmt, text)
        else:
            with os.fdopen(handle, "wb") as binary:
                count = _write(view, batches, fmt, binary)
        os.replace(temporary, out)
        return count
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (`python -m fhir_service.transform.views.cli`) until `transform` wires it."""
    parser = argparse.ArgumentParser(prog="fhir-service transform view", description=HELP)
    configure(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return run(args)
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
