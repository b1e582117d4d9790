"""fhir-candle's R4 search cases (tests/conformance/data/fhir-candle-search) run against the REST core.

Fixtures are loaded the way candle loads them (README there): batch/transaction Bundles as transactions,
everything else upserted under its own id. Each case is checked as candle checks it: HTTP 200, a searchset
whose `total` is the expected count, the entry count when given, and a self link that starts with
`<base>/<Type>?` and contains each `&`-separated part of the query. Cases that simulate a SMART launch
(`auth` set) are skipped: this server has no SMART scopes. The score is printed; a floor is asserted so
that a regression fails the run.
"""
from __future__ import annotations

import json
from typing import Any, Iterator
from urllib.parse import quote, unquote

import pytest

from fhir_service.rest import FhirRest
from fhir_service.store.dates import date_range
from fhir_service.store.repository import SearchQuery
from fhir_service.store.sql_repository import SqlRepository
from tests.conftest import CONFORMANCE_DATA

SUITE = CONFORMANCE_DATA / "fhir-candle-search"
BASE = "http://candle.test/fhir"
FLOOR = 151  # non-SMART cases that must pass (151/155 at the time of writing); raise it when the score goes up
# Where candle departs from the specification, this server follows the specification (the cases still count
# as failures in the score): `|code` means "a code with NO system" (R4 search 3.1.1.5.6); candle matches any.
KNOWN_DIVERGENCES = {"candle-r4-084", "candle-r4-094", "candle-r4-183", "candle-r4-193"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def load_fixtures(rest: FhirRest) -> list[str]:
    """Load every fixture; returns the names of the files that did not load (candle fails one, too)."""
    failed = []
    for path in sorted((SUITE / "fixtures-r4").glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8-sig"))
        if resource.get("resourceType") == "Bundle" and resource.get("type") in ("batch", "transaction"):
            response = rest.handle("POST", "", "", {"Content-Type": "application/fhir+json"},
                                   json.dumps({**resource, "type": "transaction"}), base=BASE)
        else:
            response = rest.handle("PUT", f"/{resource['resourceType']}/{resource['id']}", "",
                                   {"Content-Type": "application/fhir+json"}, json.dumps(resource), base=BASE)
        if response.status >= 400:
            failed.append(path.name)
    return failed


def encode_query(raw: str) -> str:
    """The suite's queries are raw text: percent-encode each name and value."""
    parts = []
    for part in raw.split("&"):
        name, _, value = part.partition("=")
        parts.append(f"{quote(name, safe=':._-$')}={quote(value, safe='')}")
    return "&".join(parts)


def split_url(url: str) -> tuple[str, str]:
    path, _, query = url.partition("?")
    return path, (encode_query(query) if query else "")


def self_link_ok(bundle: dict[str, Any], path: str, query: str | None) -> str | None:
    """The self link starts with `<base><path>` (`/Type`, or `/Patient/x/Type` in a compartment) and holds
    each part of the query."""
    links = [l["url"] for l in bundle.get("link", []) if l.get("relation") == "self"]
    if not links:
        return "no self link"
    link = unquote(links[0])
    if not link.startswith(f"{BASE}{path}"):
        return f"self link {link} does not start with {BASE}{path}"
    for part in (query or "").split("&"):
        if part and part not in link:
            return f"self link {link} lacks {part!r}"
    return None


def check_bundle(response: Any, case: dict[str, Any]) -> str | None:
    if response.status != 200:
        return f"HTTP {response.status}: {json.dumps(response.body)[:300]}"
    bundle = response.body
    if bundle.get("type") != "searchset":
        return "not a searchset"
    if bundle.get("total") != case["expectedTotal"]:
        return f"total {bundle.get('total')} != {case['expectedTotal']}"
    entries = [e for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "outcome"]
    if case.get("expectedEntries") is not None and len(entries) != case["expectedEntries"]:
        return f"{len(entries)} entries != {case['expectedEntries']}"
    return self_link_ok(bundle, case["get"].split("?")[0], case.get("query"))


def sort_value(resource: dict[str, Any], name: str, descending: bool) -> Any:
    if name == "_lastUpdated":
        return resource["meta"]["lastUpdated"]
    if name in ("date", "birthdate"):
        value = resource.get("birthDate") if name == "birthdate" else (
            resource.get("effectiveDateTime") or resource.get("effectiveInstant")
            or (resource.get("effectivePeriod") or {}).get("start"))
        if value is None:
            return None
        low, high = date_range(value)
        return high if descending else low
    return resource.get(name)


def run_case(rest: FhirRest, case: dict[str, Any]) -> str | None:
    kind = case["kind"]
    path, query = split_url(case["get"])
    if kind == "sort-order":
        response = rest.handle("GET", path, query, {}, b"", base=BASE)
        if response.status != 200:
            return f"HTTP {response.status}"
        name = case["query"].split("=", 1)[1]
        descending = name.startswith("-")
        values = [sort_value(e["resource"], name.lstrip("-"), descending) for e in response.body.get("entry", [])]
        present = [v for v in values if v is not None]
        if values[:len(present)] != present:
            return f"missing values are not last: {values}"
        if present != sorted(present, reverse=descending):
            return f"not ordered: {values}"
        return self_link_ok(response.body, path, case["query"])
    if kind == "summary-search":
        sizes = {}
        for flag in case["summaryFlags"]:
            response = rest.handle("GET", path, f"{query}&_summary={flag}", {}, b"", base=BASE)
            if response.status != 200 or response.body.get("total") != case["expectedTotal"]:
                return f"_summary={flag}: HTTP {response.status}, total {response.body.get('total')}"
            if flag == "count" and response.body.get("entry"):
                return "_summary=count returned entries"
            if f"_summary={flag}" not in unquote(response.body["link"][0]["url"]):
                return f"self link lacks _summary={flag}"
            sizes[flag] = len(json.dumps(response.body))
        if sizes and max(sizes, key=lambda f: sizes[f]) != "false" and sizes.get("false") != max(sizes.values()):
            return f"_summary=false is not the longest: {sizes}"
        return None
    problem = check_bundle(rest.handle("GET", path, query, {}, b"", base=BASE), case)
    if problem:
        return f"GET: {problem}"
    post = case.get("post")
    if post:
        post_path, _ = split_url(post["url"])
        form = encode_query(post["form"]) if post["form"] else ""
        problem = check_bundle(rest.handle("POST", post_path, "", FORM, form, base=BASE), case)
        if problem:
            return f"POST: {problem}"
    return None


@pytest.fixture(scope="module")
def candle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FhirRest, list[str]]]:
    repo = SqlRepository(f"sqlite:///{tmp_path_factory.mktemp('candle') / 'candle.sqlite3'}")
    rest = FhirRest(repo)
    failed = load_fixtures(rest)
    yield rest, failed
    repo.close()


def test_fixtures_load_as_candle_loads_them(candle: tuple[FhirRest, list[str]]) -> None:
    rest, failed = candle
    assert failed == ["Bundle-pas-test-claim-01.json"]  # a transaction whose entries have no request
    assert rest.repo.search(SearchQuery("Patient", total="accurate")).total == 6


def test_candle_search_score(candle: tuple[FhirRest, list[str]], report_score: Any,
                             capsys: pytest.CaptureFixture[str]) -> None:
    rest, _ = candle
    cases = [c for c in json.loads((SUITE / "search-cases.json").read_text())["cases"] if not c.get("auth")]
    failures = {}
    for case in cases:
        try:
            problem = run_case(rest, case)
        except Exception as exc:  # noqa: BLE001 - a crash is a failed case, reported with the others
            problem = f"crash: {type(exc).__name__}: {exc}"
        if problem:
            failures[case["id"]] = f"{case.get('get')}: {problem}"
    passed = len(cases) - len(failures)
    report_score("fhir-candle R4 search (non-SMART cases)", passed, len(cases))
    with capsys.disabled():
        for case_id, problem in sorted(failures.items()):
            note = " (known divergence: the server follows the spec)" if case_id in KNOWN_DIVERGENCES else ""
            print(f"  candle FAIL {case_id} {problem}{note}")
    assert passed >= FLOOR, f"{passed}/{len(cases)} passed (floor {FLOOR}); failures: {failures}"
