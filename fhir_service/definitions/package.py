"""One FHIR NPM package (a folder, or the vendored zip of the core), read lazily through its index.

A package is opened by reading only `package.json` and `.index.json` (or, when a folder has no index, the
`resourceType`/`url` of each JSON file). Resources are parsed on first request and cached, so a cold start
pays only for the definitions a validation actually touches.
"""
from __future__ import annotations

import json
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import orjson

Resource = dict[str, Any]

INDEXED_KEYS = ("url", "version", "kind", "type", "derivation", "baseDefinition", "base")


class PackageError(Exception):
    """A package folder or file that cannot be read as a FHIR package."""


@dataclass
class IndexEntry:
    filename: str
    resource_type: str
    id: str | None
    url: str | None
    version: str | None
    meta: dict[str, Any] = field(default_factory=dict)


class FhirPackage:
    """A FHIR package: `name`, `version`, `canonical` and an index of its conformance resources."""

    def __init__(self, source: str | Path) -> None:
        self.source = Path(source)
        self._lock = threading.Lock()
        self._cache: dict[str, Resource] = {}
        self._zip: zipfile.ZipFile | None = None
        if self.source.is_file() and zipfile.is_zipfile(self.source):
            self._zip = zipfile.ZipFile(self.source)
        elif not self.source.is_dir():
            raise PackageError(f"{self.source}: not a FHIR package folder or zip")
        manifest = self._read_optional("package.json") or {}
        self.name: str = manifest.get("name", self.source.name)
        self.version: str = manifest.get("version", "")
        self.canonical: str | None = manifest.get("canonical")
        self.manifest: dict[str, Any] = manifest
        self.entries: list[IndexEntry] = self._read_index()

    # -- reading ---------------------------------------------------------------------------------------
    def _read_bytes(self, filename: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(filename)
        return (self.source / filename).read_bytes()

    def _read_optional(self, filename: str) -> Any:
        try:
            return orjson.loads(self._read_bytes(filename))
        except (KeyError, FileNotFoundError):
            return None
        except (orjson.JSONDecodeError, OSError) as exc:
            raise PackageError(f"{self.source}/{filename}: {exc}") from exc

    def _read_index(self) -> list[IndexEntry]:
        index = self._read_optional(".index.json")
        if index is None:
            index = {"files": list(self._scan())}
        entries = []
        for item in index.get("files", []):
            entries.append(IndexEntry(
                filename=item["filename"], resource_type=item.get("resourceType", ""), id=item.get("id"),
                url=item.get("url"), version=item.get("version"),
                meta={k: item[k] for k in INDEXED_KEYS if k in item},
            ))
        return entries

    def _scan(self) -> Iterator[dict[str, Any]]:
        """Index a folder that has no `.index.json` by reading each JSON file once."""
        for path in sorted(self.source.glob("*.json")):
            if path.name == "package.json":
                continue
            try:
                resource = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError:
                continue
            if not isinstance(resource, dict) or "resourceType" not in resource:
                continue
            entry = {"filename": path.name, "resourceType": resource["resourceType"], "id": resource.get("id")}
            entry.update({k: resource[k] for k in INDEXED_KEYS if k in resource})
            yield entry

    def load(self, filename: str) -> Resource:
        """The parsed resource in `filename`; parsed once, then shared (callers must not mutate it)."""
        cached = self._cache.get(filename)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._cache.get(filename)
            if cached is None:
                try:
                    cached = orjson.loads(self._read_bytes(filename))
                except (KeyError, FileNotFoundError, orjson.JSONDecodeError) as exc:
                    raise PackageError(f"{self.source}/{filename}: {exc}") from exc
                self._cache[filename] = cached
        return cached

    def __repr__(self) -> str:
        return f"FhirPackage({self.name}#{self.version}, {len(self.entries)} resources)"


def write_index(folder: Path) -> None:
    """(Re)write `.index.json` of a package folder from its JSON files."""
    package = FhirPackage.__new__(FhirPackage)
    package.source = folder
    files = list(FhirPackage._scan(package))
    (folder / ".index.json").write_text(json.dumps({"index-version": 1, "files": files}, indent=1) + "\n")
