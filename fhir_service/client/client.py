"""`FhirClient`: the FHIR R4 REST interactions over `requests`, for EHR integration and for `push`/`pull`.

One client holds one `requests.Session` (connection reuse), the base URL, the bearer token, the timeouts and
the retry policy. Every interaction goes through `request()`, which sends `application/fhir+json`, keeps FHIR
decimal precision (`fhirjson`: `1.50` stays `1.50`), retries what is safe to retry (see `retry`), and turns
any failure into a `FhirClientError` that names the request and carries the server's OperationOutcome.
The sleeper and the clock are parameters so tests never really wait.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from fhir_service import __version__
from fhir_service.client.errors import FhirClientError, FhirTransportError, status_error
from fhir_service.client.links import LinkPolicy, PageGuard
from fhir_service.client.retry import (GATEWAY_STATUSES, NOT_PROCESSED_STATUSES, RetryPolicy, bundle_replay_safe,
                                       parse_retry_after, replay_safe, utcnow)
from fhir_service.store import fhirjson

log = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"
# Errors of the request itself: sending it again cannot help.
USELESS_TO_RETRY = (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                    requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader,
                    requests.exceptions.TooManyRedirects)
Params = Mapping[str, str] | Sequence[tuple[str, str]] | str | None


@dataclass
class FhirResponse:
    """A successful answer: status, headers (case-insensitive) and the parsed JSON body (None if empty)."""

    status: int
    headers: Mapping[str, str]
    body: dict[str, Any] | None
    url: str = ""


@dataclass
class WriteResult:
    """The outcome of create/update/delete: `created` (201), where the resource now lives and its version."""

    status: int
    location: str | None = None
    etag: str | None = None
    resource: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def created(self) -> bool:
        return self.status == 201

    @property
    def id(self) -> str | None:
        if self.resource and isinstance(self.resource.get("id"), str):
            return self.resource["id"]
        parts = location_parts(self.location)
        return parts[1] if parts else None

    @property
    def version_id(self) -> str | None:
        parts = location_parts(self.location)
        if parts and parts[2]:
            return parts[2]
        if self.etag:
            return self.etag.removeprefix("W/").strip('"')
        return None


def location_parts(location: str | None) -> tuple[str, str, str | None] | None:
    """(type, id, version) of `[base/]Type/id[/_history/v]`, or None."""
    if not location:
        return None
    segments = [s for s in urlsplit(location).path.split("/") if s]
    version = None
    if len(segments) >= 4 and segments[-2] == "_history":
        version = segments[-1]
        segments = segments[:-2]
    if len(segments) < 2 or not segments[-2][:1].isupper():
        return None
    return segments[-2], segments[-1], version


def etag_of(version: str | int) -> str:
    """An If-Match value: a version id becomes the weak ETag `W/"v"`; an ETag is passed as it is."""
    text = str(version)
    return text if text.startswith(('W/"', '"')) else f'W/"{text}"'


class FhirClient:
    """A FHIR R4 REST client. `timeout` is (connect, read) seconds; `retries`/`backoff` build the
    `RetryPolicy` unless `retry_policy` is given; `allow_origins` lists other origins whose paging links
    may be followed (with the token); `sleep` and `clock` are injectable for tests."""

    def __init__(self, base_url: str, *, token: str | None = None,
                 timeout: float | tuple[float, float] = (5.0, 60.0), retries: int = 3, backoff: float = 0.5,
                 retry_policy: RetryPolicy | None = None, session: requests.Session | None = None,
                 allow_origins: Iterable[str] = (), max_pages: int | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], dt.datetime] = utcnow) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the FHIR base URL must be an absolute http(s) URL, not {base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"the FHIR base URL must not have a query or fragment: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = retry_policy or RetryPolicy(retries=retries, backoff=backoff)
        self.links = LinkPolicy(self.base_url, allow_origins)
        self.max_pages = max_pages
        self.sleep = sleep
        self.clock = clock
        self._own_session = session is None
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": FHIR_JSON, "User-Agent": f"fhir-service/{__version__}"})
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    # -- plumbing ------------------------------------------------------------------------------------------------
    def __enter__(self) -> "FhirClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._own_session:
            self.session.close()

    def __repr__(self) -> str:  # never the token
        return f"FhirClient({self.base_url!r})"

    def url(self, path: str, params: Params = None) -> str:
        """The absolute URL of `path` (relative to the base, or absolute) with `params` appended."""
        url = path if urlsplit(path).scheme else f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{query_string(params)}"
        return url

    def request(self, method: str, path: str, *, params: Params = None, body: Any = None,
                headers: Mapping[str, str] | None = None, safe: bool | None = None) -> FhirResponse:
        """Send one interaction with the retry rules of `retry`. `safe` overrides whether the request may be
        replayed after an unknown outcome (read timeout, 502/504); by default the method decides."""
        method = method.upper()
        url = self.url(path, params)
        if not self.links.allows(url):
            raise FhirClientError(f"refused: {url} is not on the server's origin", method=method, url=url)
        send_headers = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else fhirjson.dumps(body)
            send_headers.setdefault("Content-Type", f"{FHIR_JSON}; charset=utf-8")
        may_replay = replay_safe(method, send_headers) if safe is None else safe
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, data=data, headers=send_headers, timeout=self.timeout)
            except USELESS_TO_RETRY as exc:
                raise FhirTransportError(f"cannot send: {exc}", method=method, url=url) from None
            except requests.RequestException as exc:  # timeouts, refused/dropped connections, broken bodies
                never_sent = _never_sent(exc)
                if attempt < self.policy.retries and (never_sent or may_replay):
                    self._wait(self.policy.backoff_delay(attempt), method, url, _transport_reason(exc, self.timeout))
                    attempt += 1
                    continue
                reason = _transport_reason(exc, self.timeout)
                if not (never_sent or may_replay):
                    reason += " (not retried: the server may have processed this non-idempotent request)"
                elif attempt:
                    reason += f" (after {attempt} retries)"
                raise FhirTransportError(reason, method=method, url=url) from None
            if response.status_code < 400:
                return FhirResponse(response.status_code, response.headers, self._json(response, method, url),
                                    response.url)
            status = response.status_code
            retryable = status in NOT_PROCESSED_STATUSES or (status in GATEWAY_STATUSES and may_replay)
            outcome = _outcome_of(response)
            if not retryable:
                raise status_error(method, url, status, outcome, dict(response.headers))
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self.clock)
            if retry_after is not None and retry_after > self.policy.max_retry_after:
                raise status_error(method, url, status, outcome, dict(response.headers),
                                   f"the server asks to retry after {retry_after:g} s, longer than the "
                                   f"{self.policy.max_retry_after:g} s this client waits")
            if attempt >= self.policy.retries:
                raise status_error(method, url, status, outcome, dict(response.headers),
                                   f"still after {attempt} retries" if attempt else "retries are off")
            delay = retry_after if retry_after is not None else self.policy.backoff_delay(attempt)
            self._wait(delay, method, url, f"HTTP {status}")
            attempt += 1

    def _wait(self, delay: float, method: str, url: str, why: str) -> None:
        log.info("%s %s: %s; retrying in %.3g s", method, url, why, delay)
        self.sleep(delay)

    @staticmethod
    def _json(response: requests.Response, method: str, url: str) -> dict[str, Any] | None:
        if not response.content or response.status_code == 204:
            return None
        try:
            value = fhirjson.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            kind = response.headers.get("Content-Type", "no content type")
            raise FhirClientError(f"the server answered HTTP {response.status_code} with a body that is not JSON "
                                  f"({kind})", method=method, url=url, status=response.status_code) from None
        if not isinstance(value, dict):
            raise FhirClientError("the server answered with JSON that is not a FHIR resource", method=method,
                                  url=url, status=response.status_code)
        return value

    # -- instance and type interactions --------------------------------------------------------------------------
    def capabilities(self) -> dict[str, Any]:
        return self._body(self.request("GET", "metadata"))

    def read(self, resource_type: str, id: str) -> dict[str, Any]:
        return self._body(self.request("GET", f"{resource_type}/{id}"))

    def vread(self, resource_type: str, id: str, version_id: str | int) -> dict[str, Any]:
        return self._body(self.request("GET", f"{resource_type}/{id}/_history/{version_id}"))

    def create(self, resource: dict[str, Any], *, if_none_exist: Params = None) -> WriteResult:
        """POST; with `if_none_exist` (search criteria) a conditional create: 200 and no new resource when
        the criteria match one, which makes it safe to retry and to repeat."""
        resource_type = _type_of(resource)
        headers = {}
        if if_none_exist:
            headers["If-None-Exist"] = query_string(if_none_exist)
        return _written(self.request("POST", resource_type, body=resource, headers=headers))

    def conditional_create(self, resource: dict[str, Any], criteria: Params) -> WriteResult:
        if not criteria:
            raise ValueError("a conditional create needs search criteria (e.g. identifier=system|value)")
        return self.create(resource, if_none_exist=criteria)

    def update(self, resource: dict[str, Any], *, if_match: str | int | None = None) -> WriteResult:
        """PUT Type/id; `if_match` (a version id or an ETag) makes it a version-aware update: HTTP 412 when
        someone else changed the resource since that version was read."""
        resource_type = _type_of(resource)
        id = resource.get("id")
        if not isinstance(id, str) or not id:
            raise ValueError("update needs the resource's id")
        headers = {"If-Match": etag_of(if_match)} if if_match is not None else {}
        return _written(self.request("PUT", f"{resource_type}/{id}", body=resource, headers=headers))

    def delete(self, resource_type: str, id: str, *, if_match: str | int | None = None) -> WriteResult:
        headers = {"If-Match": etag_of(if_match)} if if_match is not None else {}
        return _written(self.request("DELETE", f"{resource_type}/{id}", headers=headers))

    def transaction(self, bundle: dict[str, Any], *, prefer: str | None = None) -> dict[str, Any]:
        """POST a transaction Bundle; `prefer` (e.g. `return=minimal`) asks the server to leave the written
        resources out of the response entries, which then carry only status, location and etag."""
        return self._bundle_post(bundle, "transaction", prefer)

    def batch(self, bundle: dict[str, Any], *, prefer: str | None = None) -> dict[str, Any]:
        return self._bundle_post(bundle, "batch", prefer)

    def _bundle_post(self, bundle: dict[str, Any], kind: str, prefer: str | None) -> dict[str, Any]:
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or bundle.get("type") != kind:
            raise ValueError(f"{kind}() takes a Bundle of type {kind!r}")
        headers = {"Prefer": prefer} if prefer else {}
        return self._body(self.request("POST", "", body=bundle, headers=headers, safe=bundle_replay_safe(bundle)))

    # -- search and paging ---------------------------------------------------------------------------------------
    def pages(self, path: str, params: Params = None) -> Iterator[dict[str, Any]]:
        """Every page (Bundle) of a search, `$everything` or history, following `next` links on the same
        origin and never the same page twice."""
        guard = PageGuard(self.links, self.max_pages)
        url: str | None = self.url(path, params)
        while url:
            guard.visit(url)
            bundle = self._body(self.request("GET", url))
            if bundle.get("resourceType") != "Bundle":
                raise FhirClientError(f"expected a Bundle, got {bundle.get('resourceType')}", method="GET", url=url)
            yield bundle
            url = next_link(bundle, url)
            if url:
                refusal = guard.refusal(url)
                if refusal:
                    raise FhirClientError(refusal, method="GET", url=url)

    def search(self, resource_type: str | None = None, params: Params = None, *,
               modes: Sequence[str] = ("match", "include")) -> Iterator[dict[str, Any]]:
        """The resources of a search across all pages (search mode `match` and `include`; `outcome` entries,
        the server's warnings about the search, are left out unless asked for)."""
        yield from self.resources(resource_type or "", params, modes=modes)

    def resources(self, path: str, params: Params = None, *,
                  modes: Sequence[str] = ("match", "include")) -> Iterator[dict[str, Any]]:
        for bundle in self.pages(path, params):
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                mode = (entry.get("search") or {}).get("mode", "match") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and mode in modes:
                    yield resource

    def everything(self, patient_id: str) -> Iterator[dict[str, Any]]:
        yield from self.resources(f"Patient/{patient_id}/$everything")

    @staticmethod
    def _body(response: FhirResponse) -> dict[str, Any]:
        if response.body is None:
            raise FhirClientError(f"the server answered HTTP {response.status} without a body", method="GET",
                                  url=response.url, status=response.status)
        return response.body


def query_string(params: Params) -> str:
    """`a=b&c=d` from a mapping, a list of pairs (repeated names kept) or a query string (as it is)."""
    if not params:
        return ""
    if isinstance(params, str):
        return params.lstrip("?")
    return urlencode(list(params.items()) if isinstance(params, Mapping) else list(params))


def next_link(bundle: dict[str, Any], current_url: str) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return urljoin(current_url, link["url"])
    return None


def _type_of(resource: Any) -> str:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise ValueError("a FHIR resource (a dict with resourceType) is needed")
    return resource["resourceType"]


def _written(response: FhirResponse) -> WriteResult:
    body = response.body
    resource = body if body and body.get("resourceType") != "OperationOutcome" else None
    outcome = body if body and body.get("resourceType") == "OperationOutcome" else None
    return WriteResult(response.status, response.headers.get("Location") or response.headers.get("Content-Location"),
                       response.headers.get("ETag"), resource, outcome)


def _outcome_of(response: requests.Response) -> dict[str, Any] | None:
    try:
        value = fhirjson.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) and value.get("resourceType") == "OperationOutcome" else None


def _never_sent(exc: Exception) -> bool:
    """True when the request cannot have reached the server (connect timeout, connection refused)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _transport_reason(exc: Exception, timeout: float | tuple[float, float]) -> str:
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection within {connect:g} s (connect timeout)"
    if isinstance(exc, requests.ReadTimeout):
        return f"no answer within {read:g} s (read timeout)"
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, NewConnectionError):
        text = str(reason).split(": ", 1)[-1]
        return f"cannot connect: {text}"
    if isinstance(exc, requests.ConnectionError):
        return f"connection failed: {exc}"
    return f"the answer broke off: {type(exc).__name__}: {exc}"
