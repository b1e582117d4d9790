"""`fhir-service transform ACTION INPUT [options]`: the Bundle transforms of fhir_service.transform.

    transform to-transaction INPUT [--batch]
    transform redate INPUT --infusion-date YYYY-MM-DD [--keep-birthdate] [--fresh-ids [SEED]]
    transform to-r5 INPUT [--strict]          transform to-r4 INPUT [--strict]

INPUT is a JSON file or '-' (stdin). The output Bundle goes to stdout or `-o FILE`; each issue is one line on
stderr (`INPUT:LINE:COL: SEVERITY: EXPRESSION: MESSAGE`), and `--outcome FILE` also writes them as an
OperationOutcome. When no Bundle comes out, the OperationOutcome goes to stdout instead.
Exit status: 0 done without error; 1 the input is a problem (JSON but not a Bundle, no infusion date to move,
something not representable in the target version: the output is still written when there is one);
2 usage: bad parameters, unreadable input, input that is not JSON.

Actions from other areas plug in through SUBCOMMAND_MODULES (name -> module, help): the module has the
subcommand contract of fhir_service.cli (`configure(parser)`, `run(args) -> int`), or, to add several
actions at once, `register(subparsers)` that adds its parsers and sets `handler` (args -> exit status).
A module that does not exist (yet) is simply not offered.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any, Callable

from fhir_service.cli.output import dumps, issue_line
from fhir_service.validation.outcome import Issue, has_errors, operation_outcome

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
# Actions provided by other areas: name -> (module, one-line help).
SUBCOMMAND_MODULES: dict[str, tuple[str, str]] = {
    "view": ("fhir_service.transform.views.cli",
             "a table (CSV, NDJSON, Parquet) from Bundles with a SQL-on-FHIR v2 ViewDefinition"),
}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT", help="Bundle JSON file, or '-' for standard input")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the output Bundle here (default: stdout)")
    parser.add_argument("--outcome", metavar="FILE", help="also write the issues as an OperationOutcome")


def _to_transaction_params(args: argparse.Namespace) -> dict[str, Any]:
    return {"batch": args.batch}


def _redate_params(args: argparse.Namespace) -> dict[str, Any]:
    raw: dict[str, Any] = {"keepBirthdate": args.keep_birthdate}
    if args.infusion_date is not None:
        raw["infusionDate"] = args.infusion_date
    if args.fresh_ids is not None:
        raw["freshIds"] = True
        if isinstance(args.fresh_ids, str):
            raw["seed"] = args.fresh_ids
    return raw


def _version_params(args: argparse.Namespace) -> dict[str, Any]:
    return {"strict": args.strict}


def register_builtin(subparsers: Any) -> None:
    from fhir_service.transform import TRANSFORMS

    def add(name: str, to_raw: Callable[[argparse.Namespace], dict[str, Any]]) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(name, help=TRANSFORMS[name].summary, description=TRANSFORMS[name].summary)
        _common(parser)
        parser.set_defaults(handler=lambda args: run_bundle_transform(name, to_raw(args), args))
        return parser

    add("to-transaction", _to_transaction_params).add_argument(
        "--batch", action="store_true", help="a batch (independent entries) instead of a transaction")
    redate = add("redate", _redate_params)
    redate.add_argument("--infusion-date", metavar="YYYY-MM-DD", help="the new Day 0 (required)")
    redate.add_argument("--keep-birthdate", action="store_true",
                        help="leave birthDate as it is (by default it moves, keeping the age at infusion)")
    redate.add_argument("--fresh-ids", nargs="?", const=True, default=None, metavar="SEED",
                        help="new ids, fullUrls and identifiers, so the case loads again as another patient; "
                             "SEED makes them reproducible")
    for name in ("to-r5", "to-r4"):
        add(name, _version_params).add_argument(
            "--strict", action="store_true", help="anything kept only in a cross-version extension is an error")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("exit status: 0 done, 1 a problem with the input data (output still written when there is "
                     "one), 2 a usage error or unreadable/non-JSON input")
    subparsers = parser.add_subparsers(dest="action", metavar="ACTION")
    register_builtin(subparsers)
    for action, (module_name, help_text) in SUBCOMMAND_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        if hasattr(module, "register"):
            module.register(subparsers)
        else:
            sub = subparsers.add_parser(action, help=help_text, description=help_text)
            module.configure(sub)
            sub.set_defaults(handler=module.run)


def run(args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is None:
        print("fhir-service transform: an ACTION is required (see --help)", file=sys.stderr)
        return EXIT_USAGE
    return int(handler(args))


def _read(name: str) -> tuple[bytes | None, str | None]:
    try:
        return (sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()), None
    except OSError as exc:
        return None, f"cannot read {name}: {exc.strerror or exc}"


def _report(name: str, issues: list[Issue], args: argparse.Namespace) -> None:
    for issue in issues:
        print(issue_line(name, issue), file=sys.stderr)
    if getattr(args, "outcome", None):
        Path(args.outcome).write_text(dumps(operation_outcome(issues)) + "\n", encoding="utf-8")


def run_bundle_transform(name: str, raw: dict[str, Any], args: argparse.Namespace) -> int:
    from fhir_service.transform import run_transform
    from fhir_service.transform.inputs import parse_json
    from fhir_service.transform.params import load_params

    label = "<stdin>" if args.input == "-" else args.input
    _, param_issues = load_params(name, raw)
    if param_issues:  # before reading anything: a usage error
        for issue in param_issues:
            issue.diagnostics = _cli_words(issue.diagnostics)
        return _fail(label, param_issues, args, EXIT_USAGE)
    data, problem = _read(args.input)
    if data is None:
        return _fail(label, [Issue("fatal", "not-found", problem or "unreadable")], args, EXIT_USAGE)
    bundle, json_issues = parse_json(data, label)
    if json_issues:
        return _fail(label, json_issues, args, EXIT_USAGE)
    result = run_transform(name, bundle, raw)
    if result.bundle is None:
        return _fail(label, result.issues, args, EXIT_PROBLEM)
    text = dumps(result.bundle) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    _report(label, result.issues, args)
    return EXIT_PROBLEM if has_errors(result.issues) else EXIT_OK


def _fail(label: str, issues: list[Issue], args: argparse.Namespace, status: int) -> int:
    _report(label, issues, args)
    sys.stdout.write(dumps(operation_outcome(issues)) + "\n")
    return status


CLI_NAMES = {"'infusionDate'": "--infusion-date", "'keepBirthdate'": "--keep-birthdate",
             "'freshIds'": "--fresh-ids", "'seed'": "--fresh-ids SEED", "'batch'": "--batch", "'strict'": "--strict"}


def _cli_words(text: str) -> str:
    """Parameter names as the command line spells them (the OperationOutcome keeps the operation's names)."""
    for operation_name, option in CLI_NAMES.items():
        text = text.replace(f"parameter {operation_name}", f"option {option}")
    return text
