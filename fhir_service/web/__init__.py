"""The Flask adapter of the REST core: app factory, blueprint, HTTP errors as OperationOutcomes."""
from fhir_service.web.app import create_app

__all__ = ["create_app"]
