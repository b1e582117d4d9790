"""The Repository interface: what the `rest` core needs from a store, and nothing about HTTP.

Implementations keep every version of every resource, fill search-index tables at write time and run one
database transaction per call (one per FHIR transaction in `transaction`). Errors are raised as
`StoreError` subclasses that carry the FHIR status they map to; `rest` turns them into OperationOutcomes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

Resource = dict[str, Any]


class StoreError(Exception):
    status = 500
    code = "exception"

    def __init__(self, message: str, expression: str | None = None) -> None:
        super().__init__(message)
        self.expression = expression


class NotFound(StoreError):
    status, code = 404, "not-found"


class Gone(StoreError):
    """The resource existed and was deleted."""
    status, code = 410, "deleted"


class Conflict(StoreError):
    status, code = 409, "conflict"


class PreconditionFailed(StoreError):
    """If-Match version mismatch, or a conditional interaction that matched more than one resource."""
    status, code = 412, "conflict"


class InvalidSearch(StoreError):
    status, code = 400, "invalid"


@dataclass
class StoredResource:
    """One version of a resource as stored: the JSON (with meta.versionId/lastUpdated set) and its state."""

    resource_type: str
    id: str
    version_id: int
    last_updated: str  # FHIR instant
    resource: Resource | None  # None for a deletion marker in history
    deleted: bool = False
    method: str = "PUT"  # POST | PUT | DELETE: how this version came to be (for history bundles)


@dataclass
class SearchQuery:
    """A parsed search: parameter (name[:modifier], [values]) pairs plus result controls."""

    resource_type: str | None
    params: list[tuple[str, list[str]]] = field(default_factory=list)
    count: int = 20
    sort: list[str] = field(default_factory=list)  # e.g. ["-date", "code"]
    cursor: str | None = None
    total: str | None = None  # none | estimate | accurate
    include: list[str] = field(default_factory=list)
    revinclude: list[str] = field(default_factory=list)


@dataclass
class SearchResult:
    matches: list[StoredResource]
    included: list[StoredResource]
    total: int | None
    next_cursor: str | None


class Repository(Protocol):
    def create(self, resource: Resource, *, if_none_exist: str | None = None) -> tuple[StoredResource, bool]:
        """Store a new resource with a server id; returns (stored, created). With `if_none_exist`
        (a search query string) return the single existing match instead (created False)."""

    def read(self, resource_type: str, id: str) -> StoredResource: ...

    def vread(self, resource_type: str, id: str, version_id: int) -> StoredResource: ...

    def update(self, resource: Resource, *, if_match: int | None = None) -> tuple[StoredResource, bool]:
        """Create-or-update at the resource's id; returns (stored, created)."""

    def delete(self, resource_type: str, id: str) -> StoredResource | None: ...

    def history(self, resource_type: str | None = None, id: str | None = None, *, count: int = 20,
                since: str | None = None, cursor: str | None = None) -> tuple[list[StoredResource], str | None]: ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def transaction(self, entries: Sequence[Any]) -> list[Any]:
        """Run the given work atomically (one database transaction)."""
