"""The Bulk Data file layout: `<ResourceType>.ndjson` files and a `manifest.json` beside them.

The manifest has the shape of the Bulk Data kick-off *complete status* response (FHIR Bulk Data Access IG,
"Response - Complete Status"): `transactionTime`, `request`, `requiresAccessToken`, `output[]` with `type`,
`url` and `count`, `error[]`. Here `url` is the file name relative to the manifest, so a folder can be moved
or archived as a whole and imported elsewhere.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from fhir_service.store import fhirjson

MANIFEST_NAME = "manifest.json"
NDJSON_SUFFIX = ".ndjson"
# FHIR instant: full date and time to the second, optional fraction, time zone required.
INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
# A file's resource type is its name up to the first '.' or '-' (Patient.ndjson, Patient.2.ndjson, Patient-1.ndjson).
_TYPE_PREFIX_RE = re.compile(r"^([A-Z][A-Za-z]*)(?:[.-].*)?$")


class ManifestError(ValueError):
    """A manifest that cannot be read or does not have the Bulk Data shape."""


@dataclass
class OutputFile:
    """One `output[]` entry: the resource type it holds, its file name (relative) and its line count."""

    type: str
    url: str
    count: int

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "url": self.url, "count": self.count}


@dataclass
class Manifest:
    transaction_time: str
    request: str
    output: list[OutputFile] = field(default_factory=list)
    error: list[OutputFile] = field(default_factory=list)
    requires_access_token: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "transactionTime": self.transaction_time,
            "request": self.request,
            "requiresAccessToken": self.requires_access_token,
            "output": [o.as_json() for o in self.output],
            "error": [e.as_json() for e in self.error],
        }

    @property
    def total(self) -> int:
        return sum(o.count for o in self.output)


def is_instant(text: str) -> bool:
    return bool(INSTANT_RE.match(text))


def file_name(resource_type: str) -> str:
    return f"{resource_type}{NDJSON_SUFFIX}"


def type_from_file_name(path: Path, known_types: Iterable[str]) -> str | None:
    """The resource type a file's name announces, or None when the name does not start with a known type."""
    name = path.name[:-len(NDJSON_SUFFIX)] if path.name.endswith(NDJSON_SUFFIX) else path.stem
    match = _TYPE_PREFIX_RE.match(name)
    if match and match.group(1) in set(known_types):
        return match.group(1)
    return None


def export_request(base_url: str | None, types: list[str] | None, since: str | None) -> str:
    """The kick-off request this export answers: `[base]/$export?_type=...&_since=...`."""
    query = []
    if types:
        query.append("_type=" + ",".join(types))
    if since:
        query.append("_since=" + since)
    path = "$export" + ("?" + "&".join(query) if query else "")
    base = (base_url or "").rstrip("/")
    return f"{base}/{path}" if base else path


def write_manifest(manifest: Manifest, folder: Path) -> Path:
    path = folder / MANIFEST_NAME
    path.write_bytes(fhirjson.dumps(manifest.as_json(), pretty=True) + b"\n")
    return path


def read_manifest(path: Path) -> list[tuple[Path, str | None]]:
    """The files a manifest lists, as (absolute path, declared type); raises ManifestError."""
    try:
        data = fhirjson.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("output"), list):
        raise ManifestError(f"{path} is not a Bulk Data manifest (no output array)")
    files: list[tuple[Path, str | None]] = []
    for index, entry in enumerate(data["output"]):
        url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(url, str) or not url:
            raise ManifestError(f"{path}: output[{index}] has no url")
        if "://" in url:
            raise ManifestError(f"{path}: output[{index}].url {url!r} is remote; only files beside the manifest"
                                " can be imported (download them first)")
        declared = entry.get("type")
        files.append((_beside(path, index, url), declared if isinstance(declared, str) else None))
    return files


def _beside(manifest: Path, index: int, url: str) -> Path:
    """The file `url` names, which must lie in the manifest's folder (or below it): an absolute path or
    one that climbs out with `..` (or through a symbolic link) is refused, so a manifest can only make the
    importer read the export it describes (the same rule a future `$import` endpoint needs)."""
    folder = manifest.parent.resolve()
    if Path(url).is_absolute() or url.startswith(("/", "\\")):
        raise ManifestError(f"{manifest}: output[{index}].url {url!r} is an absolute path; only files beside the"
                            " manifest can be imported (use a path relative to its folder)")
    resolved = (folder / url).resolve()
    if not resolved.is_relative_to(folder):
        raise ManifestError(f"{manifest}: output[{index}].url {url!r} leads outside the manifest's folder "
                            f"{folder}; only files beside the manifest can be imported")
    return resolved
