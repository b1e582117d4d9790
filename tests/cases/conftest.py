"""Fixtures of the case tests: the committed bundles, and helpers to find facts in them by code and day."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "bundles"
RELATIVE_DAY = "https://fhir.cart-tox.org/StructureDefinition/relative-day"
CART_TOX = "https://fhir.cart-tox.org/CodeSystem/cart-tox"


@pytest.fixture(scope="session")
def bundles() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(BUNDLES.glob("*.json"))}


def resources(bundle: dict[str, Any], rtype: str | None = None) -> Iterator[dict[str, Any]]:
    for entry in bundle["entry"]:
        if rtype is None or entry["resource"]["resourceType"] == rtype:
            yield entry["resource"]


def relative_day(resource: dict[str, Any]) -> int | None:
    for ext in resource.get("extension", []):
        if ext["url"] == RELATIVE_DAY:
            return ext["valueInteger"]
    return None


def has_code(concept: dict[str, Any] | None, code: str) -> bool:
    return any(c.get("code") == code for c in (concept or {}).get("coding", []))


def observations(bundle: dict[str, Any], code: str, day: int | None | str = "any") -> list[dict[str, Any]]:
    """Observations coded `code`; with `day`, only those on that relative day (None: those without a day)."""
    found = [r for r in resources(bundle, "Observation") if has_code(r["code"], code)]
    return found if day == "any" else [r for r in found if relative_day(r) == day]


def quantity(obs: dict[str, Any]) -> tuple[Any, str, str | None]:
    q = obs["valueQuantity"]
    return q["value"], q["code"], q.get("comparator")


def administrations(bundle: dict[str, Any], code: str, day: int | None | str = "any") -> list[dict[str, Any]]:
    found = [r for r in resources(bundle, "MedicationAdministration") if has_code(r["medicationCodeableConcept"], code)]
    return found if day == "any" else [r for r in found if relative_day(r) == day]


def dose(admin: dict[str, Any]) -> tuple[Any, str]:
    dosage = admin["dosage"]
    q = dosage.get("dose") or dosage.get("rateQuantity")
    return q["value"], q["code"]


def conditions(bundle: dict[str, Any], code: str | None = None, text: str | None = None) -> list[dict[str, Any]]:
    return [r for r in resources(bundle, "Condition")
            if (code is None or has_code(r["code"], code)) and (text is None or text.lower() in r["code"].get("text", "").lower())]


def grade_on(bundle: dict[str, Any], toxicity_code: str, day: int) -> list[int]:
    return [o["valueInteger"] for o in observations(bundle, toxicity_code, day)]


def notes(resource: dict[str, Any]) -> str:
    return " ".join(n["text"] for n in resource.get("note", []))
