"""Entry point of `fhir-service`. Subcommands live in their own modules and are imported only when used,
so `fhir-service validate` does not pay for Flask or SQLAlchemy at start-up."""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help). Each module has `configure(parser)` and `run(args) -> int`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("fhir_service.cli.validate", "validate FHIR JSON resources or Bundles; prints OperationOutcomes"),
    "serve": ("fhir_service.cli.serve", "run the FHIR REST server (base /fhir)"),
    "load": ("fhir_service.cli.load", "load Bundles and resources into a store, idempotently"),
    "profiles": ("fhir_service.cli.profiles", "generate snapshots of a FHIR package's profiles, or check them"),
    "cases": ("fhir_service.cli.cases", "build the case Bundles in bundles/ from their timelines"),
    "transform": ("fhir_service.cli.transform", "reshape Bundles: to transaction, re-dated, R4<->R5, to tables"),
    "export": ("fhir_service.cli.bulk", "export a store as NDJSON files in the Bulk Data layout"),
    "import": ("fhir_service.cli.bulk", "import NDJSON files in the Bulk Data layout into a store"),
    "push": ("fhir_service.cli.push", "push Bundles to another FHIR server (transactions, with each entry's outcome)"),
    "pull": ("fhir_service.cli.pull", "pull resources from another FHIR server by search, following paging"),
}

EXIT_USAGE = 2


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fhir-service", description="CAR-T toxicity FHIR service")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            importlib.import_module(module_name).configure(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    selected = next((a for a in argv if not a.startswith("-")), None)
    if selected not in SUBCOMMANDS:
        selected = None
    parser = build_parser(selected)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
