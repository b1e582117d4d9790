"""The set of loaded FHIR packages, indexed by canonical URL: what every other part asks for definitions.

Packages are searched in the order given (project and `--ig` packages before the core), so that a local
definition can stand in for a published one. Loose resources (a test's supporting profile, a profile read
from a file) are added with `add`, and take precedence over everything.
"""
from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from fhir_service.definitions.package import FhirPackage, IndexEntry, Resource

CORE_ZIP = Path(__file__).resolve().parent.parent / "data" / "hl7.fhir.r4.core.zip"
FHIR_BASE = "http://hl7.org/fhir/StructureDefinition/"


def split_canonical(url: str) -> tuple[str, str | None]:
    """`http://x/StructureDefinition/a|1.0` -> (`http://x/StructureDefinition/a`, `1.0`)."""
    base, _, version = url.partition("|")
    return base, (version or None)


class Definitions:
    """Immutable-after-load lookup of conformance resources by canonical URL (thread-safe caches)."""

    def __init__(self, packages: Iterable[FhirPackage] = ()) -> None:
        self.packages: list[FhirPackage] = list(packages)
        self._by_url: dict[str, list[tuple[FhirPackage | None, IndexEntry | Resource]]] = {}
        self._by_type: dict[str, list[tuple[FhirPackage, IndexEntry]]] = {}
        self._loose: dict[str, Resource] = {}
        self._snapshots: dict[str, Resource] = {}
        self._lock = threading.RLock()
        self._derived: dict[Any, Any] = {}
        for package in self.packages:
            self._index_package(package)

    # -- building ----------------------------------------------------------------------------------------
    def _index_package(self, package: FhirPackage) -> None:
        for entry in package.entries:
            self._by_type.setdefault(entry.resource_type, []).append((package, entry))
            if entry.url:
                self._by_url.setdefault(entry.url, []).append((package, entry))

    def add_package(self, package: FhirPackage) -> None:
        """Add a package searched before those already present (an `--ig`)."""
        with self._lock:
            self.packages.insert(0, package)
            self._by_url = {}
            self._by_type = {}
            for pkg in self.packages:
                self._index_package(pkg)
            self._snapshots.clear()
            self._derived.clear()

    def add(self, resource: Resource) -> None:
        """Add one loose conformance resource (it takes precedence over packaged ones with the same URL)."""
        url = resource.get("url")
        if not url:
            return
        with self._lock:
            self._loose[url] = resource
            if resource.get("version"):
                self._loose[f"{url}|{resource['version']}"] = resource
            self._snapshots.pop(url, None)
            self._derived.clear()

    def copy(self) -> "Definitions":
        """A new registry over the same (shared, cached) packages, for adding loose resources to."""
        clone = Definitions.__new__(Definitions)
        clone.packages = list(self.packages)
        clone._by_url = self._by_url
        clone._by_type = self._by_type
        clone._loose = dict(self._loose)
        clone._snapshots = {}
        clone._lock = threading.RLock()
        clone._derived = {}
        return clone

    # -- lookup ------------------------------------------------------------------------------------------
    def resolve(self, url: str) -> Resource | None:
        """The conformance resource with this canonical URL (optionally `|version`), or None."""
        if url in self._loose:
            return self._loose[url]
        base, version = split_canonical(url)
        if base in self._loose and (version is None or self._loose[base].get("version") == version):
            return self._loose[base]
        candidates = self._by_url.get(base)
        if not candidates:
            return None
        for package, entry in candidates:
            assert package is not None and isinstance(entry, IndexEntry)
            if version is None or entry.version == version or entry.version is None:
                return package.load(entry.filename)
        package, entry = candidates[0]
        return package.load(entry.filename)  # type: ignore[union-attr,arg-type]

    def structure_definition(self, url_or_type: str) -> Resource | None:
        """A StructureDefinition with a snapshot, by canonical URL or by FHIR type name (`Patient`)."""
        url = url_or_type if "/" in url_or_type or ":" in url_or_type else FHIR_BASE + url_or_type
        cached = self._snapshots.get(url)
        if cached is not None:
            return cached
        sd = self.resolve(url)
        if sd is None or sd.get("resourceType") != "StructureDefinition":
            return None
        if not sd.get("snapshot", {}).get("element"):
            from fhir_service.definitions.snapshot import generate_snapshot

            with self._lock:
                sd = generate_snapshot(sd, self)
        self._snapshots[url] = sd
        return sd

    def value_set(self, url: str) -> Resource | None:
        resource = self.resolve(url)
        return resource if resource is not None and resource.get("resourceType") == "ValueSet" else None

    def code_system(self, url: str) -> Resource | None:
        resource = self.resolve(url)
        return resource if resource is not None and resource.get("resourceType") == "CodeSystem" else None

    def resources_of_type(self, resource_type: str) -> Iterable[Resource]:
        """Every packaged and loose resource of one type (e.g. all SearchParameters); loads them."""
        seen: set[str] = set()
        for resource in list(self._loose.values()):
            if resource.get("resourceType") == resource_type and resource.get("url") not in seen:
                seen.add(resource["url"])
                yield resource
        for package, entry in self._by_type.get(resource_type, []):
            if entry.url and entry.url in seen:
                continue
            if entry.url:
                seen.add(entry.url)
            yield package.load(entry.filename)

    def index_entries(self, resource_type: str) -> list[tuple[FhirPackage, IndexEntry]]:
        """Index rows (no parsing) of one resource type across the packages."""
        return list(self._by_type.get(resource_type, []))

    def search_parameters(self, resource_type: str) -> list[Resource]:
        """SearchParameters that apply to `resource_type` (including those on Resource/DomainResource)."""
        key = ("search_parameters", resource_type)
        if key not in self._derived:
            bases = {resource_type, "Resource", "DomainResource"}
            result = []
            for package, entry in self._by_type.get("SearchParameter", []):
                if bases.intersection(entry.meta.get("base") or []):
                    result.append(package.load(entry.filename))
            for resource in self._loose.values():
                if resource.get("resourceType") == "SearchParameter" and bases.intersection(resource.get("base", [])):
                    result.append(resource)
            self._derived[key] = result
        return self._derived[key]

    @functools.cached_property
    def resource_types(self) -> frozenset[str]:
        """Names of the FHIR resource types the core defines."""
        return frozenset(
            entry.id or "" for _, entry in self._by_type.get("StructureDefinition", [])
            if entry.meta.get("kind") == "resource" and entry.meta.get("derivation") == "specialization"
        )

    def memo(self, key: Any, build: Callable[[], Any]) -> Any:
        """Cache something derived from these definitions (compiled profiles, expansions) for their lifetime."""
        value = self._derived.get(key)
        if value is None and key not in self._derived:
            value = build()
            self._derived[key] = value
        return value


def project_profiles_dir() -> Path:
    from fhir_service.paths import profiles_dir

    return profiles_dir()


@functools.lru_cache(maxsize=1)
def default_definitions() -> Definitions:
    """The core R4 package plus the project's own `profiles/` package (when present): loaded once."""
    packages = []
    profiles = project_profiles_dir()
    if (profiles / "package.json").exists():
        packages.append(FhirPackage(profiles))
    packages.append(FhirPackage(CORE_ZIP))
    return Definitions(packages)


def load_ig(definitions: Definitions, folder: str | Path) -> Definitions:
    """A copy of `definitions` with the package (or plain folder of JSON resources) at `folder` added first."""
    package = FhirPackage(folder)
    clone = definitions.copy()
    clone.add_package(package)
    return clone
