"""`fhir-service profiles build|check [DIR]`: generate the snapshots of a FHIR package's profiles, or check
that they are in sync with their differentials (for CI).

Exit status: 0 in sync / built; 1 out of sync, or a definition that cannot be generated; 2 usage error or a
DIR that cannot be read.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    for name, help_text in (
        ("build", "regenerate every profile's snapshot from its differential; write the files and .index.json"),
        ("check", "report the profiles whose snapshot is out of sync with their differential"),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("dir", nargs="?", metavar="DIR",
                            help="the package folder (default: the project's profiles/)")


def _folder(args: argparse.Namespace) -> Path | None:
    from fhir_service.definitions.registry import project_profiles_dir

    folder = Path(args.dir) if args.dir else project_profiles_dir()
    if not folder.is_dir():
        print(f"fhir-service profiles: {folder}: not a readable directory", file=sys.stderr)
        return None
    try:
        next(iter(folder.iterdir()), None)
    except OSError as exc:
        print(f"fhir-service profiles: {folder}: {exc.strerror or exc}", file=sys.stderr)
        return None
    return folder


def run(args: argparse.Namespace) -> int:
    if getattr(args, "action", None) not in ("build", "check"):
        print("usage: fhir-service profiles {build,check} [DIR]", file=sys.stderr)
        return EXIT_USAGE
    folder = _folder(args)
    if folder is None:
        return EXIT_USAGE
    from fhir_service.definitions.build import PackageBuildError, build_package, check_package

    if args.action == "check":
        problems = check_package(folder)
        if problems:
            for problem in problems:
                print(f"out of sync: {problem}")
            print(f"{folder}: {len(problems)} problem(s); run `fhir-service profiles build {folder}`",
                  file=sys.stderr)
            return EXIT_PROBLEMS
        print(f"{folder}: snapshots in sync with their differentials")
        return EXIT_OK
    try:
        written = build_package(folder)
    except PackageBuildError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{folder}: {len(exc.problems)} definition(s) could not be built; the others were written",
              file=sys.stderr)
        return EXIT_PROBLEMS
    for name in written:
        print(f"wrote {name}")
    print(f"{folder}: {len(written)} file(s) updated, .index.json rewritten")
    return EXIT_OK
