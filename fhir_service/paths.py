"""Where the project's own data lives: `profiles/` (the FHIR package) and `bundles/` (the case data).

In a source checkout (and an editable install) they are the folders beside the package; a regular install ships
them as data files under `<prefix>/share/fhir-service/`. An environment variable overrides either
(`FHIR_SERVICE_PROFILES`, `FHIR_SERVICE_BUNDLES`). One lookup, so the validator, the server's preload and the
cases builder always agree on which copy they use.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
INSTALLED = Path(sys.prefix) / "share" / "fhir-service"


def project_dir(name: str) -> Path:
    """The folder `name` ("profiles" or "bundles"): the override, else the checkout's, else the installed copy."""
    override = os.environ.get(f"FHIR_SERVICE_{name.upper()}")
    if override:
        return Path(override)
    checkout = CHECKOUT / name
    if checkout.is_dir() or not (INSTALLED / name).is_dir():
        return checkout
    return INSTALLED / name


def profiles_dir() -> Path:
    return project_dir("profiles")


def bundles_dir() -> Path:
    return project_dir("bundles")
