"""SQL-on-FHIR v2 ViewDefinitions: tables (rows of named columns) from FHIR resources.

    from fhir_service.transform.views import run_view, compile_view, validate_view
    for row in run_view(view_json, resources):      # any iterable of resource dicts; rows are dicts
        ...

compiler.py validates and compiles a view (errors as `Issue`s), runner.py streams rows, sources.py reads
resources from Bundles / NDJSON, writers.py writes CSV / NDJSON / Parquet, catalog.py finds the project's own
views in definitions/, cli.py is `fhir-service transform view`.
"""
from fhir_service.transform.views.compiler import ViewDefinitionError, compile_view, validate_view
from fhir_service.transform.views.model import CompiledView
from fhir_service.transform.views.runner import run_view

__all__ = ["CompiledView", "ViewDefinitionError", "compile_view", "run_view", "validate_view"]
