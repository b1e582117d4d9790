"""Every case Bundle validates against base R4 and the project profiles it claims (meta.profile), with the
project's validator; the clinical rules layer finds nothing to warn about.

Where a profile rejects report-faithful data, the data is not bent: the conflict is listed here with the reason,
and reported to the profiles owner. Any other error fails the test.
"""
from __future__ import annotations

import pytest

from fhir_service.validation import Validator
from fhir_service.validation.clinical import clinical_issues
from tests.cases.conftest import BUNDLES

# (case, invariant or rule) -> why the faithful data meets the profile's rule only by inventing something
KNOWN_PROFILE_CONFLICTS: dict[tuple[str, str], str] = {
    ("004-case1-tisacel-emapalumab", "cart-3"): (
        "tocilizumab on D+2 and from D+8 was given for 'febrile hypotension'; the report never calls it CRS, so the "
        "MedicationAdministration's reason is a 'febrile hypotension' Condition, not a CRS/ICANS/IEC-HS one"
    ),
}

CASES = sorted(p.stem for p in BUNDLES.glob("*.json"))


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(rules=[clinical_issues])


@pytest.mark.parametrize("name", CASES)
def test_bundle_has_no_validation_error(name: str, bundles: dict, validator: Validator) -> None:
    issues = validator.validate(bundles[name])
    unexpected = [f"{i.expression}: {i.diagnostics}" for i in issues
                  if i.is_error and (name, i.rule) not in KNOWN_PROFILE_CONFLICTS]
    assert unexpected == []
    assert not [i for i in issues if (i.rule or "").startswith("cart-clinical")]


def test_the_validator_really_checks_the_case_profiles(bundles: dict, validator: Validator) -> None:
    """A broken copy of a case fails: proof that the profiles are loaded and applied, not skipped."""
    broken = {**bundles["002-psca-cart-mcrpc"]}
    broken["entry"] = [dict(e) for e in broken["entry"]]
    for entry in broken["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            entry["resource"] = {k: v for k, v in resource.items() if k != "extension"}  # no source-publication
    messages = [i.diagnostics for i in validator.validate(broken) if i.is_error]
    assert any("sourcePublication" in m or "source-publication" in m for m in messages), messages
