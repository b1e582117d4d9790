"""`fhir-service push --server URL [--token T] [--batch] [--output text|json] BUNDLE...`.

Each Bundle is sent as one transaction (a collection is converted first: conditional creates on identifiers,
PUT on ids, so pushing again creates nothing) or, with `--batch`, as a batch. Reports each bundle and each of
its entries (status, where the server put it, the server's OperationOutcome when it refused it).
Exit status: 0 every entry created or accepted; 1 an entry failed (or a Bundle could not be converted);
2 a usage error, an unreadable or non-Bundle input, or no usable connection (unreachable server, timeout,
credentials refused with 401/403), after which the remaining Bundles are not attempted.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from fhir_service.client.cli_common import (EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_connection_options, make_client,
                                            relative_to)
from fhir_service.client.progress import Progress
from fhir_service.client.push import PushReport, push_bundle
from fhir_service.store import fhirjson
from fhir_service.validation.reader import read_bytes

PROG = "fhir-service push"
FATAL_STATUSES = (401, 403)  # nothing will get through with these credentials


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("exit status: 0 every entry created or accepted, 1 an entry failed, 2 a usage error, an "
                     "unreadable input or no usable connection (unreachable, timeout, 401/403).")
    parser.add_argument("bundles", nargs="+", metavar="BUNDLE", help="FHIR Bundle in JSON; '-' reads standard input")
    add_connection_options(parser)
    parser.add_argument("--batch", action="store_true",
                        help="send a batch (each entry on its own) instead of a transaction (all or nothing)")
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text: a line per bundle and per entry (default); json: one report document")


def read_bundle(name: str) -> tuple[Any, str | None]:
    data, problem = read_bytes(name)
    if data is None:
        return None, problem
    try:
        value = fhirjson.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"{name}: not JSON: {exc}"
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        kind = value.get("resourceType") if isinstance(value, dict) else type(value).__name__
        return None, f"{name}: expected a FHIR Bundle, got {kind}"
    return value, None


def text_lines(report: PushReport, base_url: str) -> list[str]:
    lines = [report.summary()]
    for issue in report.issues:
        if issue.severity in ("error", "fatal"):
            lines.append(f"  {issue.severity}: {issue.expression or '-'}: {issue.diagnostics}")
    entries = report.entries
    if report.error is not None:  # nothing written: list only the entry the server blamed, if it named one
        entries = [e for e in entries if e.status is not None]
        untouched = len(report.entries) - len(entries)
        if untouched:
            lines.append(f"  {untouched} entries not processed")
    for entry in entries:
        where = relative_to(base_url, entry.location)
        text = f"  {entry.label}: {entry.status_text or entry.status or '-'}"
        if where:
            text += f" -> {where}"
        if not entry.ok and entry.error:
            text += f": {entry.error}"
        lines.append(text)
    return lines


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        client = make_client(args)
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_USAGE
    status = EXIT_OK
    reports: list[PushReport] = []
    with client, Progress("push", len(args.bundles), unit="bundles", stream=err,
                          enabled=False if args.quiet else None) as progress:
        for number, name in enumerate(args.bundles):
            progress.set_label(f"push {Path(name).name}")
            bundle, problem = read_bundle(name)
            if bundle is None:
                print(f"{PROG}: {problem}", file=err)
                status = EXIT_USAGE
                progress.update()
                continue
            report = push_bundle(client, bundle, as_transaction=not args.batch, source=name)
            reports.append(report)
            progress.update()
            if args.output == "text":
                progress.clear()
                out.write("\n".join(text_lines(report, client.base_url)) + "\n")
            if report.error is not None and (report.error.is_transport or report.error.status in FATAL_STATUSES):
                print(f"{PROG}: {report.error}", file=err)
                skipped = args.bundles[number + 1:]
                if skipped:
                    print(f"{PROG}: not attempted: {', '.join(skipped)}", file=err)
                status = EXIT_USAGE
                break
            if not report.ok and status == EXIT_OK:
                status = EXIT_FAILED
    if args.output == "json":
        document = {"server": client.base_url, "ok": status == EXIT_OK, "bundles": [r.to_json() for r in reports]}
        out.write(fhirjson.dumps(document, pretty=True).decode("utf-8") + "\n")
    return status
