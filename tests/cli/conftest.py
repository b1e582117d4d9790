"""Inputs for the `fhir-service validate` tests: small FHIR resources written to a temporary folder, and a tiny IG
(a Patient profile that requires birthDate, derived from the core Patient snapshot) for --ig / --profile."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from fhir_service.definitions import default_definitions

NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Jane Doe</div>'}
PROFILE_URL = "https://example.org/fhir/StructureDefinition/patient-with-birthdate"


def clean_patient(**extra: Any) -> dict[str, Any]:
    """A Patient with no issue at all (narrative present, so not even dom-6)."""
    return {"resourceType": "Patient", "id": "p1", "text": NARRATIVE, "birthDate": "1970-01-01", **extra}


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, Any], Path]:
    """write(name, content): a JSON value is dumped (indented), str/bytes are written as they are."""
    def _write(name: str, content: Any) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(json.dumps(content, indent=2), encoding="utf-8")
        return path
    return _write


@pytest.fixture(scope="session")
def ig_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FHIR package folder with one profile: Patient with birthDate 1..1."""
    core = default_definitions().structure_definition("Patient")
    assert core is not None
    profile = copy.deepcopy(core)
    profile.update({"url": PROFILE_URL, "id": "patient-with-birthdate", "name": "PatientWithBirthDate",
                    "derivation": "constraint", "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
                    "version": "0.1.0", "status": "draft"})
    profile.pop("text", None)
    for element in profile["snapshot"]["element"]:
        if element["path"] == "Patient.birthDate":
            element["min"] = 1
    profile["differential"] = {"element": [{"id": "Patient.birthDate", "path": "Patient.birthDate", "min": 1}]}
    folder = tmp_path_factory.mktemp("ig")
    (folder / "package.json").write_text(json.dumps({
        "name": "example.test.ig", "version": "0.1.0", "canonical": "https://example.org/fhir",
        "fhirVersions": ["4.0.1"], "dependencies": {"hl7.fhir.r4.core": "4.0.1"}}))
    (folder / "StructureDefinition-patient-with-birthdate.json").write_text(json.dumps(profile))
    return folder
