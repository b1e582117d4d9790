"""Bundle-level rules: entry identities (fullUrl), reference resolution inside the Bundle, and the per-type rules
that the Bundle invariants do not express.

What is NOT here, on purpose (the validator evaluates the base invariants of Bundle, and a rule must not be
reported twice): bdl-1 (total only in searchset/history), bdl-2 (entry.search only in searchset), bdl-3 (request
required for batch/transaction/history, prohibited otherwise: so collection entries have no request), bdl-4
(response required for batch-response/transaction-response/history, prohibited otherwise), bdl-5 (resource or
request or response), bdl-7 (fullUrl unique, unless meta.versionId differs; history bundles exempt), bdl-8
(no /_history/ in fullUrl), bdl-9 (document identifier), bdl-10 (document timestamp), bdl-11 (document: first
entry a Composition), bdl-12 (message: first entry a MessageHeader). Cardinalities (request.method and
request.url 1..1, response.status 1..1) are the structure validator's.

What IS here, following the HL7 Java validator where it has a rule (messages worded like its own):
- every entry with a resource has a fullUrl, except in transactions and batches (and their responses);
- a fullUrl is absolute; a RESTful fullUrl (`[base]/Type/id`) agrees with the resource's type and id;
- history bundles: the same fullUrl twice needs different meta.versionId (bdl-7 exempts history bundles);
- references resolve by the FHIR rules (http://hl7.org/fhir/R4/bundle.html#references): absolute URLs and
  `urn:` against the fullUrls, relative `Type/id` against the base of the referring entry's fullUrl (when that is
  RESTful), versioned references against meta.versionId, `#id` against the entry's contained resources. What an
  unresolved reference means depends on the Bundle type: a document or message must be self-contained, so it is
  an error there; a `urn:` reference can only ever resolve inside the Bundle, so it is an error in a transaction
  (the server could not process it) and a warning elsewhere (the Java validator's severity for collections); a
  relative reference may point to the server, so it is silent unless an entry has that type and id under
  another fullUrl (a warning: most likely a mistake, as the Java validator says);
- transaction/batch: request.url agrees with the resource (POST: the type; PUT: type and id); a relative
  reference `Type/id` also resolves to the entry that does `PUT Type/id` (it names the server's resource);
- searchset: matches have ids and the searched type, outcome entries are OperationOutcomes, a self link and
  search modes are expected unless the self link names the searched type (warnings); the paging links self/first/previous/next/last occur at most once.

All of it is linear in the size of the Bundle: the fullUrls are indexed in a dict once, every reference is one
lookup. `make_resolver` gives the same resolution to the validator (targetProfile checks, FHIRPath resolve()).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from fhir_service.validation.outcome import Issue, Location

Resource = dict[str, Any]

# [base]/Type/id, optionally /_history/version: the RESTful form of a URL (http://hl7.org/fhir/R4/references.html)
RESTFUL_URL = re.compile(
    r"^(?P<base>(?:https?)://.+?)/(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?$")
RELATIVE_REF = re.compile(
    r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?$")
ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
SINGLE_LINKS = ("self", "first", "previous", "prev", "next", "last")
NO_FULLURL_TYPES = {"transaction", "batch", "transaction-response", "batch-response"}


def _strip_history(url: str) -> tuple[str, str | None]:
    head, sep, version = url.partition("/_history/")
    return (head, version or None) if sep else (url, None)


@functools.cache
def _resource_type_names() -> frozenset[str]:
    from fhir_service.definitions import default_definitions

    return frozenset(default_definitions().resource_types)


def _is_resource_type(name: str) -> bool:
    """Only `[base]/<a FHIR resource type>/id` is RESTful (the Java validator's rule): any other absolute URL is
    just an identity, and its segments are not compared with the resource's type and id."""
    return name in _resource_type_names()


def _is_absolute(url: str) -> bool:
    return bool(ABSOLUTE.match(url))


@dataclass
class BundleIndex:
    """The entries of one Bundle indexed for reference resolution (built once, in one pass)."""

    bundle: Resource
    by_full_url: dict[str, list[int]] = field(default_factory=dict)
    by_type_id: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    by_put_url: dict[str, list[int]] = field(default_factory=dict)  # transaction/batch `PUT Type/id` entries
    full_urls: list[str | None] = field(default_factory=list)
    resources: list[Resource | None] = field(default_factory=list)
    _contained: dict[int, dict[str, Resource]] = field(default_factory=dict)

    @classmethod
    def build(cls, bundle: Resource) -> "BundleIndex":
        index = cls(bundle)
        entries = bundle.get("entry")
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            entry = entry if isinstance(entry, dict) else {}
            full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
            resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else None
            index.full_urls.append(full_url)
            index.resources.append(resource)
            if full_url:
                index.by_full_url.setdefault(_strip_history(full_url)[0], []).append(i)
            if resource is not None and isinstance(resource.get("resourceType"), str) \
                    and isinstance(resource.get("id"), str):
                index.by_type_id.setdefault((resource["resourceType"], resource["id"]), []).append(i)
            request = entry.get("request")
            if bundle.get("type") in ("transaction", "batch") and isinstance(request, dict) \
                    and request.get("method") == "PUT" and isinstance(request.get("url"), str) \
                    and RELATIVE_REF.match(request["url"]):
                index.by_put_url.setdefault(_strip_history(request["url"])[0], []).append(i)
        return index

    @property
    def type(self) -> str | None:
        value = self.bundle.get("type")
        return value if isinstance(value, str) else None

    def contained(self, entry: int) -> dict[str, Resource]:
        """Contained resources of an entry's resource by id (built on first use)."""
        found = self._contained.get(entry)
        if found is None:
            resource = self.resources[entry] or {}
            contained = resource.get("contained")
            found = {c["id"]: c for c in contained if isinstance(c, dict) and isinstance(c.get("id"), str)} \
                if isinstance(contained, list) else {}
            self._contained[entry] = found
        return found

    def target_url(self, reference: str, referrer_full_url: str | None) -> str | None:
        """The absolute URL a (non-fragment) reference means, by the Bundle rules; None when it cannot say."""
        if _is_absolute(reference):
            return reference
        match = RELATIVE_REF.match(reference)
        if match and referrer_full_url:
            restful = RESTFUL_URL.match(referrer_full_url)
            if restful:
                return f"{restful['base']}/{reference}"
            if referrer_full_url.startswith("urn:") and match["version"] is None:
                # the Java validator's rule: from a `urn:uuid:` entry, `Type/id` means `urn:uuid:id`
                return referrer_full_url.rsplit(":", 1)[0] + ":" + match["id"]
        return None

    def candidates(self, reference: str, referrer_full_url: str | None) -> list[int]:
        """Entries whose fullUrl is the reference's target (any version; see `matches` for the versioned)."""
        target = self.target_url(reference, referrer_full_url)
        found = self.by_full_url.get(_strip_history(target)[0], []) if target is not None else []
        if not found and not _is_absolute(reference):
            # an entry whose (invalid, already reported) fullUrl is this very relative URL: take it, as the Java
            # validator does, rather than cascading one error into one per reference
            found = self.by_full_url.get(_strip_history(reference)[0], [])
        return found

    def matches(self, reference: str, referrer_full_url: str | None) -> list[int]:
        """Entries the reference resolves to; a versioned reference only matches that meta.versionId."""
        found = self.candidates(reference, referrer_full_url)
        if not found and self.by_put_url and not _is_absolute(reference):
            # in a transaction, `Type/id` names what the server will hold after the `PUT Type/id` entry
            found = self.by_put_url.get(_strip_history(reference)[0], [])
        version = _strip_history(reference)[1]
        if version is not None and found:
            found = [i for i in found if _version_id(self.resources[i]) == version]
        return found

    def entry_of(self, full_url: str | None) -> int | None:
        if not full_url:
            return None
        found = self.by_full_url.get(_strip_history(full_url)[0])
        return found[0] if found else None


def _version_id(resource: Resource | None) -> str | None:
    meta = resource.get("meta") if resource else None
    value = meta.get("versionId") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def make_resolver(bundle: Resource) -> Callable[[str, str | None], Resource | None]:
    """A function (reference, referring entry's fullUrl) -> the resource it points to inside `bundle`, or None.

    `#id` resolves to a contained resource of the referring entry (`#` alone to the entry's resource itself).
    Without the referring fullUrl, a relative `Type/id` resolves only to a unique entry whose RESTful fullUrl ends
    in `/Type/id`. Built once per Bundle; each call is a dict lookup.
    """
    index = BundleIndex.build(bundle)

    def resolve(reference: str, referrer_full_url: str | None = None) -> Resource | None:
        if not isinstance(reference, str) or not reference:
            return None
        if reference.startswith("#"):
            entry = index.entry_of(referrer_full_url)
            if entry is None:
                return None
            if reference == "#":
                return index.resources[entry]
            return index.contained(entry).get(reference[1:])
        found = index.matches(reference, referrer_full_url)
        if not found and referrer_full_url is None:
            found = _unique_restful_match(index, reference)
        return index.resources[found[0]] if found else None

    return resolve


def _unique_restful_match(index: BundleIndex, reference: str) -> list[int]:
    """For callers that do not know the referring entry (FHIRPath resolve() deep in a resource): a relative
    `Type/id` taken as the one entry whose RESTful fullUrl ends in that `/Type/id`, when there is exactly one."""
    match = RELATIVE_REF.match(reference)
    if not match:
        return []
    suffix = f"/{match['type']}/{match['id']}"
    found = [i for i in index.by_type_id.get((match["type"], match["id"]), [])
             if (index.full_urls[i] or "").endswith(suffix) and RESTFUL_URL.match(index.full_urls[i] or "")]
    return found if len(found) == 1 else []


# -- the rules ------------------------------------------------------------------------------------------------
def check_bundle(bundle: Resource, expression: str = "Bundle", location: Location = ()) -> list[Issue]:
    """Issues of the Bundle-level rules (see the module docstring) for the Bundle at `location`/`expression`
    (the root, or a Bundle nested in another resource: its references resolve against its own entries)."""
    if not isinstance(bundle, dict):
        return []
    index = BundleIndex.build(bundle)
    issues: list[Issue] = []
    entries = bundle.get("entry")
    entries = entries if isinstance(entries, list) else []
    bundle_type = index.type
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        entry_loc = (*location, "entry", i)
        entry_expr = f"{expression}.entry[{i}]"
        issues.extend(_check_full_url(index, i, entry, bundle_type, entry_expr, entry_loc))
        if bundle_type in ("transaction", "batch"):
            issues.extend(_check_request(entry, entry_expr, entry_loc))
        if bundle_type == "searchset":
            issues.extend(_check_search_entry(bundle, entry, entry_expr, entry_loc))
    if bundle_type == "history":
        issues.extend(_check_history_duplicates(index, expression, location))
    if bundle_type == "searchset":
        issues.extend(_check_searchset(bundle, entries, expression, location))
    issues.extend(_check_links(bundle, expression, location))
    issues.extend(_check_references(index, entries, expression, location))
    return issues


def _check_full_url(index: BundleIndex, i: int, entry: dict[str, Any], bundle_type: str | None,
                    expr: str, loc: Location) -> Iterator[Issue]:
    resource = index.resources[i]
    full_url = entry.get("fullUrl")
    if not isinstance(full_url, str):
        if resource is not None and bundle_type not in NO_FULLURL_TYPES:
            yield Issue("error", "invalid", "Except for transactions and batches, each entry in a Bundle must have "
                        "a fullUrl which is the identity of the resource in the entry", expr, loc,
                        rule="bundle-fullurl-required")
        return
    url_loc, url_expr = (*loc, "fullUrl"), f"{expr}.fullUrl"
    if not _is_absolute(full_url):
        yield Issue("error", "invalid", f"The fullUrl must be an absolute URL (not '{full_url}')", url_expr, url_loc,
                    rule="bundle-fullurl-absolute")
        return
    restful = RESTFUL_URL.match(full_url)
    if restful is None or resource is None or not _is_resource_type(restful["type"]):
        return  # `.../Obervation/obs1` is not a RESTful URL: its type segment names no resource type
    resource_type, resource_id = resource.get("resourceType"), resource.get("id")
    if resource_id is None:
        method = (entry.get("request") or {}).get("method") if isinstance(entry.get("request"), dict) else None
        if method != "POST":  # a create in a transaction has no id yet
            yield Issue("error", "invalid", f"The fullUrl '{full_url}' looks like a RESTful server URL, but the "
                        "resource has no id", url_expr, url_loc, rule="bundle-fullurl-id")
        return
    if restful["type"] != resource_type or restful["id"] != resource_id:
        yield Issue("error", "invalid", f"The fullUrl '{full_url}' looks like a RESTful server URL, so it must end "
                    f"with the correct type and id (/{resource_type}/{resource_id})", url_expr, url_loc,
                    rule="bundle-fullurl-id")


def _check_history_duplicates(index: BundleIndex, expression: str, location: Location) -> Iterator[Issue]:
    for full_url, positions in index.by_full_url.items():
        if len(positions) < 2:
            continue
        seen: dict[str | None, int] = {}
        for i in positions:
            if index.resources[i] is None:
                continue  # a deletion: no resource, no version to compare
            version = _version_id(index.resources[i])
            if version in seen:
                yield Issue("error", "invalid", f"Entries {seen[version]} and {i} have the same fullUrl '{full_url}' "
                            f"and the same meta.versionId ({version or 'none'}): in a history Bundle each version of "
                            "a resource appears once", f"{expression}.entry[{i}].fullUrl",
                            (*location, "entry", i, "fullUrl"), rule="bundle-history-version")
            else:
                seen[version] = i


def _check_request(entry: dict[str, Any], expr: str, loc: Location) -> Iterator[Issue]:
    request, resource = entry.get("request"), entry.get("resource")
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        return  # absence is bdl-3 / cardinality
    method, url = request.get("method"), request["url"]
    url_loc, url_expr = (*loc, "request", "url"), f"{expr}.request.url"
    if method in ("GET", "HEAD", "DELETE") and isinstance(resource, dict):
        yield Issue("warning", "invalid", f"A {method} entry carries a resource that will be ignored",
                    f"{expr}.resource", (*loc, "resource"), rule="bundle-request-resource")
    if method not in ("POST", "PUT", "PATCH") or not isinstance(resource, dict):
        return
    if method == "PATCH":
        return  # the resource is a Binary or Parameters patch document
    resource_type = resource.get("resourceType")
    path = url.split("?", 1)[0].strip("/")
    if _is_absolute(path):
        restful = RESTFUL_URL.match(path)
        path = f"{restful['type']}/{restful['id']}" if restful else path.rsplit("/", 1)[-1]
    parts = path.split("/")
    if method == "POST":
        if parts[0] != resource_type:
            yield Issue("error", "invalid", f"The POST url '{url}' does not name the type of the resource "
                        f"({resource_type})", url_expr, url_loc, rule="bundle-request-url")
        return
    # PUT: Type/id, or a conditional update Type?search
    if parts[0] != resource_type:
        yield Issue("error", "invalid", f"The PUT url '{url}' does not name the type of the resource "
                    f"({resource_type})", url_expr, url_loc, rule="bundle-request-url")
    elif len(parts) >= 2 and "?" not in url and resource.get("id") is not None and parts[1] != resource.get("id"):
        yield Issue("error", "invalid", f"The PUT url '{url}' names id '{parts[1]}' but the resource's id is "
                    f"'{resource.get('id')}'", url_expr, url_loc, rule="bundle-request-url")


def _searched_type(bundle: Resource) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "self" and isinstance(link.get("url"), str):
            path = link["url"].split("?", 1)[0].rstrip("/")
            last = path.rsplit("/", 1)[-1]
            return last if re.fullmatch(r"[A-Z][A-Za-z]+", last) else None
    return None


def _check_search_entry(bundle: Resource, entry: dict[str, Any], expr: str, loc: Location) -> Iterator[Issue]:
    resource = entry.get("resource")
    search = entry.get("search") if isinstance(entry.get("search"), dict) else {}
    mode = search.get("mode")
    if not isinstance(resource, dict):
        return
    res_expr, res_loc = f"{expr}.resource", (*loc, "resource")
    resource_type = resource.get("resourceType")
    if mode == "outcome" and resource_type != "OperationOutcome":
        yield Issue("error", "invalid", f"This is not an OperationOutcome ({resource_type})", res_expr, res_loc,
                    rule="bundle-search-outcome")
    if mode in ("match", "include") and resource.get("id") is None:
        yield Issue("error", "invalid", "Search results must have ids", res_expr, res_loc, rule="bundle-search-id")
    searched = _searched_type(bundle)
    if mode == "match" and searched and resource_type != searched:
        yield Issue("error", "invalid", f"This is not a matching resource type for the specified search "
                    f"({resource_type} expecting [{searched}])", res_expr, res_loc, rule="bundle-search-type")


def _check_searchset(bundle: Resource, entries: list[Any], expression: str, location: Location) -> Iterator[Issue]:
    links = bundle.get("link") if isinstance(bundle.get("link"), list) else []
    if not any(isinstance(link, dict) and link.get("relation") == "self" for link in links):
        yield Issue("warning", "invalid", "SearchSet Bundles should have a self link that specifies what the search "
                    "was", expression, location, rule="bundle-search-self")
    # Without modes, matches and includes can still be told apart when the self link names the searched type
    # (as the Java validator does, the warning is only given when it cannot).
    if _searched_type(bundle) is None and any(
            isinstance(e, dict) and isinstance(e.get("resource"), dict) and not (e.get("search") or {}).get("mode")
            for e in entries):
        yield Issue("warning", "invalid", "SearchSet bundles should have search modes on the entries", expression,
                    location, rule="bundle-search-mode")


def _check_links(bundle: Resource, expression: str, location: Location) -> Iterator[Issue]:
    links = bundle.get("link")
    if not isinstance(links, list):
        return
    seen: set[str] = set()
    for i, link in enumerate(links):
        relation = link.get("relation") if isinstance(link, dict) else None
        if relation in SINGLE_LINKS:
            if relation in seen:
                yield Issue("error", "invalid", f"The link relationship type '{relation}' can only occur once",
                            f"{expression}.link[{i}]", (*location, "link", i), rule="bundle-link-once")
            seen.add(relation)


# -- references -----------------------------------------------------------------------------------------------
def iter_references(resource: Resource, location: Location) -> Iterator[tuple[str, Location]]:
    """(reference string, location of the Reference) of every Reference in a resource, contained ones included,
    without descending into nested Bundles (their references are checked against their own entries).
    Iterative: no recursion limit on deep resources."""
    stack: list[tuple[Any, Location]] = [(resource, location)]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, dict):
            ref = value.get("reference")
            if isinstance(ref, str):
                yield ref, loc
            for key, child in value.items():
                if isinstance(child, (dict, list)):
                    if isinstance(child, dict) and child.get("resourceType") == "Bundle":
                        continue
                    stack.append((child, (*loc, key)))
        elif isinstance(value, list):
            for j in range(len(value) - 1, -1, -1):
                child = value[j]
                if isinstance(child, (dict, list)):
                    if isinstance(child, dict) and child.get("resourceType") == "Bundle":
                        continue
                    stack.append((child, (*loc, j)))


def _path_expression(prefix: str, loc: Location) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _check_references(index: BundleIndex, entries: list[Any], expression: str,
                      location: Location) -> Iterator[Issue]:
    bundle_type = index.type
    self_contained = bundle_type in ("document", "message")
    signature = index.bundle.get("signature")
    if isinstance(signature, dict):  # Bundle.signature.who / onBehalfOf: resolved with no entry's base
        for reference, ref_loc in iter_references(signature, (*location, "signature")):
            if reference and not reference.startswith("#"):
                yield from _check_one_reference(index, reference, None, bundle_type, self_contained, -1,
                                                _path_expression(f"{expression}.signature", ref_loc[len(location) + 1:]),
                                                ref_loc)
    for i, entry in enumerate(entries):
        resource = index.resources[i]
        if resource is None or resource.get("resourceType") == "Bundle":
            continue  # a Bundle inside a Bundle resolves against its own entries (its own check_bundle call)
        full_url = index.full_urls[i]
        res_loc = (*location, "entry", i, "resource")
        res_expr = f"{expression}.entry[{i}].resource"
        for reference, ref_loc in iter_references(resource, res_loc):
            if reference.startswith("#") or not reference:
                continue  # contained references: invariant ref-1 checks them
            ref_expr = _path_expression(res_expr, ref_loc[len(res_loc):])
            yield from _check_one_reference(index, reference, full_url, bundle_type, self_contained, i,
                                            ref_expr, ref_loc)


def _check_one_reference(index: BundleIndex, reference: str, full_url: str | None, bundle_type: str | None,
                         self_contained: bool, entry: int, expr: str, loc: Location) -> Iterator[Issue]:
    ref_loc = (*loc, "reference")
    found = index.matches(reference, full_url)
    if len(found) == 1:
        relative = RELATIVE_REF.match(reference)
        target_type = (index.resources[found[0]] or {}).get("resourceType")
        if relative and target_type and relative["type"] != target_type:
            yield Issue("error", "required", f"Matching reference for reference {reference} has resourceType "
                        f"{target_type}", expr, ref_loc, rule="bundle-ref-type")
        return
    if len(found) > 1:
        if bundle_type != "history":
            yield Issue("error", "invalid", f"Found {len(found)} matches for '{reference}' in the bundle (entries "
                        f"{', '.join(str(f) for f in found)})", expr, ref_loc, rule="bundle-ref-ambiguous")
        return
    relative = RELATIVE_REF.match(reference)
    if relative and not full_url and bundle_type not in NO_FULLURL_TYPES:
        yield Issue("error", "required", "Relative Reference appears inside Bundle whose entry is missing a fullUrl",
                    expr, ref_loc, rule="bundle-ref-resolve")
        return
    target = index.target_url(reference, full_url)
    same_type_id: list[int] = []
    parsed = relative or RESTFUL_URL.match(reference)
    if parsed:
        same_type_id = index.by_type_id.get((parsed["type"], parsed["id"]), [])
    versioned_miss = bool(index.candidates(reference, full_url))
    is_urn = reference.startswith("urn:")
    if self_contained:
        note = ""
        if versioned_miss:
            note = " (an entry has that fullUrl, but not that meta.versionId)"
        elif same_type_id:
            one = len(same_type_id) == 1
            found = ", ".join(f"'{index.full_urls[j]}'" for j in same_type_id[:3])
            note = (f". Note that there {'is a resource' if one else f'are {len(same_type_id)} resources'} in the "
                    f"bundle with the same type and id, but {'it does' if one else 'they do'} not match because of "
                    f"the fullUrl based rules around matching relative references. Found {found}")
        yield Issue("error", "invalid" if note else "not-found",
                    f"Can't find '{reference}' in the {bundle_type} bundle{note}", expr, ref_loc,
                    rule="bundle-ref-resolve")
        return
    if is_urn:
        severity = "error" if bundle_type == "transaction" else "warning"
        yield Issue(severity, "not-found", f"URN reference is not locally contained within the bundle: {reference}",
                    expr, ref_loc, rule="bundle-ref-resolve")
        return
    if bundle_type in ("transaction", "batch"):
        return  # a relative reference in a transaction names a resource on the server: nothing to say here
    if versioned_miss:
        yield Issue("warning", "not-found", f"The bundle has an entry with fullUrl '{target}' but not the version "
                    f"that '{reference}' asks for", expr, ref_loc, rule="bundle-ref-resolve")
        return
    for j in same_type_id:
        yield Issue("warning", "required", f"Entry {j} matches the reference {reference} by type and id but its "
                    f"fullUrl {index.full_urls[j]} does not match the full target URL "
                    f"{target or reference} by Bundle resolution rules", expr, ref_loc, rule="bundle-ref-resolve")
