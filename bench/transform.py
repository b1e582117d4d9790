"""Transform benchmark: prints JSON figures (resources/s) for each transform on the case bundles in bundles/.

Figures, per transform, over all case bundles (each run repeated for about --seconds):
- to-transaction, to-transaction --batch, redate, redate --fresh-ids, to-r5, to-r4 (of the R5 outputs), and
  the R4 -> R5 -> R4 round trip;
- beside them, as a peer in the same run: fhir.resources' R5 model_validate of the R5 outputs (the cost of
  only parsing what to-r5 produces);
- scaling: to-transaction and redate on a 5,000-entry Bundle made of fresh-id copies of the cases (median of
  5 runs; time per entry should stay near the small-bundle figure);
- load: seconds to POST one case's transaction twice through the REST core into a fresh SQLite file;
- push: resources/s of `push_bundle` (the client behind `fhir-service push`) sending every case bundle over
  HTTP on 127.0.0.1 to the real local server (Flask app on a fresh SQLite file), then again (nothing new).

Usage: .venv/bin/python bench/transform.py [--seconds 2]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fhir_service.transform import r5, redate, transaction  # noqa: E402
from fhir_service.transform.params import RedateParams, TransactionParams, VersionParams  # noqa: E402


def case_bundles() -> list[dict[str, Any]]:
    paths = sorted((REPO / "bundles").glob("*.json"))
    if not paths:
        sys.exit("no case bundles in bundles/")
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def resources(bundles: list[dict[str, Any]]) -> int:
    return sum(len(b.get("entry", [])) for b in bundles)


def rate(fn: Callable[[dict[str, Any]], Any], bundles: list[dict[str, Any]], seconds: float) -> dict[str, float]:
    count = resources(bundles)
    runs, start = 0, time.perf_counter()
    while True:
        for bundle in bundles:
            fn(bundle)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    return {"resources_per_s": round(runs * count / elapsed, 1), "runs": runs, "resources": count}


def big_bundle(bundles: list[dict[str, Any]], size: int) -> dict[str, Any]:
    timelines = [b for b in bundles if redate.infusion_date(b)[0] is not None]
    entries: list[dict[str, Any]] = []
    copy = 0
    while len(entries) < size:
        for bundle in timelines:
            day0 = redate.infusion_date(bundle)[0]
            params = RedateParams(day0, fresh_ids=True, seed=f"bench-{copy}")  # type: ignore[arg-type]
            entries.extend(redate.transform(bundle, params).bundle["entry"])  # type: ignore[index]
            copy += 1
    return {"resourceType": "Bundle", "type": "collection", "entry": entries[:size]}


def load_twice(bundle: dict[str, Any]) -> dict[str, float]:
    from fhir_service.rest import FhirRest
    from fhir_service.store.sql_repository import SqlRepository

    tx = json.dumps(transaction.transform(bundle).bundle).encode()
    with tempfile.TemporaryDirectory() as folder:
        repo = SqlRepository(f"sqlite:///{folder}/bench.sqlite3")
        rest = FhirRest(repo)
        times = []
        for _ in range(2):
            start = time.perf_counter()
            response = rest.handle("POST", "", "", {"Content-Type": "application/fhir+json"}, tx)
            times.append(time.perf_counter() - start)
            assert response.status == 200, response.body
        total = rest.handle("GET", "/Patient", "_summary=count", {}, b"").body["total"]
        repo.close()
    return {"first_s": round(times[0], 3), "second_s": round(times[1], 3), "patients_after_two_loads": total,
            "entries": len(bundle["entry"])}


def push_to_local_server(bundles: list[dict[str, Any]]) -> dict[str, Any]:
    import threading

    from werkzeug.serving import make_server

    from fhir_service.client import FhirClient
    from fhir_service.client.push import push_bundle
    from fhir_service.web.app import create_app

    with tempfile.TemporaryDirectory() as folder:
        server = make_server("127.0.0.1", 0, create_app(db_url=f"sqlite:///{folder}/push.sqlite3"), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        figures: dict[str, Any] = {}
        try:
            with FhirClient(f"http://127.0.0.1:{server.server_port}/fhir") as client:
                for run in ("first push", "second push (idempotent)"):
                    start = time.perf_counter()
                    reports = [push_bundle(client, bundle) for bundle in bundles]
                    elapsed = time.perf_counter() - start
                    figures[run] = {"resources_per_s": round(resources(bundles) / elapsed, 1),
                                    "seconds": round(elapsed, 3),
                                    "created": sum(r.created for r in reports),
                                    "failed_bundles": sum(1 for r in reports if r.error is not None)}
        finally:
            server.shutdown()
    return figures


def round_trip(bundle: dict[str, Any]) -> Any:
    return r5.to_r4(r5.to_r5(bundle).bundle, VersionParams())  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    bundles = case_bundles()
    timelines = [b for b in bundles if redate.infusion_date(b)[0] is not None]
    new_day0 = RedateParams(dt.date(2031, 1, 1))
    fresh = RedateParams(dt.date(2031, 1, 1), fresh_ids=True, seed="bench")
    r5_outputs = [r5.to_r5(b).bundle for b in bundles]
    figures: dict[str, Any] = {
        "to-transaction": rate(lambda b: transaction.transform(b), bundles, args.seconds),
        "to-transaction --batch": rate(lambda b: transaction.transform(b, TransactionParams(True)), bundles,
                                       args.seconds),
        "redate": rate(lambda b: redate.transform(b, new_day0), timelines, args.seconds),
        "redate --fresh-ids": rate(lambda b: redate.transform(b, fresh), timelines, args.seconds),
        "to-r5": rate(lambda b: r5.to_r5(b), bundles, args.seconds),
        "to-r4": rate(lambda b: r5.to_r4(b), r5_outputs, args.seconds),  # type: ignore[arg-type]
        "round trip r4->r5->r4": rate(round_trip, bundles, args.seconds),
        "peer: fhir.resources R5 model_validate of to-r5 output": rate(
            r5.validate_r5, r5_outputs, args.seconds),  # type: ignore[arg-type]
    }
    big = big_bundle(bundles, 5000)
    scaling = {}
    for name, fn in (("to-transaction", lambda b: transaction.transform(b)),
                     ("redate", lambda b: redate.transform(b, new_day0))):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fn(big)
            times.append(time.perf_counter() - start)
        elapsed = statistics.median(times)
        scaling[name] = {"entries": len(big["entry"]), "seconds": round(elapsed, 3),
                         "resources_per_s": round(len(big["entry"]) / elapsed, 1)}
    figures["scaling_5000_entries"] = scaling
    figures["load twice through the REST core (SQLite)"] = load_twice(
        next(b for b in bundles if b["identifier"]["value"] == "002-psca-cart-mcrpc"))
    figures["push to the local server over HTTP"] = push_to_local_server(bundles)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
