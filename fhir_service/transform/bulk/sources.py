"""Which files an import reads, and which resource type each must hold.

- a folder with a `manifest.json`: the files its `output[]` lists, each with its declared `type`;
- a folder without one: its `*.ndjson` files, sorted by name;
- a manifest file (`*.json` with an `output` array): as for a folder;
- an `.ndjson` file: that file.
The expected type of a file not listed in a manifest comes from its name (`Patient.ndjson`,
`Patient.2.ndjson`); a name that starts with no resource type (`data.ndjson`) lets any type through.
Every problem here is found before anything is written: the import either starts on readable inputs or not
at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from fhir_service.transform.bulk.manifest import (MANIFEST_NAME, NDJSON_SUFFIX, ManifestError, read_manifest,
                                                  type_from_file_name)


class SourceError(ValueError):
    """An input that cannot be imported at all (missing, unreadable, a bad manifest, nothing to read)."""


@dataclass(frozen=True)
class Source:
    path: Path
    expected_type: str | None


def _from_manifest(manifest: Path, known_types: frozenset[str]) -> list[Source]:
    try:
        listed = read_manifest(manifest)
    except ManifestError as exc:
        raise SourceError(str(exc)) from None
    sources = []
    for path, declared in listed:
        if declared is not None and declared not in known_types:
            raise SourceError(f"{manifest}: output type {declared!r} is not a resource type")
        sources.append(Source(path, declared or type_from_file_name(path, known_types)))
    return sources


def _expand(path: Path, known_types: frozenset[str]) -> list[Source]:
    if path.is_dir():
        if (path / MANIFEST_NAME).is_file():
            return _from_manifest(path / MANIFEST_NAME, known_types)
        files = sorted(p for p in path.iterdir() if p.name.endswith(NDJSON_SUFFIX) and p.is_file())
        if not files:
            raise SourceError(f"{path}: no {MANIFEST_NAME} and no *{NDJSON_SUFFIX} files")
        return [Source(p, type_from_file_name(p, known_types)) for p in files]
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.suffix == ".json":
        return _from_manifest(path, known_types)
    return [Source(path, type_from_file_name(path, known_types))]


def resolve_sources(paths_or_dir: str | Path | Iterable[str | Path], known_types: frozenset[str]) -> list[Source]:
    """The files to read, in order, each once; raises SourceError when one is missing or unreadable."""
    inputs = [paths_or_dir] if isinstance(paths_or_dir, (str, Path)) else list(paths_or_dir)
    if not inputs:
        raise SourceError("nothing to import: give a folder, a manifest or .ndjson files")
    sources: list[Source] = []
    seen: set[Path] = set()
    for item in inputs:
        for source in _expand(Path(item), known_types):
            key = source.path.resolve()
            if key in seen:
                continue
            seen.add(key)
            if not source.path.is_file():
                raise SourceError(f"{source.path}: no such file")
            try:
                with open(source.path, "rb"):
                    pass
            except OSError as exc:
                raise SourceError(f"{source.path}: cannot read: {exc.strerror or exc}") from None
            sources.append(source)
    return sources
