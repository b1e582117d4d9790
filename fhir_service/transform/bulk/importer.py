"""Import NDJSON files (Bulk Data layout) into a store: each line a resource, upserted at its id.

Semantics are those of FHIR `PUT [type]/[id]` (create-or-update), so importing the same files twice changes
nothing: the store's `update` writes no new version when the content equals the current one apart from
meta.versionId/lastUpdated (Repository.update contract), and the report counts such lines as `unchanged`.

Speed and atomicity: good lines are written in batches, one `repository.atomic` (one database
transaction) per `batch_size` lines. When the store rejects a resource inside a batch, the whole batch is
rolled back by the store and then written again line by line, so the good lines still go in, the bad one is
reported with its file and line, and no batch is ever left half-written. An exception that is not a store
error (the process is interrupted, the database goes away) leaves every finished batch committed and the
current one not at all.

References: lines are written without checking what they point to; once every file is in, each relative
reference whose target was not itself imported is looked up in the store, and a dangling one is reported
as a warning with the file and line that made it. So the order of files and lines does not matter.
A resource imported twice in one run (same type and id) is written twice: the later line wins, and a
warning names both places, because then a second import is not a no-op.

What is not carried over: meta.versionId and meta.lastUpdated of the files. The importing store stamps its
own (version 1 in a fresh store, the time of the import), as any FHIR server does on PUT.
Memory: one batch of resources, plus the (type, id) of every line read and of every reference target
(for duplicate warnings and the reference check): small next to the resources themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from fhir_service.store.dates import now_us
from fhir_service.store.repository import SearchQuery, StoreError
from fhir_service.transform.bulk.ndjson import read_lines
from fhir_service.transform.bulk.references import local_references
from fhir_service.transform.bulk.sources import Source, resolve_sources
from fhir_service.validation.outcome import Issue, issue_to_fhir

BATCH_SIZE = 500
_ID_CHUNK = 200  # ids per `_id=a,b,...` lookup in the reference check


@dataclass
class FileIssue:
    """An Issue about one line (Issue.line) of one file."""

    file: str
    issue: Issue

    def as_fhir(self) -> dict[str, Any]:
        rendered = issue_to_fhir(self.issue)
        where = f"{self.file}:{self.issue.line}" if self.issue.line is not None else self.file
        rendered["diagnostics"] = f"{where}: {self.issue.diagnostics}"
        return rendered


@dataclass
class FileReport:
    path: str
    expected_type: str | None
    lines: int = 0  # non-blank lines read
    imported: int = 0  # lines written or found unchanged
    rejected: int = 0


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    issues: list[FileIssue] = field(default_factory=list)
    stopped: bool = False  # a fatal store failure ended the import early

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def ok(self) -> bool:
        """Nothing rejected, nothing stopped, no error (the CLI's exit 0; rejected lines make it 1)."""
        return not self.stopped and self.rejected == 0 and not any(i.issue.is_error for i in self.issues)

    def summary(self) -> str:
        return (f"{self.imported} resources from {len(self.files)} file(s): {self.created} created, "
                f"{self.updated} updated, {self.unchanged} unchanged; {self.rejected} line(s) rejected"
                + ("; STOPPED early" if self.stopped else ""))

    def operation_outcome(self) -> dict[str, Any]:
        """The issues as one OperationOutcome (file and line in diagnostics and the issue-line extension)."""
        issues = [i.as_fhir() for i in self.issues]
        if not issues:
            issues = [{"severity": "information", "code": "informational", "diagnostics": self.summary()}]
        return {"resourceType": "OperationOutcome", "issue": issues}


@dataclass
class _Pending:
    file: FileReport
    line: int
    resource: dict[str, Any]


class _Importer:
    """One import run: the report, the ids seen, the references to check, and the batch being filled."""

    def __init__(self, repository: Any, batch_size: int) -> None:
        self.repo = repository
        self.known: frozenset[str] = frozenset(repository.resource_types)
        self.batch_size = max(1, batch_size)
        self.report = ImportReport()
        self.batch: list[_Pending] = []
        self.seen: dict[tuple[str, str], tuple[str, int]] = {}  # (type, id) -> where it was first read
        self.targets: dict[tuple[str, str], tuple[str, int, str]] = {}  # target -> (file, line, source type)

    # -- reading -----------------------------------------------------------------------------------------
    def read(self, source: Source) -> None:
        file = FileReport(str(source.path), source.expected_type)
        self.report.files.append(file)
        try:
            for line in read_lines(source.path, source.expected_type, self.known):
                if self.report.stopped:
                    return
                file.lines += 1
                if line.issue is not None or line.resource is None:
                    self._reject(file, line.issue or Issue("error", "structure", "unreadable line"))
                    continue
                self._accept(file, line.number, line.resource)
        except OSError as exc:  # the file went away or a read failed half way
            self.report.issues.append(FileIssue(file.path, Issue(
                "error", "exception", f"reading stopped after line {file.lines}: {exc.strerror or exc}")))
            file.rejected += 1

    def _reject(self, file: FileReport, issue: Issue) -> None:
        file.rejected += 1
        self.report.issues.append(FileIssue(file.path, issue))

    def _accept(self, file: FileReport, number: int, resource: dict[str, Any]) -> None:
        key = (resource["resourceType"], resource["id"])
        first = self.seen.get(key)
        if first is not None:
            self.report.issues.append(FileIssue(file.path, Issue(
                "warning", "duplicate", f"{key[0]}/{key[1]} was already read at {first[0]}:{first[1]};"
                                        " the later line wins", line=number)))
        else:
            self.seen[key] = (file.path, number)
        for target in local_references(resource, self.known):
            self.targets.setdefault(target, (file.path, number, key[0]))
        self.batch.append(_Pending(file, number, resource))
        if len(self.batch) >= self.batch_size:
            self.flush()

    # -- writing -----------------------------------------------------------------------------------------
    def flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch or self.report.stopped:
            return
        try:
            self._write(batch)
            return
        except StoreError:
            pass  # the store rolled the whole batch back: find the bad line(s) one by one
        except Exception:  # noqa: BLE001 - maybe one resource the database refuses; retried line by line
            pass
        systemic: list[tuple[_Pending, Exception]] = []
        for item in batch:
            try:
                self._write([item])
            except StoreError as exc:
                self._reject(item.file, Issue("error", exc.code, f"the store refused {self._name(item)}: {exc}",
                                              expression=exc.expression, line=item.line))
            except Exception as exc:  # noqa: BLE001 - reported, never a traceback
                systemic.append((item, exc))
                self._reject(item.file, Issue("error", "exception", f"writing {self._name(item)} failed: "
                                                                    f"{type(exc).__name__}: {exc}", line=item.line))
        if len(batch) > 1 and len(systemic) == len(batch):  # nothing could be written: the store, not the data
            item, exc = systemic[-1]
            self.report.stopped = True
            self.report.issues.append(FileIssue(item.file.path, Issue(
                "fatal", "exception", f"import stopped: the store fails on every write ({type(exc).__name__}:"
                                      f" {exc}); batches before line {batch[0].line} of {batch[0].file.path}"
                                      " are committed", line=item.line)))

    @staticmethod
    def _name(item: _Pending) -> str:
        return f"{item.resource['resourceType']}/{item.resource['id']}"

    def _write(self, batch: list[_Pending]) -> None:
        started = now_us()

        def work(session: Any) -> list[Any]:
            prefetch = getattr(session, "prefetch", None)  # one query for the whole batch, where offered
            if prefetch is not None:
                prefetch([(item.resource["resourceType"], item.resource["id"]) for item in batch])
            return [session.update(item.resource) for item in batch]

        results = self.repo.atomic(work)
        for item, result in zip(batch, results):
            item.file.imported += 1
            outcome = getattr(result, "outcome", None)  # Repository.update: created / updated / unchanged
            if outcome is None:  # a store that only says (stored, created): a no-op keeps its old lastUpdated
                stored, created = result
                outcome = "created" if created else "updated" if stored.updated_us >= started else "unchanged"
            if outcome == "created":
                self.report.created += 1
            elif outcome == "updated":
                self.report.updated += 1
            else:
                self.report.unchanged += 1

    # -- references ----------------------------------------------------------------------------------------
    def check_references(self) -> None:
        """Warn about relative references to resources neither imported now nor already in the store."""
        if self.report.stopped:
            return
        by_type: dict[str, list[str]] = {}
        for target in self.targets:
            if target not in self.seen:
                by_type.setdefault(target[0], []).append(target[1])
        for resource_type, ids in sorted(by_type.items()):
            present: set[str] = set()
            try:
                for start in range(0, len(ids), _ID_CHUNK):
                    chunk = ids[start:start + _ID_CHUNK]
                    result = self.repo.search(SearchQuery(resource_type=resource_type, count=len(chunk),
                                                          params=[("_id", ",".join(chunk))], total="none"))
                    present.update(m.id for m in result.matches)
            except Exception as exc:  # noqa: BLE001 - the import itself is done; say what was not checked
                self.report.issues.append(FileIssue("-", Issue(
                    "warning", "incomplete", f"references to {resource_type} not checked: {type(exc).__name__}:"
                                             f" {exc}")))
                continue
            for id in ids:
                if id not in present:
                    file, line, source_type = self.targets[(resource_type, id)]
                    self.report.issues.append(FileIssue(file, Issue(
                        "warning", "not-found", f"a {source_type} refers to {resource_type}/{id}, which is neither"
                                                " in the import nor in the store", line=line)))


def import_ndjson(repository: Any, paths_or_dir: str | Path | Iterable[str | Path], *,
                  batch_size: int = BATCH_SIZE) -> ImportReport:
    """Import a Bulk Data folder, a manifest, or NDJSON files into `repository`; see the module docstring.

    Raises SourceError (nothing written) when an input is missing, unreadable or a bad manifest.
    """
    sources = resolve_sources(paths_or_dir, frozenset(repository.resource_types))
    run = _Importer(repository, batch_size)
    for source in sources:
        run.read(source)
        if run.report.stopped:
            break
    run.flush()
    run.check_references()
    return run.report
