"""The retry rules on their own: Retry-After parsing, which requests are replay-safe, the backoff schedule."""
from __future__ import annotations

import datetime as dt

import pytest

from fhir_service.client.links import LinkPolicy, origin
from fhir_service.client.retry import RetryPolicy, bundle_replay_safe, parse_retry_after, replay_safe

NOW = dt.datetime(2026, 1, 15, 12, 0, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("header, seconds", [
    ("120", 120.0),
    (" 0 ", 0.0),
    ("Thu, 15 Jan 2026 12:00:45 GMT", 45.0),
    ("Thu, 15 Jan 2026 11:00:00 GMT", 0.0),  # already past: no wait
    ("soon", None),
    ("-5", None),
    (None, None),
])
def test_retry_after_in_seconds_or_as_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, lambda: NOW) == seconds


@pytest.mark.parametrize("method, headers, safe", [
    ("GET", {}, True), ("PUT", {}, True), ("DELETE", {}, True),
    ("POST", {}, False), ("PATCH", {}, False),
    ("POST", {"If-None-Exist": "identifier=a|b"}, True),
    ("POST", {"if-none-exist": ""}, False),
])
def test_which_requests_may_be_replayed(method: str, headers: dict[str, str], safe: bool) -> None:
    assert replay_safe(method, headers) is safe


def test_a_bundle_is_replay_safe_only_when_every_entry_is() -> None:
    entries = [{"request": {"method": "PUT", "url": "Patient/1"}},
               {"request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=a|b"}}]
    assert bundle_replay_safe({"resourceType": "Bundle", "type": "transaction", "entry": entries})
    entries.append({"request": {"method": "POST", "url": "Observation"}})
    assert not bundle_replay_safe({"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert not bundle_replay_safe({"resourceType": "Bundle", "type": "collection", "entry": []})


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(retries=6, backoff=1.0, max_backoff=5.0)
    assert [policy.backoff_delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    with pytest.raises(ValueError):
        RetryPolicy(retries=-1)


def test_origins_compare_scheme_host_and_effective_port() -> None:
    assert origin("https://EHR.example.org/fhir") == origin("https://ehr.example.org:443/other")
    policy = LinkPolicy("https://ehr.example.org/fhir")
    assert policy.allows("https://ehr.example.org:443/fhir/Patient?page=2")
    assert not policy.allows("http://ehr.example.org/fhir/Patient")  # scheme differs: token over plain HTTP
    assert not policy.allows("https://ehr.example.org:8443/fhir/Patient")
