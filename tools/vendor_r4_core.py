"""Vendor the subset of hl7.fhir.r4.core 4.0.1 that the service needs into one zip file.

Why a zip: the full package unpacks to ~50 MB in ~4,600 files. A deflated zip keeps the repository small
and still allows random access by member name, so definitions load lazily (one member per canonical URL).

Usage: python tools/vendor_r4_core.py shared/fhir/hl7.fhir.r4.core.tgz fhir_service/data/hl7.fhir.r4.core.zip
"""
from __future__ import annotations

import json
import sys
import tarfile
import zipfile

KEEP = {"StructureDefinition", "ValueSet", "CodeSystem", "SearchParameter", "CompartmentDefinition"}


def vendor(tgz_path: str, zip_path: str) -> int:
    index: list[dict] = []
    with tarfile.open(tgz_path) as tar, zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        package_json = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            name = member.name.removeprefix("package/")
            if "/" in name or not name.endswith(".json") or name.startswith("."):
                continue
            resource = json.load(tar.extractfile(member))  # type: ignore[arg-type]
            if resource.get("resourceType") not in KEEP:
                continue
            resource.pop("text", None)  # narrative is not needed for validation and is half the size
            out.writestr(name, json.dumps(resource, separators=(",", ":"), ensure_ascii=False))
            entry = {"filename": name, "resourceType": resource["resourceType"], "id": resource.get("id")}
            for key in ("url", "version", "kind", "type", "derivation", "baseDefinition"):
                if key in resource:
                    entry[key] = resource[key]
            if resource["resourceType"] == "SearchParameter":
                entry["base"] = resource.get("base", [])
            index.append(entry)
        out.writestr("package.json", json.dumps(package_json, indent=1))
        out.writestr(".index.json", json.dumps({"index-version": 1, "files": index}, separators=(",", ":")))
    return len(index)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(f"vendored {vendor(sys.argv[1], sys.argv[2])} resources into {sys.argv[2]}")
