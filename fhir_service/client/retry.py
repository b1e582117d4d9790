"""When a failed request may be sent again, and how long to wait first.

The rule that matters is not to do twice what the server may already have done once:
- a request that never reached the server (connection refused, connect timeout) can always be sent again;
- 429 and 503 say the server did not process the request: any method is retried, after `Retry-After`
  (seconds or an HTTP-date) when the server gives one, else after exponential backoff;
- 502/504 and a read timeout or a dropped connection leave it unknown whether the server acted: only a
  replay-safe request is retried there: GET/HEAD/PUT/DELETE/OPTIONS, a conditional create (POST with
  If-None-Exist, which matches what the first attempt created), or a transaction/batch whose entries are all
  of those kinds (what `push` sends);
- any other status (400, 401, 404, 412, 422, 500 ...) is an answer, not a hiccup: never retried.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Mapping

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
NOT_PROCESSED_STATUSES = frozenset({429, 503})  # the server says: not done, try later
GATEWAY_STATUSES = frozenset({502, 504})  # unknown whether the origin server acted


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` after the first attempt; waits `backoff`, 2x`backoff`, 4x... capped at `max_backoff`.
    A `Retry-After` longer than `max_retry_after` is not waited for: the error is raised at once, since a
    command-line run should not hang for an hour because a server said so."""

    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("retries, backoff, max_backoff and max_retry_after must not be negative")

    def backoff_delay(self, attempt: int) -> float:
        """Wait before retry number `attempt + 1` (attempt counts from 0)."""
        return min(self.max_backoff, self.backoff * (2 ** attempt))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_retry_after(value: str | None, now: Callable[[], dt.datetime] = utcnow) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110: delay-seconds or an HTTP-date); None if absent or
    unreadable. A date in the past means 'now' (0)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - now()).total_seconds())


def is_conditional_create(method: str, headers: Mapping[str, str]) -> bool:
    return method == "POST" and any(k.lower() == "if-none-exist" and v for k, v in headers.items())


def replay_safe(method: str, headers: Mapping[str, str]) -> bool:
    """May this request be sent again although the server may have processed it already?"""
    return method in IDEMPOTENT_METHODS or is_conditional_create(method, headers)


def bundle_replay_safe(bundle: Any) -> bool:
    """True when every entry of a transaction/batch is replay-safe on its own (PUT, DELETE, GET, HEAD or a
    POST with ifNoneExist), so that sending the whole Bundle twice does what sending it once does."""
    if not isinstance(bundle, dict) or bundle.get("type") not in ("transaction", "batch"):
        return False
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        return False
    for entry in entries:
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict):
            return False
        method = str(request.get("method") or "").upper()
        if method in IDEMPOTENT_METHODS:
            continue
        if method == "POST" and request.get("ifNoneExist"):
            continue
        return False
    return True
