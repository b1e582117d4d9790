"""Building a FHIR package folder: every StructureDefinition's snapshot regenerated from its differential.

The project authors differentials only; the snapshot each file also carries (so that other FHIR tools can use
the package as it is) is generated here, and `check_package` keeps the two in sync in CI. Within a package,
definitions may build on each other (a profile on a profile, an extension used in a profile): each is
generated against the core plus the package's own definitions stripped of their snapshots, so nothing
stale is ever used as a base, and the registry orders the work by recursion.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from fhir_service.definitions.package import FhirPackage, write_index
from fhir_service.definitions.registry import CORE_ZIP, Definitions
from fhir_service.definitions.snapshot import SnapshotError

Resource = dict[str, Any]
SKIPPED_FILES = frozenset({"package.json", ".index.json"})


class PackageBuildError(Exception):
    """Some definitions of the package could not be built; `problems` holds one `FILE: message` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class _Loaded:
    files: dict[str, Resource]       # file name -> resource, for every JSON resource of the folder
    problems: list[str]              # files that could not be read


def format_resource(resource: Resource) -> str:
    """The stable on-disk form: JSON, indent 2, non-ASCII kept, trailing newline."""
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def _load_folder(folder: Path) -> _Loaded:
    files: dict[str, Resource] = {}
    problems = []
    for path in sorted(folder.glob("*.json")):
        if path.name in SKIPPED_FILES:
            continue
        try:
            resource = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            problems.append(f"{path.name}: cannot be read as JSON: {exc}")
            continue
        if isinstance(resource, dict) and "resourceType" in resource:
            files[path.name] = resource
    return _Loaded(files, problems)


def _is_generated(resource: Resource) -> bool:
    """StructureDefinitions whose snapshot comes from their differential (constraints: profiles, extensions)."""
    return resource.get("resourceType") == "StructureDefinition" and resource.get("derivation") == "constraint"


def _package_definitions(loaded: _Loaded, definitions_base: Definitions | None) -> Definitions:
    base = definitions_base if definitions_base is not None else Definitions([FhirPackage(CORE_ZIP)])
    local = base.copy()
    for resource in loaded.files.values():
        if _is_generated(resource):
            local.add({k: v for k, v in resource.items() if k != "snapshot"})
        elif resource.get("url"):
            local.add(resource)
    return local


def _generate_all(loaded: _Loaded, local: Definitions) -> tuple[dict[str, Resource], list[str]]:
    """file name -> the regenerated StructureDefinition, and the files that failed."""
    generated: dict[str, Resource] = {}
    problems = []
    for name, resource in loaded.files.items():
        if not _is_generated(resource):
            continue
        url = resource.get("url")
        if not url:
            problems.append(f"{name}: StructureDefinition has no url")
            continue
        try:
            result = local.structure_definition(str(url))
        except SnapshotError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if result is None:
            problems.append(f"{name}: {url} could not be resolved")
            continue
        generated[name] = result
    return generated, problems


def _readable_folder(folder: Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a directory")
    return folder


def build_package(folder: Path, definitions_base: Definitions | None = None) -> list[str]:
    """Regenerate every constraint StructureDefinition's snapshot in `folder`, write the changed files
    (stable formatting) and rewrite `.index.json`. Returns the names of the files written. When some
    definitions fail, the others are still written and PackageBuildError lists the failures."""
    folder = _readable_folder(folder)
    loaded = _load_folder(folder)
    generated, problems = _generate_all(loaded, _package_definitions(loaded, definitions_base))
    written = []
    for name, resource in generated.items():
        text = format_resource(resource)
        path = folder / name
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(name)
    write_index(folder)
    problems = loaded.problems + problems
    if problems:
        raise PackageBuildError(problems)
    return written


def check_package(folder: Path, definitions_base: Definitions | None = None) -> list[str]:
    """The files of `folder` that are out of sync, each as `FILE: why`: a snapshot that differs from the one
    generated from its differential, a differential that cannot be generated, an unreadable file, or an
    `.index.json` that does not list the folder's resources. Empty when everything is in sync."""
    folder = _readable_folder(folder)
    loaded = _load_folder(folder)
    generated, problems = _generate_all(loaded, _package_definitions(loaded, definitions_base))
    out_of_sync = loaded.problems + problems
    for name, resource in generated.items():
        current = (loaded.files[name].get("snapshot") or {}).get("element")
        expected = resource["snapshot"]["element"]
        if current is None:
            out_of_sync.append(f"{name}: no snapshot")
        elif current != expected:
            out_of_sync.append(f"{name}: snapshot out of sync with the differential ({_first_difference(current, expected)})")
    index_problem = _index_problem(folder)
    if index_problem:
        out_of_sync.append(index_problem)
    return out_of_sync


def _first_difference(current: list[Resource], expected: list[Resource]) -> str:
    for position, (have, want) in enumerate(zip(current, expected)):
        if have != want:
            if have.get("id") != want.get("id"):
                return f"element #{position} is {have.get('id')}, expected {want.get('id')}"
            keys = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
            return f"{want.get('id')}: {', '.join(keys)} differ"
    return f"{len(current)} elements, expected {len(expected)}"


def _index_problem(folder: Path) -> str | None:
    index_path = folder / ".index.json"
    if not index_path.exists():
        return ".index.json: missing"
    try:
        current = orjson.loads(index_path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        return f".index.json: cannot be read: {exc}"
    package = FhirPackage.__new__(FhirPackage)
    package.source = folder
    expected = list(FhirPackage._scan(package))
    key = lambda entry: str(entry.get("filename"))  # noqa: E731
    listed = current.get("files", []) if isinstance(current, dict) else []
    if sorted(listed, key=key) != sorted(expected, key=key):
        return ".index.json: does not match the folder's resources"
    return None
