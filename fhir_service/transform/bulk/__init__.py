"""NDJSON export and import of a store in the FHIR Bulk Data file layout.

    from fhir_service.transform.bulk import export_store, import_ndjson
    manifest = export_store(repository, "out/", types=["Patient", "Observation"], since="2024-01-01T00:00:00Z")
    report = import_ndjson(other_repository, "out/")   # idempotent: a second run reports every line unchanged

`export_store` streams current versions page by page (keyset) into `<ResourceType>.ndjson` files and writes a
`manifest.json` shaped like the Bulk Data complete-status response; `import_ndjson` upserts each line by id
in batched transactions and reports bad lines as OperationOutcome issues with file and line.
"""
from fhir_service.transform.bulk.export import ExportError, export_store
from fhir_service.transform.bulk.importer import FileIssue, FileReport, ImportReport, import_ndjson
from fhir_service.transform.bulk.manifest import MANIFEST_NAME, Manifest, OutputFile
from fhir_service.transform.bulk.sources import SourceError

__all__ = ["ExportError", "FileIssue", "FileReport", "ImportReport", "MANIFEST_NAME", "Manifest", "OutputFile",
           "SourceError", "export_store", "import_ndjson"]
