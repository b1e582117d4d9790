"""`fhir-service cases build|check`: the case Bundles in bundles/ from their timelines in bundles/timelines/.

`build` writes bundles/<case>.json for each timeline (all of them by default); `check` rebuilds in memory and
exits 1 when a committed bundle differs from a fresh build or is missing, or when a bundle has no timeline,
naming each one, so that CI catches a hand-edited bundle or a timeline change that was not rebuilt.
Exit status: 0 ok, 1 differences or invalid timelines, 2 usage error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fhir_service.cases.build import build_file
from fhir_service.cases.schema import TimelineError
from fhir_service.paths import bundles_dir

DEFAULT_BUNDLES = bundles_dir()


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    build = sub.add_parser("build", help="build Bundles from timelines")
    build.add_argument("--out", type=Path, default=DEFAULT_BUNDLES, help="output folder (default: bundles/)")
    build.add_argument("--validate", action="store_true",
                       help="also validate each built Bundle (base R4, profiles/, clinical rules) and print its issues")
    build.add_argument("timelines", nargs="*", type=Path, metavar="TIMELINE",
                       help="timeline files (default: every bundles/timelines/*.yaml)")
    check = sub.add_parser("check", help="exit 1 when a committed bundle differs from a fresh build")
    check.add_argument("--bundles", type=Path, default=DEFAULT_BUNDLES, help="folder of bundles and timelines/")


def timelines_in(folder: Path) -> list[Path]:
    return sorted((folder / "timelines").glob("*.yaml"))


def build_all(paths: list[Path]) -> tuple[dict[str, str], list[str]]:
    """case id -> rendered Bundle, and the problems of timelines that failed (all reported, none skipped)."""
    built: dict[str, str] = {}
    problems: list[str] = []
    for path in paths:
        try:
            case, text = build_file(path)
        except TimelineError as exc:
            problems.extend(str(p) for p in exc.problems)
            continue
        if case in built:
            problems.append(f"{path}: case id {case!r} is used by another timeline")
            continue
        built[case] = text
    return built, problems


def validate_built(built: dict[str, str], folder: Path) -> list[str]:
    """Validation issues of the built Bundles, one line each; only errors count as problems (warnings print)."""
    import json

    from fhir_service.validation.project import project_validator

    validator = project_validator()
    problems: list[str] = []
    for case, text in sorted(built.items()):
        for issue in validator.validate(json.loads(text)):
            line = f"{folder / (case + '.json')}: {issue.severity}: {issue.expression or ''}: {issue.diagnostics}"
            if issue.is_error:
                problems.append(line)
            elif issue.severity == "warning":
                print(line, file=sys.stderr)
    return problems


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        paths = args.timelines or timelines_in(DEFAULT_BUNDLES)
        missing = [p for p in paths if not p.is_file()]
        if missing:
            print("\n".join(f"{p}: no such timeline" for p in missing), file=sys.stderr)
            return 2
        built, problems = build_all(paths)
        args.out.mkdir(parents=True, exist_ok=True)
        for case, text in sorted(built.items()):
            target = args.out / f"{case}.json"
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
        if args.validate:
            problems.extend(validate_built(built, args.out))
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if args.action == "check":
        built, problems = build_all(timelines_in(args.bundles))
        committed = {p.stem: p for p in args.bundles.glob("*.json")}
        for case, text in sorted(built.items()):
            path = committed.get(case)
            if path is None:
                problems.append(f"{args.bundles / (case + '.json')}: missing (run `fhir-service cases build`)")
            elif path.read_text(encoding="utf-8") != text:
                problems.append(f"{path}: differs from a fresh build of its timeline (run `fhir-service cases build`)")
        for case in sorted(set(committed) - set(built)):
            problems.append(f"{committed[case]}: no timeline builds it (bundles/timelines/<case>.yaml)")
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            print(f"{len(built)} bundles match their timelines")
        return 1 if problems else 0
    print("usage: fhir-service cases {build,check} ...", file=sys.stderr)
    return 2
