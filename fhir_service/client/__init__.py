"""EHR integration client: FHIR R4 REST over `requests` (auth, timeouts, safe retries, paging), pushing
Bundles with a per-entry report, and pulling resources by queries."""
from fhir_service.client.client import FhirClient, FhirResponse, WriteResult
from fhir_service.client.errors import FhirClientError, FhirTransportError
from fhir_service.client.pull import PullResult, pull
from fhir_service.client.push import EntryOutcome, PushReport, push_bundle
from fhir_service.client.retry import RetryPolicy, parse_retry_after

__all__ = ["EntryOutcome", "FhirClient", "FhirClientError", "FhirResponse", "FhirTransportError", "PullResult",
           "PushReport", "RetryPolicy", "WriteResult", "parse_retry_after", "pull", "push_bundle"]
