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

# case -> (the Condition, by its text, whose referrers the profiles reject; why the data stays as it is).
# Errors located in the resources that refer to that Condition (cart-3, and the reference's target-profile check)
# are the known conflict; any other error fails.
KNOWN_PROFILE_CONFLICTS: dict[str, tuple[str, str]] = {
    "004-case1-tisacel-emapalumab": (
        "Febrile hypotension",
        "tocilizumab on D+2 and from D+8 was given for 'febrile hypotension'; the report never calls it CRS, so the "
        "MedicationAdministration's reason is a 'febrile hypotension' Condition, not a CRS/ICANS/IEC-HS one "
        "(cart-toxicity-treatment: cart-3 and the reasonReference target profiles)",
    ),
}


def conflict_entries(name: str, bundle: dict) -> set[int]:
    """Entry indexes of the resources caught by the case's known profile conflict."""
    if name not in KNOWN_PROFILE_CONFLICTS:
        return set()
    text = KNOWN_PROFILE_CONFLICTS[name][0]
    targets = {e["fullUrl"] for e in bundle["entry"]
               if e["resource"]["resourceType"] == "Condition" and e["resource"]["code"].get("text", "").startswith(text)}
    assert targets, f"{name}: the conflicting Condition {text!r} is gone: drop the entry from KNOWN_PROFILE_CONFLICTS"
    return {i for i, e in enumerate(bundle["entry"])
            if any(r.get("reference") in targets for r in e["resource"].get("reasonReference", []))}


CASES = sorted(p.stem for p in BUNDLES.glob("*.json"))


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(rules=[clinical_issues])


@pytest.mark.parametrize("name", CASES)
def test_bundle_has_no_validation_error(name: str, bundles: dict, validator: Validator) -> None:
    issues = validator.validate(bundles[name])
    known = conflict_entries(name, bundles[name])
    unexpected = [f"{i.expression}: {i.diagnostics}" for i in issues
                  if i.is_error and not (len(i.location) > 1 and i.location[0] == "entry" and i.location[1] in known)]
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
