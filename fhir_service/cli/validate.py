"""`fhir-service validate FILE... [--profile URL] [--ig DIR] [--output text|json]`.

Exit status: 0 when no input has an issue of severity error or fatal, 1 when one has, 2 on a usage error (a bad
`--ig` folder, an unknown `--profile`) or an input that cannot be read (missing, a directory, permission denied).
The definitions (core + project profiles + each `--ig`) are loaded once and one validator serves every file, so
validating many files costs one start-up. Positions: the issues' JSON locations are turned into line/column of
the input text by the source map, for all issues of a file in one pass.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence, TextIO

from fhir_service.cli.output import json_report, text_report
from fhir_service.validation.outcome import Issue, has_errors
from fhir_service.validation.reader import EXIT_INVALID, EXIT_OK, EXIT_USAGE, ReadResult, read_input

PROG = "fhir-service validate"


class UsageError(Exception):
    """A problem with the command line itself (exit 2, one line on stderr)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("exit status: 0 no error, 1 an issue of severity error or fatal, 2 a usage error or an "
                     "unreadable input. Text output: FILE:LINE:COL: SEVERITY: EXPRESSION: MESSAGE, then "
                     "'FILE: N errors, N warnings, N information'.")
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="FHIR resource or Bundle in JSON (or XML); '-' reads standard input")
    parser.add_argument("--profile", action="append", default=[], metavar="URL",
                        help="also validate against this profile (canonical URL); repeatable")
    parser.add_argument("--ig", action="append", default=[], metavar="DIR",
                        help="load a FHIR package folder (package.json + resources, or a folder of JSON "
                             "conformance resources) before validating; repeatable")
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text: one line per issue and a summary per file (default); json: OperationOutcome")


def load_definitions(igs: Sequence[str], profiles: Sequence[str]) -> Any:
    """The default definitions plus each `--ig`, checked: a bad folder or an unknown profile is a UsageError."""
    from fhir_service.definitions import PackageError, default_definitions
    from fhir_service.definitions.registry import load_ig

    definitions = default_definitions()
    for folder in igs:
        path = Path(folder)
        if not path.exists():
            raise UsageError(f"--ig {folder}: no such folder")
        if not path.is_dir():
            raise UsageError(f"--ig {folder}: not a folder (expected a FHIR package folder)")
        try:
            loaded = load_ig(definitions, path)
        except (PackageError, OSError, ValueError, KeyError) as exc:
            raise UsageError(f"--ig {folder}: not a readable FHIR package: {exc}") from exc
        package = loaded.packages[0]
        if not package.entries:
            raise UsageError(f"--ig {folder}: no FHIR conformance resources found (expected package.json and "
                             "resources, or JSON files with a resourceType)")
        definitions = loaded
    for url in profiles:
        try:
            found = definitions.resolve(url)
        except Exception as exc:  # noqa: BLE001 - a broken package file: say which profile, not a traceback
            raise UsageError(f"--profile {url}: cannot be read: {exc}") from exc
        if found is None or found.get("resourceType") != "StructureDefinition":
            hint = " (load its package with --ig DIR)" if not igs else ""
            raise UsageError(f"--profile {url}: unknown profile{hint}")
    return definitions


def validate_one(read: ReadResult, validator: Any, profiles: Sequence[str]) -> list[Issue]:
    """All issues of one read input: the reader's, then the engine's; every issue placed at a line/column."""
    issues = list(read.issues)
    if read.resource is not None:
        try:
            issues.extend(validator.validate(read.resource, list(profiles)))
        except RecursionError:
            issues.append(Issue("fatal", "too-costly", "The resource is nested too deeply to validate",
                                read.resource.get("resourceType"), ()))
        except Exception as exc:  # noqa: BLE001 - an engine bug is reported as an issue, never a traceback
            issues.append(Issue("fatal", "exception", f"The validator failed on this input: "
                                f"{type(exc).__name__}: {exc}", read.resource.get("resourceType"), ()))
    place(issues, read)
    return issues


def place(issues: list[Issue], read: ReadResult) -> None:
    """Fill line/col of issues that lack them from the source map (one scan for all of them)."""
    if read.source_map is None:
        return
    unplaced = [issue for issue in issues if issue.line is None]
    if not unplaced:
        return
    positions = read.source_map.resolve({tuple(issue.location) for issue in unplaced})
    for issue in unplaced:
        position = positions.get(tuple(issue.location))
        if position is not None:
            issue.line, issue.col = position


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        definitions = load_definitions(args.ig, args.profile)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_USAGE
    validator = None
    status = EXIT_OK
    results: list[tuple[str, list[Issue]]] = []
    for name in args.files:
        read = read_input(name, definitions)
        if read.exit_code == EXIT_USAGE:
            print(f"{PROG}: {read.message}", file=err)
            status = EXIT_USAGE
            if args.output == "json":  # the machine-readable report still has one entry per FILE, in order
                results.append((name, [Issue("fatal", "not-found", read.message or f"{name}: cannot be read")]))
            continue
        if read.resource is not None and validator is None:
            from fhir_service.validation.project import project_validator

            validator = project_validator(definitions)
        issues = validate_one(read, validator, args.profile)
        if has_errors(issues) and status == EXIT_OK:
            status = EXIT_INVALID
        if args.output == "text":
            out.write("\n".join(text_report(name, issues)) + "\n")
        else:
            results.append((name, issues))
    if args.output == "json":
        out.write(json_report(results) + "\n")
    return status
