"""Which URLs a client may follow: the paging links a server hands back are data from the network.

A `next` link on another host would receive the bearer token (a leak), and a server whose `next` points back
at a page already read would keep a naive client busy forever. So links are followed only on the base URL's
origin (scheme, host, port) unless that origin was allowed explicitly, and never twice.
"""
from __future__ import annotations

from typing import Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """`scheme://host:port` with the default port made explicit and the host lower-cased."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


class LinkPolicy:
    """Origins the client may send requests (and its token) to: the base URL's, plus any allowed."""

    def __init__(self, base_url: str, allow_origins: Iterable[str] = ()) -> None:
        self.origins = {origin(base_url), *(origin(o) for o in allow_origins)}

    def allows(self, url: str) -> bool:
        return origin(url) in self.origins


class PageGuard:
    """Remembers the pages of one search; says why a `next` link must not be followed (None if it may)."""

    def __init__(self, policy: LinkPolicy, max_pages: int | None = None) -> None:
        self.policy = policy
        self.max_pages = max_pages
        self.seen: set[str] = set()

    def visit(self, url: str) -> None:
        self.seen.add(url)

    def refusal(self, url: str) -> str | None:
        if not urlsplit(url).scheme:
            return None  # relative: resolved against the base, same origin by construction
        if not self.policy.allows(url):
            return (f"the server's next link {url} is on another origin ({origin(url)}); not followed, so the "
                    "token is not sent there (allow that origin explicitly to follow it)")
        if url in self.seen:
            return f"the server's next link {url} points to a page already read (a paging loop); stopped"
        if self.max_pages is not None and len(self.seen) >= self.max_pages:
            return f"more than {self.max_pages} pages; stopped (raise max_pages to read further)"
        return None
