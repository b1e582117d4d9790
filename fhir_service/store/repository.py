"""The Repository interface: what the `rest` core needs from a store, and nothing about HTTP.

Implementations keep every version of every resource, fill search-index tables at write time and run one
database transaction per call. `atomic(work)` runs several calls as ONE database transaction (a FHIR
transaction Bundle): `work` receives a repository bound to that transaction, and any exception rolls
everything back. Errors are raised as `StoreError` subclasses that carry the FHIR status they map to;
`rest` turns them into OperationOutcomes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, TypeVar

Resource = dict[str, Any]
T = TypeVar("T")


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


class InvalidResource(StoreError):
    """A resource that cannot be stored as given (no resourceType, malformed id, ...)."""
    status, code = 400, "structure"


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
    updated_us: int = 0  # lastUpdated as microseconds since the epoch (Last-Modified, _since)


@dataclass
class SearchQuery:
    """A parsed search: (name[:modifier][.chain], raw value) pairs in request order, plus result controls.

    Repeated names AND; comma-separated values inside one raw value OR (split by the store, which knows
    the parameter types). `strict` (Prefer: handling=strict) makes unknown parameters an error.
    """

    resource_type: str | None
    params: list[tuple[str, str]] = field(default_factory=list)
    count: int = 20
    sort: list[str] = field(default_factory=list)  # e.g. ["-date", "code"]
    cursor: str | None = None
    total: str | None = None  # none | estimate | accurate
    include: list[str] = field(default_factory=list)
    revinclude: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)  # _type, for system-level search
    compartment: tuple[str, str] | None = None  # (compartment type, id): search within e.g. Patient/123
    strict: bool = False


@dataclass
class SearchResult:
    matches: list[StoredResource]
    included: list[StoredResource]
    total: int | None
    next_cursor: str | None
    ignored: list[str] = field(default_factory=list)  # parameters ignored (lenient handling), for the OO


CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


class UpdateResult(tuple):  # type: ignore[type-arg]
    """What `update` did: still the pair (stored, created) callers unpack, plus `outcome`, one of
    created / updated / unchanged (a bulk import reports each; `created` alone cannot tell the last two
    apart)."""

    outcome: str

    def __new__(cls, stored: StoredResource, outcome: str) -> "UpdateResult":
        if outcome not in (CREATED, UPDATED, UNCHANGED):
            raise ValueError(f"unknown update outcome {outcome!r}")
        result = super().__new__(cls, (stored, outcome == CREATED))
        result.outcome = outcome
        return result

    @property
    def stored(self) -> StoredResource:
        return self[0]

    @property
    def created(self) -> bool:
        return bool(self[1])


class Repository(Protocol):
    """What `rest` uses. `atomic(work)` hands `work` an object with these same methods, bound to one
    database transaction. `definitions` is the Definitions registry the store indexes with; `registry`
    the compiled search parameters (what the CapabilityStatement lists)."""

    definitions: Any
    registry: Any

    def create(self, resource: Resource, *, if_none_exist: str | None = None,
               id: str | None = None) -> tuple[StoredResource, bool]:
        """Store a new resource (server id, or `id` when pre-assigned by a transaction: an id that exists
        makes the unit of work fail with Conflict); returns (stored, created). With `if_none_exist` (a search query string) return the single existing match instead
        (created False); more than one match raises PreconditionFailed. Atomic under concurrency."""

    def read(self, resource_type: str, id: str) -> StoredResource: ...

    def vread(self, resource_type: str, id: str, version_id: int) -> StoredResource: ...

    def update(self, resource: Resource, *, if_match: int | None = None) -> UpdateResult:
        """Create-or-update at the resource's id; returns an UpdateResult: the pair (stored, created),
        with `.outcome` created / updated / unchanged. Content identical to the current version (ignoring
        meta.versionId/lastUpdated) writes no new version (unchanged). Inside `atomic`, a store may offer
        `prefetch([(type, id), ...])`: a hint that many updates follow, answered with one query."""

    def delete(self, resource_type: str, id: str, *, if_match: int | None = None) -> StoredResource | None:
        """Mark deleted (a new version); None when it was already deleted; NotFound if it never existed;
        PreconditionFailed when `if_match` is not the current version."""

    def history(self, resource_type: str | None = None, id: str | None = None, *, count: int = 20,
                since: str | None = None, cursor: str | None = None) -> tuple[list[StoredResource], str | None]: ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def find(self, resource_type: str, query_string: str) -> list[StoredResource]:
        """Resources matching a conditional query (`identifier=x&...`), for conditional interactions."""

    def lock_condition(self, resource_type: str, query_string: str) -> None:
        """Inside `atomic`: hold off other conditional interactions with the same criteria until commit
        (so a check-then-create cannot race)."""

    def everything(self, patient_id: str) -> list[StoredResource]:
        """The Patient, the resources that reference it, and the resources those reference."""

    def everything_page(self, patient_id: str, *, count: int = 20,
                        cursor: str | None = None) -> tuple[list[StoredResource], str | None]:
        """One page of `everything` (the Patient first on the first page) and the cursor of the next."""

    def atomic(self, work: Callable[["Repository"], T]) -> T:
        """Run `work` in one database transaction (retried on a serialization conflict)."""

    @property
    def resource_types(self) -> frozenset[str]:
        """The resource types this store accepts."""
