"""Server benchmark: prints JSON figures for the FHIR REST server as `fhir-service serve` runs it (gunicorn).

Figures, per database (SQLite file and/or PostgreSQL in a throw-away schema):
- fill: resources/s of the in-process bulk path (SqlRepository.atomic, 500 creates per database transaction),
  used to bring the store to each size; no HTTP (the server has no bulk API).
- throughput at the first size: requests/s and p50/p99 latency of reads (`GET Observation/<id>`) and searches
  (`GET Observation?patient=<id>`), at client concurrency 1, 4 and 16 (threads, one requests.Session each);
- ingest: resources/s of POSTed transaction Bundles of ~100 resources (whole case copies, urn:uuid references
  resolved by the server), at concurrency 1 and 4, at the first and at the last size;
- search latency at each size (1k / 10k / 100k stored resources): p50/p99 of a token search
  (`Observation?code=http://loinc.org|2276-4`, ferritin: matches grow with the store), a date search
  (`Observation?date=ge2022-01-01&date=lt2022-01-08`: a bounded number of matches) and a selective
  patient+code search, over HTTP and, beside it, in-process through the REST core (no HTTP, no gunicorn), with
  the number of matches of each query.
The data are copies of the case bundles in bundles/ with fresh ids (references rewritten) and dates shifted
by one day per copy, so every stored resource is a realistic, profile-shaped case resource.

Everything is bounded: each measurement stops after --seconds or a request cap, the server listens on
127.0.0.1 only and is stopped at the end, the SQLite file lives in a temporary folder and the PostgreSQL
schema is dropped. PostgreSQL is skipped (with the reason printed) when it does not answer.
Client threads and server workers share the same cores: figures at high concurrency are bounded by that.

Planner statistics: the store refreshes them itself (SqlRepository analyses as it grows, see rest/README,
search plans), so the figures show what a server gets after a bulk load through the repository; --analyze
additionally runs ANALYZE after each fill (an administrator's explicit one).

Usage: .venv/bin/python bench/server.py [--sizes 1000,10000,100000] [--seconds 3] [--db sqlite|postgres|both]
                                        [--analyze]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson
import requests

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PG_URL = os.environ.get("FHIR_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
FHIR_JSON = "application/fhir+json"
LOINC_FERRITIN = "http://loinc.org|2276-4"
TOKEN_QUERY = f"Observation?code={LOINC_FERRITIN}"
DATE_QUERY = "Observation?date=ge2022-01-01&date=lt2022-01-08"
GOAL_INGEST = 2000.0  # resources/s on this 2-core machine
GOAL_FLAT = 2.0  # search p50 at the largest size within 2x of the smallest
MAX_REQUESTS = 20000  # per measurement, whatever --seconds says
FILL_BATCH = 500

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DATE = re.compile(r'"(\d{4}-\d{2}-\d{2})')


def log(message: str) -> None:
    print(f"[bench/server] {message}", file=sys.stderr, flush=True)


# -- data: copies of the case bundles ----------------------------------------------------------------------------
@dataclass
class CaseTemplate:
    """One case bundle as JSON text, with the uuids of its entries and their resource types."""

    name: str
    text: str  # JSON array of the entries' resources, references as urn:uuid:<id>
    types: dict[str, str]  # old uuid -> resource type
    size: int


def load_templates() -> list[CaseTemplate]:
    templates = []
    for path in sorted((REPO / "bundles").glob("*.json")):
        bundle = orjson.loads(path.read_bytes())
        resources = [e["resource"] for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
        types = {}
        for entry in bundle.get("entry", []):
            full_url = entry.get("fullUrl", "")
            if full_url.startswith("urn:uuid:") and "resource" in entry:
                types[full_url[9:]] = entry["resource"]["resourceType"]
        templates.append(CaseTemplate(path.stem, orjson.dumps(resources).decode(), types, len(resources)))
    if not templates:
        sys.exit("bench/server.py: no case bundles in bundles/")
    return templates


def _shift_dates(text: str, days: int) -> str:
    if not days:
        return text

    def shift(match: re.Match[str]) -> str:
        try:
            return '"' + (date.fromisoformat(match.group(1)) + timedelta(days=days)).isoformat()
        except ValueError:
            return match.group(0)
    return _DATE.sub(shift, text)


def case_copy(template: CaseTemplate, copy_number: int, transaction: bool) -> list[dict[str, Any]]:
    """The template's resources with fresh ids and dates shifted by `copy_number` days. References become
    `urn:uuid:<new>` (for a transaction, which resolves them) or `Type/<new>` (for direct repository writes)."""
    mapping = {old: str(uuid.uuid4()) for old in template.types}
    text = template.text
    if not transaction:
        text = re.sub(r'"urn:uuid:(' + _UUID.pattern + r')"',
                      lambda m: f'"{template.types[m.group(1)]}/{mapping[m.group(1)]}"'
                      if m.group(1) in mapping else m.group(0), text)
    text = _UUID.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
    return orjson.loads(_shift_dates(text, copy_number))


class CaseStream:
    """Endless copies of the case bundles, numbered so that each copy's dates are shifted one day further."""

    def __init__(self, templates: list[CaseTemplate]) -> None:
        self.templates = templates
        self.copy_number = 0
        self.position = 0

    def next_case(self, transaction: bool) -> list[dict[str, Any]]:
        template = self.templates[self.position]
        self.position += 1
        if self.position == len(self.templates):
            self.position = 0
            self.copy_number += 1
        return case_copy(template, self.copy_number, transaction)


@dataclass
class Known:
    """Ids written so far, to pick read/search targets from."""

    observations: list[str] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)
    stored: int = 0

    def note(self, resources: list[dict[str, Any]]) -> None:
        for resource in resources:
            if resource["resourceType"] == "Observation":
                self.observations.append(resource["id"])
            elif resource["resourceType"] == "Patient":
                self.patients.append(resource["id"])
        self.stored += len(resources)


def transaction_bundles(stream: CaseStream, count: int, target: int) -> list[tuple[bytes, int]]:
    """`count` transaction Bundles of whole case copies (>= `target` entries each): (body, entries)."""
    bundles = []
    for _ in range(count):
        entries: list[dict[str, Any]] = []
        while len(entries) < target:
            for resource in stream.next_case(transaction=True):
                entries.append({"fullUrl": f"urn:uuid:{resource['id']}",
                                "resource": {k: v for k, v in resource.items() if k != "id"},
                                "request": {"method": "POST", "url": resource["resourceType"]}})
        bundles.append((orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}),
                        len(entries)))
    return bundles


# -- databases ---------------------------------------------------------------------------------------------------
@dataclass
class Database:
    name: str
    url: str
    cleanup: Callable[[], None]
    version: str


def sqlite_database(folder: Path) -> Database:
    path = folder / "bench.sqlite3"
    return Database("sqlite", f"sqlite:///{path}", lambda: None, sqlite3.sqlite_version)


def postgres_database() -> Database | str:
    """A fresh schema in the `test` database (search_path set through libpq options), or why not."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3}, isolation_level="AUTOCOMMIT")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with engine.connect() as conn:
            version = conn.execute(text("show server_version")).scalar_one()
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} not reachable: {type(exc).__name__}: {str(exc).splitlines()[0]}"

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
    return Database("postgres", f"{PG_URL}?options=-csearch_path%3D{schema}", drop, str(version))


# -- the server under test -------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`fhir-service serve --db URL` (gunicorn, gthread) on 127.0.0.1:<free port>, as a subprocess."""

    def __init__(self, db_url: str, workers: int, threads: int, folder: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/fhir"
        self.log_path = folder / f"serve-{self.port}.log"
        self.command = [sys.executable, "-m", "fhir_service.cli.main", "serve", "--host", "127.0.0.1",
                        "--port", str(self.port), "--db", db_url, "--workers", str(workers),
                        "--threads", str(threads)]
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Server":
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with open(self.log_path, "wb") as stderr:
            self.process = subprocess.Popen(self.command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                            stderr=stderr, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if requests.get(f"{self.base}/metadata", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"server did not answer within 120 s: {self.log_tail()}")

    def __exit__(self, *exc: Any) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the session we started: master + its workers
            self.process.wait(5)

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


# -- measurement ------------------------------------------------------------------------------------------------------
def summary(latencies: list[float], elapsed: float, errors: int, **extra: Any) -> dict[str, Any]:
    ordered = sorted(latencies)

    def pct(p: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)] * 1000, 2)
    return {**extra, "requests": len(ordered), "errors": errors,
            "per_s": round(len(ordered) / elapsed, 1) if elapsed else None, "p50_ms": pct(0.50),
            "p99_ms": pct(0.99)}


def load(base: str, paths: Callable[[random.Random], str], concurrency: int, seconds: float) -> dict[str, Any]:
    """GETs from `concurrency` threads (one Session each) for `seconds` or MAX_REQUESTS in total."""
    deadline = time.perf_counter() + seconds
    cap = max(1, MAX_REQUESTS // concurrency)

    def worker(seed: int) -> tuple[list[float], int]:
        rng, session, latencies, errors = random.Random(seed), requests.Session(), [], 0
        headers = {"Accept": FHIR_JSON}
        while time.perf_counter() < deadline and len(latencies) < cap:
            url = f"{base}/{paths(rng)}"
            start = time.perf_counter()
            response = session.get(url, headers=headers)
            latencies.append(time.perf_counter() - start)
            errors += response.status_code != 200
        session.close()
        return latencies, errors

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(worker, range(concurrency)))
    elapsed = time.perf_counter() - start
    return summary([x for lat, _ in results for x in lat], elapsed, sum(e for _, e in results),
                   concurrency=concurrency)


def ingest(base: str, stream: CaseStream, known: Known, concurrency: int, seconds: float,
           target: int) -> dict[str, Any]:
    """POST prebuilt transaction Bundles for `seconds` (at most the prebuilt ones: bounded)."""
    bundles = transaction_bundles(stream, max(concurrency * 2, int(seconds * 40)), target)
    lock, position = threading.Lock(), [0]
    deadline = time.perf_counter() + seconds

    def worker(_: int) -> tuple[list[float], int, int, list[dict[str, Any]]]:
        session, latencies, errors, stored, written = requests.Session(), [], 0, 0, []
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        while time.perf_counter() < deadline:
            with lock:
                if position[0] >= len(bundles):
                    break
                body, entries = bundles[position[0]]
                position[0] += 1
            start = time.perf_counter()
            response = session.post(base, data=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                errors += 1
                continue
            answer = response.json()
            stored += entries
            for entry in answer.get("entry", []):
                location = (entry.get("response") or {}).get("location", "")
                parts = location.split("/_history")[0].split("/")
                if len(parts) >= 2:
                    written.append({"resourceType": parts[-2], "id": parts[-1]})
        session.close()
        return latencies, errors, stored, written

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(worker, range(concurrency)))
    elapsed = time.perf_counter() - start
    stored = sum(r[2] for r in results)
    for result in results:
        known.note(result[3])
    figures = summary([x for r in results for x in r[0]], elapsed, sum(r[1] for r in results),
                      concurrency=concurrency)
    figures["entries_per_bundle"] = round(stored / max(1, len([x for r in results for x in r[0]])), 1)
    figures["resources_per_s"] = round(stored / elapsed, 1)
    figures["bundles_per_s"] = figures.pop("per_s")
    figures["p50_ms_per_bundle"] = figures.pop("p50_ms")
    figures["p99_ms_per_bundle"] = figures.pop("p99_ms")
    figures["bundles"] = figures.pop("requests")
    return figures


def fill(repo: Any, stream: CaseStream, known: Known, size: int) -> dict[str, Any]:
    """Bring the store to `size` resources through the repository (whole case copies, FILL_BATCH per
    database transaction)."""
    added, start = 0, time.perf_counter()
    while known.stored < size:
        batch: list[dict[str, Any]] = []
        while len(batch) < FILL_BATCH and known.stored + len(batch) < size:
            batch.extend(stream.next_case(transaction=False))
        repo.atomic(lambda s, batch=batch: [s.create(r, id=r["id"]) for r in batch])
        known.note(batch)
        added += len(batch)
    elapsed = time.perf_counter() - start
    return {"added": added, "seconds": round(elapsed, 1),
            "resources_per_s": round(added / elapsed, 1) if added and elapsed else None}


def analyze(repo: Any) -> float:
    """ANALYZE the store's own tables (planner statistics), as a deployment would after a bulk load; seconds."""
    start = time.perf_counter()
    names = ", ".join(t.name for t in repo.tables.metadata.sorted_tables)
    with repo.engine.connect() as conn:
        conn.exec_driver_sql(f"ANALYZE {names}" if repo.dialect == "postgresql" else "ANALYZE")
        conn.commit()
    return round(time.perf_counter() - start, 2)


def matches(base: str, query: str) -> int | None:
    response = requests.get(f"{base}/{query}&_summary=count", headers={"Accept": FHIR_JSON})
    return response.json().get("total") if response.status_code == 200 else None


def in_process(rest: Any, query: str, seconds: float) -> dict[str, Any]:
    """The same search through the REST core in this process: the store's share of the HTTP latency."""
    path, _, qs = query.partition("?")
    latencies, errors, deadline = [], 0, time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
        t0 = time.perf_counter()
        response = rest.handle("GET", f"/{path}", qs, {"Accept": FHIR_JSON}, b"", base="http://bench/fhir")
        latencies.append(time.perf_counter() - t0)
        errors += response.status != 200
    return summary(latencies, time.perf_counter() - start, errors)


def search_latency(server: Server, rest: Any, known: Known, seconds: float) -> dict[str, Any]:
    patient_code = lambda rng: f"Observation?patient={rng.choice(known.patients)}&code={LOINC_FERRITIN}"  # noqa: E731
    figures: dict[str, Any] = {}
    for name, query in (("token", TOKEN_QUERY), ("date", DATE_QUERY)):
        figures[name] = {"query": query, "matches": matches(server.base, query),
                         "http": load(server.base, lambda rng, q=query: q, 1, seconds),
                         "in_process": in_process(rest, query, seconds / 2)}
    figures["patient_code"] = {"query": "Observation?patient=<random patient>&code=" + LOINC_FERRITIN,
                               "http": load(server.base, patient_code, 1, seconds)}
    return figures


def warm_up(base: str, known: Known) -> None:
    """Every gunicorn worker thread opens its connections and compiles what it caches before timing."""
    load(base, lambda rng: f"Observation/{rng.choice(known.observations)}", 8, 1.0)
    load(base, lambda rng: f"{TOKEN_QUERY}&patient={rng.choice(known.patients)}", 8, 1.0)


def run_database(db: Database, args: argparse.Namespace, templates: list[CaseTemplate],
                 folder: Path) -> dict[str, Any]:
    from fhir_service.rest import FhirRest
    from fhir_service.store.sql_repository import SqlRepository

    result: dict[str, Any] = {"database": db.name, "version": db.version}
    repo = SqlRepository(db.url)  # creates the tables before the workers start (no create_all race)
    rest = FhirRest(repo)
    stream, known = CaseStream(templates), Known()
    sizes = sorted(args.sizes)
    try:
        result["fill"] = {}
        result["fill"][str(sizes[0])] = fill(repo, stream, known, sizes[0])
        if args.analyze:
            result["fill"][str(sizes[0])]["analyze_seconds"] = analyze(repo)
        log(f"{db.name}: filled to {known.stored}")
        with Server(db.url, args.workers, args.threads, folder) as server:
            result["server"] = {"command": "fhir-service serve --db URL --workers "
                                          f"{args.workers} --threads {args.threads} (gunicorn gthread)"}
            warm_up(server.base, known)
            throughput: dict[str, Any] = {"read": [], "search": []}
            for concurrency in args.concurrency:
                throughput["read"].append(load(server.base, lambda rng: f"Observation/{rng.choice(known.observations)}",
                                               concurrency, args.seconds))
                throughput["search"].append(load(server.base, lambda rng: f"Observation?patient={rng.choice(known.patients)}",
                                                 concurrency, args.seconds))
                log(f"{db.name}: c={concurrency} read {throughput['read'][-1]['per_s']}/s "
                    f"search {throughput['search'][-1]['per_s']}/s")
            result["throughput"] = {"stored": known.stored, "read_query": "Observation/<random id>",
                                    "search_query": "Observation?patient=<random patient>", **throughput}
            result["search_latency"] = {}
            stored_before = known.stored
            result["search_latency"][str(sizes[0])] = {"stored": known.stored,
                                                      **search_latency(server, rest, known, args.seconds)}
            result["ingest"] = {"first": {"stored_before": stored_before, "runs": [
                ingest(server.base, stream, known, c, args.seconds, args.batch) for c in (1, 4)]}}
            log(f"{db.name}: ingest {[r['resources_per_s'] for r in result['ingest']['first']['runs']]} res/s")
            for size in sizes[1:]:
                result["fill"][str(size)] = fill(repo, stream, known, size)
                if args.analyze:
                    result["fill"][str(size)]["analyze_seconds"] = analyze(repo)
                log(f"{db.name}: filled to {known.stored} ({result['fill'][str(size)]['resources_per_s']}/s)")
                result["search_latency"][str(size)] = {"stored": known.stored,
                                                      **search_latency(server, rest, known, args.seconds)}
                log(f"{db.name}: {size}: token p50 {result['search_latency'][str(size)]['token']['http']['p50_ms']} ms")
            if len(sizes) > 1:
                stored_before = known.stored
                result["ingest"]["last"] = {"stored_before": stored_before, "runs": [
                    ingest(server.base, stream, known, c, args.seconds, args.batch) for c in (1, 4)]}
        result["stored_at_end"] = known.stored
        result["goals"] = goals(result, sizes)
    finally:
        repo.close()
    return result


def goals(result: dict[str, Any], sizes: list[int]) -> dict[str, Any]:
    runs = [r for phase in result["ingest"].values() for r in phase["runs"]]
    best = max((r["resources_per_s"] for r in runs), default=0.0)
    verdict: dict[str, Any] = {"ingest_resources_per_s_best": best, "ingest_goal": GOAL_INGEST,
                               "ingest_met": best >= GOAL_INGEST}
    first, last = result["search_latency"][str(sizes[0])], result["search_latency"][str(sizes[-1])]
    for name in ("token", "date", "patient_code"):
        low, high = first[name]["http"]["p50_ms"], last[name]["http"]["p50_ms"]
        ratio = round(high / low, 2) if low and high else None
        verdict[f"{name}_p50_ratio_{sizes[-1]}_vs_{sizes[0]}"] = ratio
        verdict[f"{name}_flat_within_{GOAL_FLAT:g}x"] = ratio is not None and ratio <= GOAL_FLAT
    return verdict


def revision() -> dict[str, Any]:
    """The code measured: HEAD, and whether fhir_service/ had uncommitted changes (others work live)."""
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return out.stdout if out.returncode == 0 else ""
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "fhir_service").splitlines() if line]
    return {"head": git("rev-parse", "--short", "HEAD").strip(), "uncommitted_in_fhir_service": dirty}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
                        help="stored resources at which search latency is measured (default 1000,10000,100000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each measurement (default 3)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--concurrency", default="1,4,16", type=lambda s: [int(x) for x in s.split(",")],
                        help="client threads for the read/search throughput (default 1,4,16)")
    parser.add_argument("--batch", type=int, default=100, help="entries per transaction Bundle (default ~100)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, as `serve` (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker, as `serve` (default 4)")
    parser.add_argument("--analyze", action="store_true",
                        help="ANALYZE the tables after each fill (the server does not do it itself)")
    args = parser.parse_args(argv)
    if not args.sizes or min(args.sizes) <= 0 or min(args.concurrency) <= 0 or args.seconds <= 0:
        parser.error("sizes, concurrency and seconds must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    templates = load_templates()
    report: dict[str, Any] = {
        "benchmark": "bench/server.py",
        "revision": revision(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "data": {"case_bundles": {t.name: t.size for t in templates},
                 "copy": "case resources with fresh ids, references rewritten, dates +1 day per copy"},
        "settings": {"sizes": sorted(args.sizes), "seconds": args.seconds, "concurrency": args.concurrency,
                     "batch": args.batch, "analyze_after_fill": args.analyze},
        "results": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        folder = Path(tmp)
        if args.db in ("sqlite", "both"):
            db = sqlite_database(folder)
            report["results"]["sqlite"] = run_database(db, args, templates, folder)
        if args.db in ("postgres", "both"):
            pg = postgres_database()
            if isinstance(pg, str):
                log(f"postgres skipped: {pg}")
                report["results"]["postgres"] = {"skipped": pg}
            else:
                try:
                    report["results"]["postgres"] = run_database(pg, args, templates, folder)
                finally:
                    pg.cleanup()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
