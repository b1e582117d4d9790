"""Shared constants and small builders for the authoring source of the `profiles/` FHIR package.

Why an authoring source: the package holds ~60 JSON resources whose canonical URLs, codes and invariants must
agree with each other. Writing them from Python keeps one definition of each URL and code, and lets the build
refuse any external code that is not a VERIFIED row of the terminology table.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "profiles"
#: Committed copy of the VERIFIED rows of shared/terminology/codes.csv (the only source of external codes).
VERIFIED_CODES = REPO / "tests" / "profiles" / "data" / "verified_codes.csv"

CANONICAL = "https://fhir.cart-tox.org"
VERSION = "0.1.0"
FHIR_VERSION = "4.0.1"
PUBLISHER = "CAR-T toxicity FHIR service project"
DATE = "2026-11-21"

SD = f"{CANONICAL}/StructureDefinition/"
VS = f"{CANONICAL}/ValueSet/"
CART_TOX = f"{CANONICAL}/CodeSystem/cart-tox"
CORE = "http://hl7.org/fhir/StructureDefinition/"

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"

# Extension URLs (naming.md).
EXT_RELATIVE_DAY = SD + "relative-day"
EXT_SOURCE_PUBLICATION = SD + "source-publication"
EXT_AGE_AT_INFUSION = SD + "age-at-infusion"
EXT_CAR_CONSTRUCT = SD + "car-construct"
EXT_TARGET_ANTIGEN = SD + "target-antigen"
EXT_GRADING_SYSTEM = SD + "grading-system"
EXT_DOSE_FREQUENCY = SD + "dose-frequency"

Resource = dict[str, Any]


@dataclass(frozen=True)
class Code:
    """One external code taken from the VERIFIED terminology rows."""

    system: str
    code: str
    display: str

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


class UnverifiedCode(Exception):
    """An authoring source asked for an external code that is not a VERIFIED row."""


class VerifiedCodes:
    """Lookup of VERIFIED rows by (system, code) or by concept key; anything else is refused."""

    def __init__(self, path: Path = VERIFIED_CODES) -> None:
        self.rows: list[dict[str, str]] = []
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["status"] == "VERIFIED" and row["code"]:
                    self.rows.append(row)
        self._by_code = {(r["system"], r["code"]): r for r in self.rows}

    def get(self, system: str, code: str) -> Code:
        row = self._by_code.get((system, code))
        if row is None:
            raise UnverifiedCode(f"{system}|{code} is not a VERIFIED row of codes.csv")
        return Code(system, code, row["display"])

    def concept(self, key: str, system: str | None = None) -> list[Code]:
        found = [Code(r["system"], r["code"], r["display"]) for r in self.rows
                 if r["concept"] == key and (system is None or r["system"] == system)]
        if not found:
            raise UnverifiedCode(f"no VERIFIED row for concept {key}")
        return found

    def prefix(self, prefix: str, system: str) -> list[Code]:
        """All VERIFIED codes of `system` whose concept key starts with `prefix` (e.g. `lab.`)."""
        return [Code(r["system"], r["code"], r["display"]) for r in self.rows
                if r["concept"].startswith(prefix) and r["system"] == system]


def header(resource_type: str, rid: str, name: str, title: str, description: str) -> Resource:
    """The common metadata of a canonical resource of this package."""
    kind = {"StructureDefinition": "StructureDefinition", "ValueSet": "ValueSet", "CodeSystem": "CodeSystem",
            "SearchParameter": "SearchParameter"}[resource_type]
    return {
        "resourceType": resource_type,
        "id": rid,
        "url": f"{CANONICAL}/{kind}/{rid}",
        "version": VERSION,
        "name": name,
        "title": title,
        "status": "draft",
        "experimental": False,
        "date": DATE,
        "publisher": PUBLISHER,
        "description": description,
    }
